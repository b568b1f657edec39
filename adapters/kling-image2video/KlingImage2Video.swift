import Foundation
import AdapterSDK

/// Kling's official image-to-video API (`POST /v1/videos/image2video`, model `kling-v1`, mode std,
/// 5 seconds): reference 0 as raw base64 in `image`, the plain negative prompt (cut to 2500
/// characters at a fragment boundary), identity strength on `cfg_scale`. The host signs the JWT
/// (auth scheme `jwt-hs256`); the adapter only marks its plans authenticated.
public enum KlingImage2Video: StudioAdapter {
    static let host = "api-singapore.klingai.com"
    static let api = "https://" + host
    static let path = "/v1/videos/image2video"
    static let maxTextLength = 2500
    /// Kling's documented limit for `image` (10 MB).
    static let maxImageBytes = 10 * 1024 * 1024
    static let acceptedTypes: Set<String> = ["image/png", "image/jpeg", "image/jpg"]
    static let maxURLLength = 4096
    static let cfgKnob = AdapterManifest.Knob(
        name: "cfg_scale", minimum: 0, maximum: 1, defaultValue: 0.5,
        mapping: "linear: cfg_scale = identity strength clamped to 0...1; higher follows the prompt and negative prompt, which carry the identity, more closely")

    public static let manifest = AdapterManifest(
        name: "kling-image2video", version: "1.0.0", provider: "kling", model: "kling-v1",
        summary: "Kling official image2video (kling-v1, std, 5 s): reference 0 as raw base64 first frame, negative prompt <= 2500 chars, cfg_scale from identity strength; JWT signed by the host",
        surface: .init(referenceFields: ["image"], maxReferences: 1,
                       negativePrompt: .init(supported: true, maxLength: maxTextLength), strengthKnobs: [cfgKnob], mode: "poll",
                       auth: .init(scheme: "jwt-hs256", credential: "KLING_SECRET_KEY"),
                       allowedHosts: [host, "cdn.klingai.com", "v15-kling.klingai.com"], outputs: ["video"]))

    struct Body: Encodable {
        var model_name: String
        var image: String
        var prompt: String
        var negative_prompt: String?
        var cfg_scale: Double
        var mode: String
        var duration: String
    }

