import Foundation
import AdapterSDK

/// Runway gen4_image (`POST /v1/text_to_image`): up to three reference images, each with a tag the
/// prompt must mention as `@tag`; no negative prompt and no reference-strength field. The adapter
/// therefore reinforces identity in the prompt itself, from the character's attribute labels, and
/// polls the task at `/v1/tasks/{id}`.
public enum RunwayGen4: StudioAdapter {
    static let api = "https://api.dev.runwayml.com"
    static let apiVersion = "2024-11-06"
    /// promptText's limit, in UTF-16 code units (JavaScript's string length), not Swift characters.
    static let maxPromptLength = 1000
    /// The largest data URI Runway takes for a reference (its inputs page: "under 5 MB").
    static let maxDataURIBytes = 5_000_000
    static let maxReferences = 3
    /// The ratios gen4_image accepts (width:height).
    static let ratios: [(w: Int, h: Int)] = [(1920, 1080), (1080, 1920), (1024, 1024), (1360, 768), (1080, 1080), (1168, 880),
                                             (1440, 1080), (1080, 1440), (1808, 768), (2112, 912)]

    public static let manifest = AdapterManifest(
        name: "runway-gen4", version: "1.0.0", provider: "runway", model: "gen4_image",
        summary: "Runway gen4_image: up to 3 tagged references mentioned as @ref1.. in the prompt; no negative prompt, no strength knob (identity reinforced in the prompt)",
        surface: .init(referenceFields: ["referenceImages"], maxReferences: maxReferences,
                       negativePrompt: .init(supported: false), strengthKnobs: [], mode: "poll",
                       auth: .init(scheme: "bearer", credential: "RUNWAYML_API_SECRET"),
                       allowedHosts: ["api.dev.runwayml.com", "dnznrvs05pmza.cloudfront.net"], outputs: ["image"],
                       promptTrigger: "@ref1"))

    struct Reference: Encodable { var uri: String; var tag: String }
    struct Body: Encodable {
        var model: String
        var promptText: String
        var ratio: String
        var referenceImages: [Reference]
        var seed: UInt64
    }

    /// The allowed ratio nearest to width:height: closest aspect ratio (in log space, so 2:1 and 1:2
    /// are equally far from 1:1), then closest pixel count, then the list's order.
    static func ratio(width: Int, height: Int) -> String {
        let w = Double(max(1, width)), h = Double(max(1, height))
        let aspect = log(w / h), pixels = w * h
        let best = ratios.min { a, b in
            let da = abs(log(Double(a.w) / Double(a.h)) - aspect), db = abs(log(Double(b.w) / Double(b.h)) - aspect)
            if abs(da - db) > 1e-9 { return da < db }
            return abs(Double(a.w * a.h) - pixels) < abs(Double(b.w * b.h) - pixels)
        }!
        return "\(best.w):\(best.h)"
    }

    /// The user's prompt with every tag mentioned: if `@ref1` is missing and the character's name
    /// occurs as a whole word (case-insensitive), its first occurrence becomes `@ref1`; tags still
    /// missing are prepended as "@ref2 @ref3: ". Nothing else of the prompt changes.
    static func mentioningPrompt(_ prompt: String, name: String, tags: [String]) -> String {
        var text = prompt
        if let first = tags.first, !PromptTags.mentions(text, tag: first), !name.isEmpty,
           let r = wholeWord(name, in: text) {
            text.replaceSubrange(r, with: "@" + first)
        }
        let missing = tags.filter { !PromptTags.mentions(text, tag: $0) }
        return missing.isEmpty ? text : missing.map { "@" + $0 }.joined(separator: " ") + ": " + text
    }

