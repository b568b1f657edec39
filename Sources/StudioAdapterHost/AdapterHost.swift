import Foundation
import CStudioAdapter
import AdapterSDK
#if canImport(Glibc)
import Glibc
#endif

/// Why an adapter could not be loaded or used. Every case names the file.
public struct AdapterLoadError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable { case open, noEntry, refused, abiMismatch, tableTooSmall, badManifest, invalidManifest, badReply, crashed }
    public let kind: Kind
    public let path: String
    public let detail: String
    public var description: String { "\(path): \(detail)" }
}

/// An adapter loaded in this process through its C vtable.
public final class LoadedAdapter: @unchecked Sendable {
    public let path: String
    public let manifest: AdapterManifest
    /// Seconds `dlopen` + entry + manifest took.
    public let loadSeconds: Double
    private let table: UnsafePointer<studio_adapter_vtable_v1>

    /// dlopens `path`, calls `studio_adapter_v1` with this host's ABI version, checks the table's
    /// `abi_version` and `struct_size` before using anything else in it, then reads and validates the
    /// manifest.
    public init(path: String) throws(AdapterLoadError) {
        let t0 = Date()
        func fail(_ k: AdapterLoadError.Kind, _ d: String) -> AdapterLoadError { AdapterLoadError(kind: k, path: path, detail: d) }
        // Never unloaded: a Swift library registers its type metadata and conformances with the Swift
        // runtime when it is loaded, and the runtime keeps pointers into it. dlclose would leave them
        // dangling and crash a later dynamic cast (measured: SIGSEGV in swift_conformsToProtocol).
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw fail(.open, "cannot load: " + (dlerror().map { String(cString: $0) } ?? "dlopen failed"))
        }
        guard let sym = dlsym(h, "studio_adapter_v1") else {
            throw fail(.noEntry, "not a studio adapter: no studio_adapter_v1 symbol")
        }
        let entry = unsafeBitCast(sym, to: studio_adapter_entry_v1.self)
        let hostVersion = studio_adapter_abi_version()
        guard let table = entry(hostVersion) else {
            throw fail(.refused, "the adapter refused ABI version \(hostVersion)")
        }
        // Only the first two fields may be read before they are checked.
        let raw = UnsafeRawPointer(table)
        let abi = raw.load(as: UInt32.self), size = raw.load(fromByteOffset: 4, as: UInt32.self)
        guard abi == hostVersion else {
            throw fail(.abiMismatch, "built for adapter ABI \(abi); this studio speaks \(hostVersion): rebuild the adapter")
        }
        guard size >= studio_adapter_vtable_v1_size() else {
            throw fail(.tableTooSmall, "vtable is \(size) bytes, ABI \(hostVersion) needs \(studio_adapter_vtable_v1_size())")
        }
        self.table = table
        self.path = path
        guard let text = LoadedAdapter.take(table.pointee.manifest_json?(), table) else {
            throw fail(.badManifest, "manifest_json returned nothing")
        }
        do { self.manifest = try AdapterJSON.decode(AdapterManifest.self, text) } catch {
            throw fail(.badManifest, "manifest is not valid JSON for this ABI: \(error)")
        }
        let problems = ManifestValidator.problems(manifest)
        if !problems.isEmpty {
            throw fail(.invalidManifest, "invalid manifest: " + problems.joined(separator: "; "))
        }
        self.loadSeconds = Date().timeIntervalSince(t0)
    }

    /// Copies a string the adapter returned and frees it with the adapter's own `free_string`.
    static func take(_ p: UnsafeMutablePointer<CChar>?, _ table: UnsafePointer<studio_adapter_vtable_v1>) -> String? {
        guard let p else { return nil }
        let s = String(cString: p)
        table.pointee.free_string?(p)
        return s
    }

    /// The adapter's plans for one attempt (validated against the manifest's allowed hosts).
    public func buildRequest(_ request: AdapterRequest, images: [AdapterImage]) throws -> [HTTPRequestPlan] {
        let json = AdapterJSON.encode(request)
        let mimes = images.map { strdup($0.mimeType)! }
        defer { mimes.forEach { free($0) } }
        let reply: String? = images.withUnsafeBufferPointers { buffers in
            var c = [studio_image]()
            for (i, b) in buffers.enumerated() { c.append(studio_image(bytes: b.baseAddress, length: b.count, mime_type: UnsafePointer(mimes[i]))) }
            return c.withUnsafeBufferPointer { cb in
                LoadedAdapter.take(table.pointee.build_request?(json, cb.baseAddress, cb.count), table)
            }
        }
        guard let reply else { throw AdapterLoadError(kind: .badReply, path: path, detail: "build_request returned nothing") }
        let result: BuildResult
        do { result = try AdapterJSON.decode(BuildResult.self, reply) } catch {
            throw AdapterLoadError(kind: .badReply, path: path, detail: "build_request returned malformed JSON: \(error)")
        }
        if let e = result.error { throw e }
        let plans = result.plans ?? []
        for p in plans {
            if let problem = ManifestValidator.problem(plan: p, manifest: manifest) {
                throw AdapterLoadError(kind: .badReply, path: path, detail: problem)
            }
        }
        return plans
    }

    /// What a response means, per the adapter.
    public func parseResponse(_ response: AdapterResponse, body: [UInt8]) throws -> JobUpdate {
        let json = AdapterJSON.encode(response)
        let reply = body.withUnsafeBufferPointer { b in LoadedAdapter.take(table.pointee.parse_response?(json, b.baseAddress, b.count), table) }
        guard let reply else { throw AdapterLoadError(kind: .badReply, path: path, detail: "parse_response returned nothing") }
        let result: ParseResult
        do { result = try AdapterJSON.decode(ParseResult.self, reply) } catch {
            throw AdapterLoadError(kind: .badReply, path: path, detail: "parse_response returned malformed JSON: \(error)")
        }
        if let e = result.error { throw e }
        guard let u = result.update else { throw AdapterLoadError(kind: .badReply, path: path, detail: "parse_response returned neither update nor error") }
        return u
    }
}

