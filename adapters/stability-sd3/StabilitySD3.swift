import Foundation
import AdapterSDK

/// Stability AI's Stable Diffusion 3.5 (`POST /v2beta/stable-image/generate/sd3`), synchronous and
/// multipart. There is no face or character reference field: the first reference goes in as the
/// init image of an image-to-image run, and identity strength sets how much of it survives
/// (`strength`: 0 keeps the input, 1 ignores it). The answer (Accept: application/json) carries the
/// image itself as base64; the adapter hands it on as a `data:image/png;base64,...` output URL.
public enum StabilitySD3: StudioAdapter {
    static let endpoint = "https://api.stability.ai/v2beta/stable-image/generate/sd3"
    static let model = "sd3.5-large"
    static let maxTextLength = 10_000
    /// Largest seed Stability accepts; 0 means random.
    static let maxSeed: UInt64 = 4_294_967_294
    /// strength = 1 - s * k: identity strength 0.75 -> 0.5, 1 -> 1/3 (a third of the denoising is
    /// always left to the prompt, or the output is the reference photo again), 0 -> 1.
    static let k = 2.0 / 3.0

    static let strengthKnob = AdapterManifest.Knob(
        name: "strength", minimum: 0, maximum: 1, defaultValue: 0.5,
        mapping: "linear and decreasing: identity strength s -> 1 - (2/3) * s (0.75 -> 0.5, 1 -> 0.333, 0 -> 1); the init image is the first reference")

    public static let manifest = AdapterManifest(
        name: "stability-sd3", version: "1.0.0", provider: "stability", model: model,
        summary: "Stability AI SD 3.5 Large, image-to-image: no face reference field, the first reference is the init image and identity strength sets strength",
        surface: .init(referenceFields: ["image"], maxReferences: 1,
                       negativePrompt: .init(supported: true, weighting: "plain", maxLength: maxTextLength),
                       strengthKnobs: [strengthKnob], mode: "sync",
                       auth: .init(scheme: "bearer", credential: "STABILITY_API_KEY"),
                       allowedHosts: ["api.stability.ai"], outputs: ["image"]))

    /// `strength` for identity strength `s` (clamped to 0...1; non-finite counts as 0.75), three decimals.
    static func strength(for s: Double) -> Double {
        let s = s.isFinite ? min(1, max(0, s)) : 0.75
        return ((1 - s * k) * 1_000).rounded() / 1_000
    }

    /// The platform's seed as a Stability seed (1...4294967294; 0 would mean random): kept when in
    /// range, otherwise reduced modulo 4294967295, and a result of 0 becomes 4294967294.
    static func seed(_ seed: UInt64) -> UInt64 {
        let s = seed % (maxSeed + 1)
        return s == 0 ? maxSeed : s
    }

    /// The negative prompt cut to 10000 characters at a comma (whole terms, most important first),
    /// or hard at 10000 when the first term alone is longer.
    static func negativePrompt(_ text: String) -> String {
        guard text.count > maxTextLength else { return text }
        let head = String(text.prefix(maxTextLength))
        if let comma = head.lastIndex(of: ",") {
            return String(head[..<comma]).trimmingCharacters(in: .whitespaces)
        }
        return head
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String(x)
    }

    static func fileExtension(_ mime: String) -> String {
        switch mime.lowercased() {
        case "image/jpeg", "image/jpg": return "jpg"
        case "image/webp": return "webp"
        case "image/png": return "png"
        default: return "bin"
        }
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard let initImage = images.first else {
            throw AdapterError(code: "invalid_request", message: "stability-sd3 needs one reference image as its init image (image); none was given", retryable: false)
        }
        let prompt = r.prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "Stability requires a non-empty prompt", retryable: false)
        }
        guard prompt.count <= maxTextLength else {
            throw AdapterError(code: "invalid_request", message: "the prompt is \(prompt.count) characters; Stability takes at most \(maxTextLength)", retryable: false)
        }
        let negative = negativePrompt(r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines))
        typealias Part = HTTPRequestPlan.Part
        var parts = [Part(name: "prompt", text: prompt)]
        if !negative.isEmpty { parts.append(Part(name: "negative_prompt", text: negative)) }
        parts += [
            Part(name: "mode", text: "image-to-image"),
            Part(name: "image", imageIndex: 0, fileName: "reference." + fileExtension(initImage.mimeType), mimeType: initImage.mimeType),
            Part(name: "strength", text: format(strength(for: r.strictness.identityStrength))),
            Part(name: "seed", text: String(seed(r.seed))),
            Part(name: "output_format", text: "png"),
            Part(name: "model", text: model),
        ]
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: endpoint, headers: ["Accept": "application/json"], multipart: parts)]
    }

    /// 200 `{image, finish_reason, seed}`: SUCCESS -> one data-URL output, CONTENT_FILTERED ->
    /// `content_filtered` (retryable: another seed may pass). Errors `{id, name, errors[]}`.
    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        guard (200..<300).contains(r.status) else {
            let o = try? AdapterSupport.object(body, provider: "Stability")
            let errors = (o?["errors"] as? [Any])?.compactMap { $0 as? String }.filter { !$0.isEmpty } ?? []
            let name = o?["name"] as? String
            let detail = !errors.isEmpty ? errors.joined(separator: "; ") : (name ?? "\(body.count)-byte body")
            if r.status == 403 {
                // Content moderation of the prompt or the init image: the same inputs are refused again.
                throw AdapterError(code: "content_filtered", message: "Stability moderation refused the request (403): \(detail)", retryable: false)
            }
            throw AdapterSupport.httpError(r, detail: detail, provider: "Stability")
        }
        let o = try AdapterSupport.object(body, provider: "Stability")
        guard let reason = o["finish_reason"] as? String else {
            throw AdapterError(code: "malformed_response", message: "Stability answered without a finish_reason", retryable: false)
        }
        switch reason {
        case "SUCCESS":
            guard let image = o["image"] as? String, !image.isEmpty, Data(base64Encoded: image) != nil else {
                throw AdapterError(code: "malformed_response", message: "Stability answered SUCCESS without a base64 image", retryable: false)
            }
            return JobUpdate(state: "succeeded", outputs: [.init(url: "data:image/png;base64," + image, kind: "image")])
        case "CONTENT_FILTERED":
            throw AdapterError(code: "content_filtered", message: "Stability filtered the generated image (finish_reason CONTENT_FILTERED)", retryable: true)
        default:
            throw AdapterError(code: "malformed_response", message: "Stability finish_reason '\(reason)' is unknown", retryable: false)
        }
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(StabilitySD3.self, host: host) }
