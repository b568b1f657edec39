import Foundation

/// fal's queue API, shared by every model adapter on fal (in Swift; adapters/example-c speaks it in C):
/// submit to `https://queue.fal.run/<model>` -> `{request_id, status_url, response_url}`, poll the
/// status URL (`IN_QUEUE` / `IN_PROGRESS` / `COMPLETED`), then GET `response_url` for the model's
/// output. The same error bodies (`detail`) and `X-Fal-Retryable` header for every model; only the
/// input and the output object differ per model.
public enum FalQueue {
    public static let host = "queue.fal.run"
    /// Where fal serves output files from. Not in shared/reference/remote-apis.md: fal's `fal.media`
    /// subdomains as observed (the host matches allowed hosts exactly; a new one needs adding here).
    public static let mediaHosts = ["fal.media", "v2.fal.media", "v3.fal.media", "v3b.fal.media"]
    /// The queue host and the media hosts: what a fal adapter's manifest allows.
    public static let allowedHosts = [host] + mediaHosts
    /// The longest URL accepted from a response body.
    public static let maxURLLength = 4096

    /// The submit URL for a model id (`fal-ai/flux-pulid`).
    public static func submitURL(model: String) -> String { "https://\(host)/\(model)" }

    /// What a response means: a queue state (submit answer or status poll), or, when the body is
    /// neither, the model's output object for the adapter to read.
    public enum Step {
        case update(JobUpdate)
        case result([String: Any])
    }

    /// Maps a response to a plan of purpose `submit` or `poll`. `adapter` names the adapter in
    /// messages. Non-2xx statuses become typed errors (`detail` in the message; a 5xx with
    /// `X-Fal-Retryable: false` is not retryable); queue answers whose URLs are not https on the queue
    /// host, or whose request id is not plain, are `malformed_response`, so a hostile body cannot
    /// point the host's polls elsewhere.
    public static func parse(_ r: AdapterResponse, body: [UInt8], adapter: String) throws(AdapterError) -> Step {
        guard (200..<300).contains(r.status) else {
            var e = AdapterSupport.httpError(r, detail: detail(body), provider: "fal")
            if (500...599).contains(r.status), r.headers["x-fal-retryable"]?.trimmingCharacters(in: .whitespaces).lowercased() == "false" {
                e.retryable = false
                e.message += " (fal: X-Fal-Retryable false)"
            }
            // fal types each detail item; its content checker's refusals are `content_policy_violation`.
            if r.status == 422, errorTypes(body).contains("content_policy_violation") {
                e = AdapterError(code: "content_filtered", message: "fal's content checker refused it: \(detail(body))", retryable: false)
            }
            throw e
        }
        guard r.purpose == "submit" || r.purpose == "poll" else {
            throw AdapterError(code: "unsupported", message: "\(adapter) plans no '\(r.purpose)' request", retryable: false)
        }
        let o = try AdapterSupport.object(body, provider: "fal")
        if r.purpose == "submit" {
            guard let id = validId(o["request_id"]), let status = queueURL(o["status_url"]) else {
                throw AdapterError(code: "malformed_response", message: "fal's submit answer lacks a usable request_id or a status_url on \(host)", retryable: false)
            }
            // fal's queue cancel: `PUT {cancel_url}` (also at `{response_url}/cancel`).
            let cancel = (queueURL(o["cancel_url"]) ?? queueURL(o["response_url"]).map { $0 + "/cancel" })
                .map { HTTPRequestPlan(purpose: "cancel", method: "PUT", url: $0) }
            return .update(JobUpdate(state: "queued", pollURL: status, jobId: id, cancel: cancel))
        }
        guard let status = o["status"] else { return .result(o) }
        guard let state = status as? String, let response = queueURL(o["response_url"]) else {
            throw AdapterError(code: "malformed_response", message: "fal's status answer lacks a status string or a response_url on \(host)", retryable: false)
        }
        let jobId = validId(o["request_id"]) ?? validId(URL(string: response)?.lastPathComponent)
        let next = queueURL(o["status_url"]) ?? response + "/status"
        let cancel = HTTPRequestPlan(purpose: "cancel", method: "PUT", url: queueURL(o["cancel_url"]) ?? response + "/cancel")
        switch state {
        case "IN_QUEUE": return .update(JobUpdate(state: "queued", pollURL: next, jobId: jobId, cancel: cancel))
        case "IN_PROGRESS": return .update(JobUpdate(state: "running", pollURL: next, jobId: jobId, cancel: cancel))
        // The result is one more GET away: report running and poll the response URL.
        case "COMPLETED": return .update(JobUpdate(state: "running", pollURL: response, jobId: jobId))
        default: throw AdapterError(code: "malformed_response", message: "fal queue status '\(bounded(state, 40))' is unknown", retryable: false)
        }
    }

    /// What every fal model here checks first: the first reference, a non-empty image (`missingImage`
    /// is the error when there is none), the trimmed prompt (`model` names it when it is empty) and the
    /// trimmed negative prompt.
    public static func inputs(_ r: AdapterRequest, images: [AdapterImage], missingImage: String,
                              model: String) throws(AdapterError) -> (image: AdapterImage, prompt: String, negative: String) {
        guard let image = images.first else { throw AdapterError(code: "invalid_request", message: missingImage, retryable: false) }
        guard image.mimeType.lowercased().hasPrefix("image/"), !image.bytes.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "reference 0 is not an image (type '\(image.mimeType)', \(image.bytes.count) bytes)", retryable: false)
        }
        let prompt = r.prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "\(model) requires a prompt; it is empty", retryable: false)
        }
        return (image, prompt, r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The `type` of each `detail` item of a fal error body.
    static func errorTypes(_ body: [UInt8]) -> [String] {
        guard let o = try? AdapterSupport.object(body, provider: "fal"), let list = o["detail"] as? [Any] else { return [] }
        return list.compactMap { ($0 as? [String: Any])?["type"] as? String }
    }

    /// A fal error body's messages: `detail` as `[{loc, msg, type}]` (msgs joined) or as a string.
    public static func detail(_ body: [UInt8]) -> String {
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

    /// `s` with control characters replaced by spaces, cut to `n` characters.
    public static func bounded(_ s: String, _ n: Int = 400) -> String {
        let clean = String(s.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return clean.count <= n ? clean : String(clean.prefix(n)) + "…"
    }

    /// `s` when it is an https URL on fal's queue host (a hostile body cannot point polls elsewhere).
    public static func queueURL(_ s: Any?) -> String? {
        guard let s = plainURL(s), URLComponents(string: s)?.host?.lowercased() == host else { return nil }
        return s
    }

    /// `s` when it is a plain https URL with a host: at most `maxURLLength` characters, no spaces or
    /// control bytes (an output URL; the host still checks it against the allowed hosts).
    public static func plainURL(_ s: Any?) -> String? {
        guard let s = s as? String, s.count <= maxURLLength, let u = URLComponents(string: s), u.scheme == "https",
              u.host?.isEmpty == false, !s.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else { return nil }
        return s
    }

    /// `s` when it is a plain request id: 1-128 ASCII letters, digits, `-`, `_`.
    public static func validId(_ s: Any?) -> String? {
        guard let s = s as? String, !s.isEmpty, s.count <= 128,
              s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        return s
    }
}