    static func wholeWord(_ word: String, in text: String) -> Range<String.Index>? {
        var start = text.startIndex
        while let r = text.range(of: word, options: .caseInsensitive, range: start..<text.endIndex) {
            let before = r.lowerBound == text.startIndex ? nil : text[text.index(before: r.lowerBound)]
            let after = r.upperBound == text.endIndex ? nil : text[r.upperBound]
            let isWord: (Character?) -> Bool = { c in c.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "@" } ?? false }
            if !isWord(before) && !isWord(after) { return r }
            start = r.upperBound
        }
        return nil
    }

    /// Attribute labels as short phrases: eye_colour "brown" -> "brown eyes", hair_colour -> "... hair",
    /// skin_tone -> "... skin"; other labels as "<value> <key words>"; numeric values (ratios) skipped,
    /// since a number means nothing to a text prompt. Eyes, hair, skin first, then the rest by key.
    static func attributePhrases(_ attributes: [String: String]) -> [String] {
        let known = [("eye_colour", "eyes"), ("hair_colour", "hair"), ("skin_tone", "skin")]
        var out: [String] = []
        for (key, noun) in known {
            if let v = attributes[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty, Double(v) == nil { out.append("\(v) \(noun)") }
        }
        for key in attributes.keys.sorted() where !known.contains(where: { $0.0 == key }) {
            let v = attributes[key]!.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !v.isEmpty, Double(v) == nil else { continue }
            out.append("\(v) \(key.replacingOccurrences(of: "_", with: " "))")
        }
        return out
    }

    /// The identity reinforcement, most important phrase first: level 0 "same person as @ref1";
    /// level 1 adds up to 3 attribute phrases; level >= 2 adds "identical face" and every phrase.
    static func reinforcement(level: Int, attributes: [String: String]) -> [String] {
        let phrases = attributePhrases(attributes)
        switch level {
        case ..<1: return ["same person as @ref1"]
        case 1: return ["same person as @ref1"] + phrases.prefix(3)
        default: return ["same person as @ref1", "identical face"] + phrases
        }
    }

    /// The prompt text: the mentioning prompt, then as many reinforcement phrases as fit in 1000
    /// UTF-16 code units (whole phrases, in order), joined with ", " (or " " after a sentence end).
    static func promptText(_ r: AdapterRequest, tags: [String]) throws(AdapterError) -> String {
        let head = mentioningPrompt(r.prompt.trimmingCharacters(in: .whitespacesAndNewlines), name: r.character.name, tags: tags)
        guard head.utf16.count <= maxPromptLength else {
            throw AdapterError(code: "invalid_request",
                               message: "the prompt is \(head.utf16.count) UTF-16 code units with its @ref mentions; Runway gen4 takes at most \(maxPromptLength)",
                               retryable: false)
        }
        let phrases = reinforcement(level: r.strictness.level, attributes: r.character.attributes)
        var text = head
        for (i, p) in phrases.enumerated() {
            let sentenceEnd = text.last.map { ".!?".contains($0) } ?? true
            var phrase = p
            if i == 0 && sentenceEnd && !text.isEmpty { phrase = phrase.prefix(1).uppercased() + phrase.dropFirst() }
            let piece = text.isEmpty ? phrase : (i == 0 ? (sentenceEnd ? " " : ", ") : ", ") + phrase
            guard text.utf16.count + piece.utf16.count <= maxPromptLength else { break }
            text += piece
        }
        return text
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard !images.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "gen4_image needs at least one reference image; none was given", retryable: false)
        }
        // gen4_image takes at most 3: the first three (the host orders references best first).
        let images = Array(images.prefix(maxReferences))
        let tags = images.indices.map { "ref\($0 + 1)" }
        for (i, image) in images.enumerated() where image.dataURL.utf8.count >= maxDataURIBytes {
            throw AdapterError(code: "invalid_request",
                               message: "reference \(i) is \(image.dataURL.utf8.count) bytes as a data URI; Runway takes data URIs under \(maxDataURIBytes) bytes (send a smaller image)",
                               retryable: false)
        }
        let body = Body(model: "gen4_image", promptText: try promptText(r, tags: tags), ratio: ratio(width: r.width, height: r.height),
                        referenceImages: zip(images, tags).map { Reference(uri: $0.dataURL, tag: $1) },
                        seed: r.seed % 4_294_967_296)
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: api + "/v1/text_to_image",
                                headers: ["Content-Type": "application/json", "X-Runway-Version": apiVersion],
                                jsonBody: AdapterJSON.encode(body))]
    }

    /// Submit answers `{id}` (queued; poll `/v1/tasks/{id}`); a poll answers the task.
    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        guard (200..<300).contains(r.status) else {
            let o = try? AdapterSupport.object(body, provider: "Runway")
            let detail = (o?["error"] as? String) ?? (o?["message"] as? String) ?? "\(body.count)-byte body"
            throw AdapterSupport.httpError(r, detail: detail, provider: "Runway")
        }
        let o = try AdapterSupport.object(body, provider: "Runway")
        guard let id = o["id"] as? String, !id.isEmpty,
              id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw AdapterError(code: "malformed_response", message: "Runway answered without a usable task id", retryable: false)
        }
        let poll = api + "/v1/tasks/" + id
        // Runway cancels a running task (and deletes a finished one) with `DELETE /v1/tasks/{id}`.
        let cancel = HTTPRequestPlan(purpose: "cancel", method: "DELETE", url: poll)
        guard let status = o["status"] as? String else {
            if r.purpose == "submit" { return JobUpdate(state: "queued", pollURL: poll, jobId: id, cancel: cancel) }
            throw AdapterError(code: "malformed_response", message: "Runway task \(id) without a status", retryable: false)
        }
        switch status {
        case "PENDING", "THROTTLED": return JobUpdate(state: "queued", pollURL: poll, jobId: id, cancel: cancel)
        case "RUNNING": return JobUpdate(state: "running", pollURL: poll, jobId: id, cancel: cancel)
        case "SUCCEEDED":
            let urls = (o["output"] as? [String]) ?? []
            guard !urls.isEmpty else {
                throw AdapterError(code: "malformed_response", message: "Runway task \(id) succeeded without output", retryable: false)
            }
            return JobUpdate(state: "succeeded", outputs: urls.map { .init(url: $0, kind: "image") }, jobId: id)
        case "FAILED", "CANCELLED":
            let code = (o["failureCode"] as? String) ?? ""
            let message = (o["failure"] as? String) ?? status.lowercased()
            let detail = code.isEmpty ? message : "\(message) (\(code))"
            if code.uppercased().hasPrefix("SAFETY") {
                // Runway: do not retry these generations; the same inputs are rejected again.
                throw AdapterError(code: "content_filtered", message: "Runway moderation rejected task \(id): \(detail)", retryable: false)
            }
            if status == "CANCELLED" {
                throw AdapterError(code: "server", message: "Runway task \(id) was cancelled: \(detail)", retryable: false)
            }
            throw AdapterError(code: "server", message: "Runway task \(id) failed: \(detail)", retryable: true)
        default:
            throw AdapterError(code: "malformed_response", message: "Runway task status '\(status)' is unknown", retryable: false)
        }
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(RunwayGen4.self, host: host) }
