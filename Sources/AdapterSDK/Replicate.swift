import Foundation

/// Replicate's prediction object, shared by every model adapter on Replicate: the same HTTP errors
/// (RFC 7807 bodies, the "available in N second(s)" throttle detail) and the same statuses for every
/// model; only the `input` differs per model.
public enum ReplicatePrediction {
    /// What a response to a submit or poll of a prediction means. `model` names the model in messages
    /// ("flux-pulid"). A failed prediction whose error mentions no face is `no_face`; one mentioning
    /// NSFW is `content_filtered` (retryable: another seed may pass).
    public static func parse(_ r: AdapterResponse, body: [UInt8], model: String) throws(AdapterError) -> JobUpdate {
        guard (200..<300).contains(r.status) else {
            let o = try? AdapterSupport.object(body, provider: "Replicate")
            let detail = (o?["detail"] as? String) ?? (o?["title"] as? String) ?? "\(body.count)-byte body"
            var e = AdapterSupport.httpError(r, detail: detail, provider: "Replicate")
            // "Request was throttled. Expected available in 1 second."
            if e.code == "rate_limited", e.retryAfterSeconds == nil, let range = detail.range(of: "available in ") {
                e.retryAfterSeconds = Double(detail[range.upperBound...].prefix { $0.isNumber || $0 == "." })
            }
            throw e
        }
        let o = try AdapterSupport.object(body, provider: "Replicate")
        guard let status = o["status"] as? String else {
            throw AdapterError(code: "malformed_response", message: "Replicate prediction without a status", retryable: false)
        }
        let id = o["id"] as? String
        let poll = (o["urls"] as? [String: Any])?["get"] as? String
        switch status {
        case "starting", "processing":
            return JobUpdate(state: status == "starting" ? "queued" : "running", pollURL: poll, jobId: id)
        case "succeeded":
            let urls: [String]
            if let list = o["output"] as? [String] { urls = list } else if let one = o["output"] as? String { urls = [one] } else { urls = [] }
            guard !urls.isEmpty else {
                throw AdapterError(code: "malformed_response", message: "Replicate prediction \(id ?? "?") succeeded without output", retryable: false)
            }
            return JobUpdate(state: "succeeded", outputs: urls.map { .init(url: $0, kind: "image") }, jobId: id)
        case "failed", "canceled", "aborted":
            let message = (o["error"] as? String) ?? status
            if message.lowercased().contains("no face") {
                throw AdapterError(code: "no_face", message: "\(model) found no face in the reference: \(message)", retryable: false)
            }
            if message.lowercased().contains("nsfw") {
                throw AdapterError(code: "content_filtered", message: message, retryable: true)
            }
            throw AdapterError(code: "server", message: "Replicate prediction \(id ?? "?") \(status): \(message)", retryable: status != "canceled")
        default:
            throw AdapterError(code: "malformed_response", message: "Replicate prediction status '\(status)' is unknown", retryable: false)
        }
    }
}