extension Array where Element == AdapterImage {
    /// Calls `body` with a buffer over each image's bytes, all valid for the call.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeBufferPointer<UInt8>]) -> R) -> R {
        func step(_ i: Int, _ acc: [UnsafeBufferPointer<UInt8>]) -> R {
            if i == count { return body(acc) }
            return self[i].bytes.withUnsafeBufferPointer { step(i + 1, acc + [$0]) }
        }
        return step(0, [])
    }
}

/// The rules a manifest and the plans built from it must follow.
public enum ManifestValidator {
    public static let modes: Set<String> = ["sync", "poll", "webhook"]
    public static let authSchemes: Set<String> = ["bearer", "key", "header", "jwt-hs256"]
    public static let outputKinds: Set<String> = ["image", "video"]

    public static func problems(_ m: AdapterManifest) -> [String] {
        var out: [String] = []
        let nameOK = !m.name.isEmpty && m.name.count <= 64 && m.name.allSatisfy { ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "-" }
        if !nameOK { out.append("name '\(m.name)' must be 1-64 lower-case letters, digits or '-'") }
        if m.version.isEmpty { out.append("version is empty") }
        if m.provider.isEmpty || m.model.isEmpty { out.append("provider and model are required") }
        let s = m.surface
        if s.maxReferences < 0 || s.maxReferences > 16 { out.append("maxReferences \(s.maxReferences) outside 0...16") }
        if s.maxReferences > 0 && s.referenceFields.isEmpty { out.append("maxReferences > 0 but no referenceFields") }
        if !modes.contains(s.mode) { out.append("mode '\(s.mode)' is not one of \(modes.sorted())") }
        if !authSchemes.contains(s.auth.scheme) { out.append("auth scheme '\(s.auth.scheme)' is not one of \(authSchemes.sorted())") }
        if s.auth.scheme == "header" && (s.auth.header ?? "").isEmpty { out.append("auth scheme 'header' needs a header name") }
        if s.auth.credential.isEmpty || !s.auth.credential.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) {
            out.append("auth credential '\(s.auth.credential)' must be an environment-variable name (A-Z, 0-9, _)")
        }
        if s.allowedHosts.isEmpty { out.append("allowedHosts is empty") }
        for h in s.allowedHosts where h.isEmpty || h.contains("/") || h.contains(":") || h.contains("*") {
            out.append("allowed host '\(h)' must be a bare host name")
        }
        if s.outputs.isEmpty || !Set(s.outputs).isSubset(of: outputKinds) { out.append("outputs \(s.outputs) must be image and/or video") }
        if !["plain", "parenthesized"].contains(s.negativePrompt.weighting) { out.append("negative prompt weighting '\(s.negativePrompt.weighting)' is not plain or parenthesized") }
        for k in s.strengthKnobs {
            if !(k.minimum < k.maximum) || !(k.minimum...k.maximum).contains(k.defaultValue) {
                out.append("knob \(k.name): needs minimum < maximum and the default inside")
            }
        }
        return out
    }

    /// Why a plan may not be sent (nil: it may): https only, to an allowed host, no credential-looking header.
    public static func problem(plan p: HTTPRequestPlan, manifest m: AdapterManifest) -> String? {
        guard let u = URLComponents(string: p.url), u.scheme == "https", let host = u.host, !host.isEmpty else {
            return "plan '\(p.purpose)' has URL \(p.url): only https URLs are allowed"
        }
        guard m.surface.allowedHosts.contains(host.lowercased()) else {
            return "plan '\(p.purpose)' targets \(host), not one of the manifest's allowed hosts \(m.surface.allowedHosts)"
        }
        for k in p.headers.keys where ["authorization", "x-api-key", "api-key", "cookie"].contains(k.lowercased()) {
            return "plan '\(p.purpose)' sets \(k) itself: credentials are the host's to add"
        }
        return nil
    }
}

/// Where adapters are looked for, in order: `STUDIO_ADAPTER_PATH` (colon-separated), `$STUDIO_HOME/adapters`,
/// and the directory of the running `studio` (the package's built adapters).
public enum AdapterDiscovery {
    public static func searchPath(environment: [String: String] = ProcessInfo.processInfo.environment, home: String,
                                  executableDirectory: String?) -> [String] {
        var dirs = (environment["STUDIO_ADAPTER_PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        dirs.append(home + "/adapters")
        if let e = executableDirectory { dirs.append(e) }
        return dirs
    }

    /// `lib<Name>Adapter.so` files in the directories (first occurrence of a file name wins).
    public static func candidates(in dirs: [String]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for d in dirs {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: d) else { continue }
            for n in names.sorted() where n.hasPrefix("lib") && (n.hasSuffix("Adapter.so") || n.hasSuffix("Adapter.dylib")) && !seen.contains(n) {
                seen.insert(n); out.append(d + "/" + n)
            }
        }
        return out
    }
}
