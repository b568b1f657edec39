import Foundation

/// Replicate's prediction object, shared by every model adapter on Replicate: the same HTTP errors
/// (RFC 7807 bodies, the "available in N second(s)" throttle detail) and the same statuses for every
/// model; only the `input` differs per model.
public enum ReplicatePrediction {
    /// Community models run by version: `POST /v1/predictions {"version", "input"}` (the models route,
    /// /v1/models/{owner}/{name}/predictions, serves Replicate's official models only).
    public static let predictionsURL = "https://api.replicate.com/v1/predictions"

    /// The version to run: the request's override, else `pinned`. Either must be 64 lower-case hex digits.
    public static func version(_ r: AdapterRequest, pinned: String) throws(AdapterError) -> String {
        let v = r.modelVersion ?? pinned
        guard v.count == 64, v.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw AdapterError(code: "invalid_request", message: "a Replicate model version is 64 lower-case hex digits; '\(v.prefix(80))' is not one",
                               retryable: false)
        }
        return v
    }

    /// The submit plan for `input` on `version`, waiting up to 60 s for the result (`Prefer: wait=60`).
    public static func submit<Input: Encodable>(version: String, input: Input) -> HTTPRequestPlan {
        HTTPRequestPlan(purpose: "submit", method: "POST", url: predictionsURL,
                        headers: ["Content-Type": "application/json", "Prefer": "wait=60"],
                        jsonBody: AdapterJSON.encode(VersionedBody(version: version, input: input)))
    }

    /// `{"version": ..., "input": {...}}`.
    struct VersionedBody<Input: Encodable>: Encodable { var version: String; var input: Input }

    /// `POST urls.cancel` (Replicate's `POST /v1/predictions/{id}/cancel`), when the prediction names a
    /// plain https URL on api.replicate.com.
    static func cancelPlan(_ url: Any?) -> HTTPRequestPlan? {
        guard let s = FalQueue.plainURL(url), URLComponents(string: s)?.host?.lowercased() == "api.replicate.com", s.hasSuffix("/cancel") else { return nil }
        return HTTPRequestPlan(purpose: "cancel", method: "POST", url: s)
    }

    /// Texts with which the models on Replicate say they found no face in the reference (InstantID's
    /// predict.py, PuLID's facexlib alignment, PhotoMaker's face analysis), lower-cased.
    static let noFaceTexts = ["no face", "cannot find any face", "could not find a face", "align face fail", "face not found",
                              "no faces detected"]

    /// Whether a failed prediction's error text says the reference had no usable face.
    public static func saysNoFace(_ message: String) -> Bool {
        let m = message.lowercased()
        return noFaceTexts.contains { m.contains($0) }
    }

    /// What a response to a submit or poll of a prediction means. `model` names the model in messages
    /// ("flux-pulid"). A failed prediction whose error says no face was found is `no_face` (not retried);
    /// one mentioning NSFW, or a success with an empty output (a safety checker withheld every image),
    /// is `content_filtered` (retryable: another seed may pass).
    public static func parse(_ r: AdapterResponse, body: [UInt8], model: String) throws(AdapterError) -> JobUpdate {
        guard (200..<300).contains(r.status) else {
            let o = try? AdapterSupport.object(body, provider: "Replicate")
            let detail = (o?["detail"] as? String) ?? (o?["title"] as? String) ?? "\(body.count)-byte body"
            var e = AdapterSupport.httpError(r, detail: detail, provider: "Replicate")
            // "Request was throttled. Expected available in 1 second." / "… Your rate limit resets in ~30s."
            if e.code == "rate_limited", e.retryAfterSeconds == nil,
               let range = detail.range(of: "available in ") ?? detail.range(of: "resets in ~") ?? detail.range(of: "resets in ") {
                e.retryAfterSeconds = Double(detail[range.upperBound...].prefix { $0.isNumber || $0 == "." })
            }
            throw e
        }
        let o = try AdapterSupport.object(body, provider: "Replicate")
        guard let status = o["status"] as? String else {
            throw AdapterError(code: "malformed_response", message: "Replicate prediction without a status", retryable: false)
        }
        let id = o["id"] as? String
        let urls = o["urls"] as? [String: Any]
        let poll = urls?["get"] as? String
        switch status {
        case "starting", "processing":
            return JobUpdate(state: status == "starting" ? "queued" : "running", pollURL: poll, jobId: id, cancel: cancelPlan(urls?["cancel"]))
        case "succeeded":
            let urls: [String]
            if let list = o["output"] as? [String] { urls = list } else if let one = o["output"] as? String { urls = [one] } else { urls = [] }
            guard !urls.isEmpty else {
                // A model whose safety checker drops every image still succeeds, with nothing in `output`.
                throw AdapterError(code: "content_filtered", message: "Replicate prediction \(id ?? "?") succeeded with no output: \(model)'s safety checker withheld the image",
                                   retryable: true)
            }
            return JobUpdate(state: "succeeded", outputs: urls.map { .init(url: $0, kind: "image") }, jobId: id)
        case "failed", "canceled", "aborted":
            let message = (o["error"] as? String) ?? status
            if saysNoFace(message) {
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
