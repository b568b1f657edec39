import Foundation
import AdapterSDK

/// Kling 1.0 standard image-to-video on fal's queue (`fal-ai/kling-video/v1/standard/image-to-video`):
/// the first reference image becomes the video's first frame (`image_url`, a data URL), the plain
/// synthesized negative prompt goes to `negative_prompt`, and identity strength maps onto `cfg_scale`.
/// Queue conventions (shared `FalQueue`, as adapters/example-c in C): submit -> status polls -> COMPLETED -> result.
public enum FalKlingI2V: StudioAdapter {
    static let model = "fal-ai/kling-video/v1/standard/image-to-video"
    static let cfgKnob = AdapterManifest.Knob(
        name: "cfg_scale", minimum: 0, maximum: 1, defaultValue: 0.5,
        mapping: "linear: cfg_scale = identity strength clamped to 0...1 (0.5 = fal's default); higher follows the prompt and negative prompt, which carry the identity, more closely")

    public static let manifest = AdapterManifest(
        name: "fal-kling-i2v", version: "1.0.0", provider: "fal", model: model,
        summary: "Kling v1 standard image-to-video on fal's queue: reference 0 is the first frame (image_url), 5-second video, negative prompt, cfg_scale from identity strength",
        surface: .init(referenceFields: ["image_url"], maxReferences: 1,
                       negativePrompt: .init(supported: true), strengthKnobs: [cfgKnob], mode: "poll",
                       auth: .init(scheme: "key", credential: "FAL_KEY"),
                       allowedHosts: FalQueue.allowedHosts, outputs: ["video"]))

    struct Body: Encodable {
        var prompt: String
        var image_url: String
        var duration: String
        var negative_prompt: String?
        var cfg_scale: Double
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        let (image, prompt, negative) = try FalQueue.inputs(r, images: images, missingImage: "Kling image-to-video needs a reference image for the first frame; none was given",
                                                            model: "fal Kling image-to-video")
        let body = Body(prompt: prompt, image_url: image.dataURL, duration: "5",
                        negative_prompt: negative.isEmpty ? nil : negative,
                        cfg_scale: AdapterSupport.map(r.strictness.identityStrength, onto: cfgKnob))
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: FalQueue.submitURL(model: model),
                                headers: ["Content-Type": "application/json"], jsonBody: AdapterJSON.encode(body))]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        let o: [String: Any]
        switch try FalQueue.parse(r, body: body, adapter: manifest.name) {
        case .update(let update): return update
        case .result(let result): o = result
        }
        guard let video = o["video"] as? [String: Any], let url = video["url"] as? String else {
            throw AdapterError(code: "malformed_response", message: "fal's result has no video.url", retryable: false)
        }
        guard let plain = FalQueue.plainURL(url) else {
            throw AdapterError(code: "malformed_response", message: "fal's video url is not a plain https URL", retryable: false)
        }
        return JobUpdate(state: "succeeded", outputs: [.init(url: plain, kind: "video")])
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(FalKlingI2V.self, host: host) }
