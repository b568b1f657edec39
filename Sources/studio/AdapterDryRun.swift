import ArgumentParser
import Foundation
import StudioKit
import AdapterSDK
import StudioAdapterHost
import StudioRemote

/// `studio gen --backend <adapter> --dry-run`: the attempt-1 request an adapter builds for a character,
/// with the credential the host would add shown redacted; nothing is sent.
struct AdapterDryRun {
    let backend: String, character: String, prompt: String, negatives: [String], seed: UInt64, tenant: String, json: Bool
    var modelVersion: String? = nil

    func run() throws {
        let (loaded, _) = Adapters.loadAll()
        guard let adapter = loaded.first(where: { $0.manifest.name == backend }) else {
            throw BadInputError("unknown backend '\(backend)': 'local' or an adapter (found: \(loaded.map(\.manifest.name).joined(separator: ", ").nilIfEmpty ?? "none"))")
        }
        let (c, images) = try withStore { s -> (CharacterRecord, [AdapterImage]) in
            let c = try s.character(named: character, tenant: tenant)
            let bytes = try c.references.prefix(max(0, adapter.manifest.surface.maxReferences)).map { try s.image(sha256: $0.sha256) }
            return (c, AdapterRequests.images(bytes, maxReferences: adapter.manifest.surface.maxReferences))
        }
        let step = StrictnessLadder.standard.step(attempt: 1)
        let negative = NegativePrompt.synthesize(character: c, request: negatives, strictness: step.level, diagnosed: [])
        let request = AdapterRequests.make(character: c, prompt: prompt, negative: negative, strictness: step, seed: seed, referenceCount: images.count,
                                           modelVersion: modelVersion)
        let plans: [HTTPRequestPlan]
        do { plans = try adapter.buildRequest(request, images: images) } catch {
            throw BadInputError("\(backend): \(error)")
        }
        let auth = adapter.manifest.surface.auth
        let home = StudioPaths.fromEnvironment().home
        var secret: String? = nil
        do { secret = try Credentials.value(auth.credential, home: home) } catch { throw BadInputError("\(error)") }
        let (headerName, headerValue) = Credentials.authHeader(auth, secret: secret ?? "", issuer: ProcessInfo.processInfo.environment["KLING_ACCESS_KEY"])
        let secrets = [secret, headerValue.split(separator: " ").last.map(String.init)].compactMap { $0 }.filter { !$0.isEmpty }
        var lines: [String] = []
        var out: [[String: Any]] = []
        for p in plans {
            var headers = p.headers
            if p.authenticated {
                headers[headerName] = secret == nil ? "<missing: set \(auth.credential) or add it to \(Credentials.file(home: home))>"
                    : "\(headerValue.split(separator: " ").count > 1 ? String(headerValue.split(separator: " ")[0]) + " " : "")**** (from \(auth.credential))"
            }
            let body = p.jsonBody.map(Self.abbreviateDataURLs)
            lines.append("\(p.purpose): \(p.method) \(p.url)")
            for (k, v) in headers.sorted(by: { $0.key < $1.key }) { lines.append("  \(k): \(v)") }
            if let body { lines.append("  body: \(body)") }
            for part in p.multipart ?? [] {
                lines.append("  part \(part.name): " + (part.text ?? "<reference image \(part.imageIndex ?? 0), \(part.mimeType ?? "")>"))
            }
            out.append(["purpose": p.purpose, "method": p.method, "url": p.url, "headers": headers, "body": body ?? ""])
        }
        let version = modelVersion ?? adapter.manifest.modelVersion
        if let version { lines.append("model version: \(version) (\(modelVersion == nil ? "the adapter's pin" : "--model-version"))") }
        lines.append("(dry run: nothing was sent; \(images.count) reference image(s); negative prompt " +
                     (adapter.manifest.surface.negativePrompt.supported ? "sent" : "not supported by this surface: identity reinforced in the prompt instead") + ")")
        if json {
            var doc: [String: Any] = ["backend": backend, "dry_run": true, "plans": out]
            if let version { doc["model_version"] = version }
            print(Redaction.redact(try JSON.document(.dryRun, doc), secrets: secrets))
        } else {
            print(Redaction.redact(lines.joined(separator: "\n"), secrets: secrets))
        }
    }

    /// `data:<mime>;base64,<N bytes>` instead of the payload, so the request stays readable.
    static func abbreviateDataURLs(_ s: String) -> String {
        var out = "", rest = Substring(s)
        while let r = rest.range(of: ";base64,") {
            out += rest[..<r.upperBound]
            let tail = rest[r.upperBound...]
            let end = tail.firstIndex { !($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/" || $0 == "=") } ?? tail.endIndex
            out += "<\(tail.distance(from: tail.startIndex, to: end) * 3 / 4) bytes>"
            rest = tail[end...]
        }
        return out + rest
    }
}