    /// The leading comma-separated fragments of `text` that fit in `limit` characters, joined with
    /// ", " (a fragment is never cut in the middle; one longer than the limit ends the list).
    static func truncatedAtFragment(_ text: String, limit: Int) -> String {
        var out = ""
        for fragment in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !fragment.isEmpty {
            let next = out.isEmpty ? fragment : out + ", " + fragment
            guard next.count <= limit else { break }
            out = next
        }
        return out
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard let image = images.first else {
            throw AdapterError(code: "invalid_request", message: "Kling image2video needs a reference image for the first frame; none was given", retryable: false)
        }
        guard acceptedTypes.contains(image.mimeType.lowercased()), !image.bytes.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "Kling image2video takes JPEG or PNG; reference 0 is '\(image.mimeType)' (\(image.bytes.count) bytes)", retryable: false)
        }
        guard image.bytes.count <= maxImageBytes else {
            throw AdapterError(code: "invalid_request", message: "reference 0 is \(image.bytes.count) bytes; Kling takes at most \(maxImageBytes)", retryable: false)
        }
        let prompt = r.prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "Kling image2video is given an empty prompt", retryable: false)
        }
        guard prompt.count <= maxTextLength else {
            throw AdapterError(code: "invalid_request", message: "the prompt is \(prompt.count) characters; Kling takes at most \(maxTextLength) (the prompt is never cut)", retryable: false)
        }
        let negative = truncatedAtFragment(r.negativePrompt, limit: maxTextLength)
        let body = Body(model_name: "kling-v1", image: Data(image.bytes).base64EncodedString(), prompt: prompt,
                        negative_prompt: negative.isEmpty ? nil : negative,
                        cfg_scale: AdapterSupport.map(r.strictness.identityStrength, onto: cfgKnob), mode: "std", duration: "5")
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: api + path,
                                headers: ["Content-Type": "application/json"], jsonBody: AdapterJSON.encode(body))]
    }

    static func bounded(_ s: String, _ n: Int = 300) -> String {
        let clean = String(s.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return clean.count <= n ? clean : String(clean.prefix(n)) + "…"
    }

    /// A task id safe to put in a URL path: ASCII letters, digits, '-' and '_', 1...128 characters.
    static func validTaskId(_ s: Any?) -> String? {
        guard let s = s as? String, !s.isEmpty, s.count <= 128,
              s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        return s
    }

    /// An integer JSON number (not a fraction).
    static func integer(_ v: Any?) -> Int? {
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// The typed error for Kling's business `code` (nil: a code this adapter does not know).
    static func error(code: Int, status: Int, detail: String, retryAfter: Double?) -> AdapterError? {
        let what = "Kling code \(code) (HTTP \(status)): \(detail)"
        switch code {
        case 1004: return AdapterError(code: "auth", message: "\(what); the token expired, the host signs a fresh one", retryable: true)
        case 1000...1003: return AdapterError(code: "auth", message: "Kling refused the credentials: \(what)", retryable: false)
        case 1100...1102: return AdapterError(code: "auth", message: "Kling account problem (arrears, no resource package or account suspended): \(what)", retryable: false)
        case 1103: return AdapterError(code: "auth", message: "Kling says this account may not use the resource: \(what)", retryable: false)
        case 1200...1201: return AdapterError(code: "invalid_request", message: "Kling rejected the request: \(what)", retryable: false)
        case 1202: return AdapterError(code: "invalid_request", message: "Kling says the request method is invalid: \(what)", retryable: false)
        case 1203: return AdapterError(code: "invalid_request", message: "Kling says the requested resource (model or task) does not exist: \(what)", retryable: false)
        case 1304: return AdapterError(code: "auth", message: "Kling's IP allow-list refused this machine's address (add it in the Kling console): \(what)", retryable: false)
        case 1300...1301: return AdapterError(code: "content_filtered", message: "Kling's content policy refused it: \(what)", retryable: false)
        case 1302: return AdapterError(code: "rate_limited", message: "Kling is rate limiting: \(what)", retryable: true, retryAfterSeconds: retryAfter)
        case 1303: return AdapterError(code: "rate_limited", message: "Kling's concurrency limit is reached: \(what)", retryable: true, retryAfterSeconds: retryAfter)
        case 5000...5002: return AdapterError(code: "server", message: "Kling failed: \(what)", retryable: true, retryAfterSeconds: retryAfter)
        default: return nil
        }
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        let envelope = try? AdapterSupport.object(body, provider: "Kling")
        let code = integer(envelope?["code"])
        let ok = (200..<300).contains(r.status)
        if !ok || (code ?? 0) != 0 {
            let message = (envelope?["message"] as? String).map { bounded($0) } ?? "\(body.count)-byte body"
            let requestId = (envelope?["request_id"] as? String).map { " [request_id \(bounded($0, 80))]" } ?? ""
            let retryAfter = r.headers["retry-after"].flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            if let code, code != 0, let e = error(code: code, status: r.status, detail: message + requestId, retryAfter: retryAfter) { throw e }
            if !ok { throw AdapterSupport.httpError(r, detail: (code.map { "code \($0): " } ?? "") + message + requestId, provider: "Kling") }
            throw AdapterError(code: "server", message: "Kling answered HTTP \(r.status) with unknown code \(code ?? 0): \(message)\(requestId)", retryable: false)
        }
        guard r.purpose == "submit" || r.purpose == "poll" else {
            throw AdapterError(code: "unsupported", message: "kling-image2video plans no '\(r.purpose)' request", retryable: false)
        }
        guard let envelope, code == 0 else {
            throw AdapterError(code: "malformed_response", message: "Kling answered \(r.status) without a JSON envelope with code 0 (\(body.count) bytes)", retryable: false)
        }
        guard let data = envelope["data"] as? [String: Any], let id = validTaskId(data["task_id"]) else {
            throw AdapterError(code: "malformed_response", message: "Kling's answer has no usable data.task_id (letters, digits, '-', '_')", retryable: false)
        }
        let poll = api + path + "/" + id
        guard let status = data["task_status"] as? String else {
            throw AdapterError(code: "malformed_response", message: "Kling task \(id) has no task_status", retryable: false)
        }
        switch status {
        case "submitted": return JobUpdate(state: "queued", pollURL: poll, jobId: id)
        case "processing": return JobUpdate(state: "running", pollURL: poll, jobId: id)
        case "succeed":
            let videos = ((data["task_result"] as? [String: Any])?["videos"] as? [Any]) ?? []
            let urls = videos.compactMap { ($0 as? [String: Any])?["url"] as? String }
            guard !urls.isEmpty else {
                throw AdapterError(code: "malformed_response", message: "Kling task \(id) succeeded without task_result.videos[].url", retryable: false)
            }
            for u in urls {
                guard u.count <= maxURLLength, let c = URLComponents(string: u), c.scheme == "https", c.host?.isEmpty == false,
                      !u.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
                    throw AdapterError(code: "malformed_response", message: "Kling task \(id) returned a video url that is not a plain https URL", retryable: false)
                }
            }
            return JobUpdate(state: "succeeded", outputs: urls.map { .init(url: $0, kind: "video") }, jobId: id)
        case "failed":
            let msg = bounded((data["task_status_msg"] as? String) ?? "no reason given")
            let lower = msg.lowercased()
            // Heuristic (not documented): Kling words moderation failures as risk control / sensitive content.
            if lower.contains("risk") || lower.contains("sensitive") || lower.contains("policy") {
                throw AdapterError(code: "content_filtered", message: "Kling task \(id) failed moderation: \(msg)", retryable: false)
            }
            throw AdapterError(code: "server", message: "Kling task \(id) failed: \(msg)", retryable: true)
        default:
            throw AdapterError(code: "malformed_response", message: "Kling task status '\(bounded(status, 40))' is unknown", retryable: false)
        }
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(KlingImage2Video.self, host: host) }
