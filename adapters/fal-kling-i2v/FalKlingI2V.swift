import Foundation
import AdapterSDK

/// Kling 1.0 standard image-to-video on fal's queue (`fal-ai/kling-video/v1/standard/image-to-video`):
/// the first reference image becomes the video's first frame (`image_url`, a data URL), the plain
/// synthesized negative prompt goes to `negative_prompt`, and identity strength maps onto `cfg_scale`.
/// Queue conventions as in adapters/example-c: submit -> status polls -> COMPLETED -> result.
public enum FalKlingI2V: StudioAdapter {
    static let queueHost = "queue.fal.run"
    static let model = "fal-ai/kling-video/v1/standard/image-to-video"
    static let cfgKnob = AdapterManifest.Knob(
        name: "cfg_scale", minimum: 0, maximum: 1, defaultValue: 0.5,
        mapping: "linear: cfg_scale = identity strength clamped to 0...1 (0.5 = fal's default); higher follows the prompt and negative prompt, which carry the identity, more closely")
    static let maxURLLength = 4096

    public static let manifest = AdapterManifest(
        name: "fal-kling-i2v", version: "1.0.0", provider: "fal", model: model,
        summary: "Kling v1 standard image-to-video on fal's queue: reference 0 is the first frame (image_url), 5-second video, negative prompt, cfg_scale from identity strength",
        surface: .init(referenceFields: ["image_url"], maxReferences: 1,
                       negativePrompt: .init(supported: true), strengthKnobs: [cfgKnob], mode: "poll",
                       auth: .init(scheme: "key", credential: "FAL_KEY"),
                       allowedHosts: [queueHost, "fal.media", "v2.fal.media", "v3.fal.media", "v3b.fal.media"], outputs: ["video"]))

    struct Body: Encodable {
        var prompt: String
        var image_url: String
        var duration: String
        var negative_prompt: String?
        var cfg_scale: Double
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard let image = images.first else {
            throw AdapterError(code: "invalid_request", message: "Kling image-to-video needs a reference image for the first frame; none was given", retryable: false)
        }
        guard image.mimeType.lowercased().hasPrefix("image/"), !image.bytes.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "reference 0 is not an image (type '\(image.mimeType)', \(image.bytes.count) bytes)", retryable: false)
        }
        let prompt = r.prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "fal Kling image-to-video requires a prompt; it is empty", retryable: false)
        }
        let negative = r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines)
        let body = Body(prompt: prompt, image_url: image.dataURL, duration: "5",
                        negative_prompt: negative.isEmpty ? nil : negative,
                        cfg_scale: AdapterSupport.map(r.strictness.identityStrength, onto: cfgKnob))
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: "https://\(queueHost)/\(model)",
                                headers: ["Content-Type": "application/json"], jsonBody: AdapterJSON.encode(body))]
    }

    /// A fal error body's messages: `detail` as `[{loc, msg, type}]` (msgs joined) or as a string.
    static func detail(_ body: [UInt8]) -> String {
        guard let o = try? AdapterSupport.object(body, provider: "fal") else { return "\(body.count)-byte body" }
        if let s = o["detail"] as? String { return bounded(s) }
        if let list = o["detail"] as? [Any] {
            let msgs = list.compactMap { item -> String? in
                guard let d = item as? [String: Any], let msg = d["msg"] as? String else { return nil }
                let loc = (d["loc"] as? [Any])?.map { "\($0)" }.joined(separator: ".")
                return loc.map { "\($0): \(msg)" } ?? msg
            }
            if !msgs.isEmpty { return bounded(msgs.joined(separator: "; ")) }
        }
        return "\(body.count)-byte body"
    }

    static func bounded(_ s: String, _ n: Int = 400) -> String {
        let clean = String(s.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return clean.count <= n ? clean : String(clean.prefix(n)) + "…"
    }

    /// `s` when it is an https URL on fal's queue host (a hostile body cannot point polls elsewhere).
    static func queueURL(_ s: Any?) -> String? {
        guard let s = s as? String, s.count <= maxURLLength, let u = URLComponents(string: s),
              u.scheme == "https", u.host?.lowercased() == queueHost, !s.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else { return nil }
        return s
    }

    static func validId(_ s: Any?) -> String? {
        guard let s = s as? String, !s.isEmpty, s.count <= 128,
              s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        return s
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        guard (200..<300).contains(r.status) else {
            var e = AdapterSupport.httpError(r, detail: detail(body), provider: "fal")
            if (500...599).contains(r.status), r.headers["x-fal-retryable"]?.trimmingCharacters(in: .whitespaces).lowercased() == "false" {
                e.retryable = false
                e.message += " (fal: X-Fal-Retryable false)"
            }
            throw e
        }
        guard r.purpose == "submit" || r.purpose == "poll" else {
            throw AdapterError(code: "unsupported", message: "fal-kling-i2v plans no '\(r.purpose)' request", retryable: false)
        }
        let o = try AdapterSupport.object(body, provider: "fal")
        if r.purpose == "submit" {
            guard let id = validId(o["request_id"]), let status = queueURL(o["status_url"]) else {
                throw AdapterError(code: "malformed_response", message: "fal's submit answer lacks a usable request_id or a status_url on \(queueHost)", retryable: false)
            }
            return JobUpdate(state: "queued", pollURL: status, jobId: id)
        }
        if let status = o["status"] {
            guard let status = status as? String, let response = queueURL(o["response_url"]) else {
                throw AdapterError(code: "malformed_response", message: "fal's status answer lacks a status string or a response_url on \(queueHost)", retryable: false)
            }
            let jobId = validId(o["request_id"]) ?? validId(URL(string: response)?.lastPathComponent)
            let next = queueURL(o["status_url"]) ?? response + "/status"
            switch status {
            case "IN_QUEUE": return JobUpdate(state: "queued", pollURL: next, jobId: jobId)
            case "IN_PROGRESS": return JobUpdate(state: "running", pollURL: next, jobId: jobId)
            // The result is one more GET away: report running and poll the response URL.
            case "COMPLETED": return JobUpdate(state: "running", pollURL: response, jobId: jobId)
            default: throw AdapterError(code: "malformed_response", message: "fal queue status '\(bounded(status, 40))' is unknown", retryable: false)
            }
        }
        guard let video = o["video"] as? [String: Any], let url = video["url"] as? String else {
            throw AdapterError(code: "malformed_response", message: "fal's result has no video.url", retryable: false)
        }
        guard url.count <= maxURLLength, URLComponents(string: url)?.scheme == "https", URLComponents(string: url)?.host?.isEmpty == false,
              !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
            throw AdapterError(code: "malformed_response", message: "fal's video url is not a plain https URL", retryable: false)
        }
        return JobUpdate(state: "succeeded", outputs: [.init(url: url, kind: "video")])
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(FalKlingI2V.self, host: host) }
