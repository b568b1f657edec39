import Foundation
import AdapterSDK

/// zsxkib/instant-id on Replicate: one face image (`image`), `negative_prompt`, and the identity
/// strength on `ip_adapter_scale` (0-1, the model's default 0.8). Runs the pinned version (a community
/// model: `POST /v1/predictions` with `version`), submits with `Prefer: wait` and polls `urls.get` when
/// the prediction is not finished in time. The pinned version has no width/height inputs (Replicate
/// would drop them silently), so the output's size is the model's choice.
public enum ReplicateInstantID: StudioAdapter {
    static let ipAdapterScale = AdapterManifest.Knob(name: "ip_adapter_scale", minimum: 0, maximum: 1, defaultValue: 0.8,
                                                     mapping: "identity strength 0...1, as is")
    static let controlnetScale = AdapterManifest.Knob(name: "controlnet_conditioning_scale", minimum: 0, maximum: 1, defaultValue: 0.8,
                                                      mapping: "fixed at the model's default 0.8 (it follows the face's keypoints, not identity)")

    /// zsxkib/instant-id's version the adapter runs (contracts/replicate.json transcribes its schema).
    public static let pinnedVersion = "2e4785a4d80dadf580077b2244c8d7c05d8e3faac04a04c02d8e099dd2876789"

    public static let manifest = AdapterManifest(
        name: "replicate-instantid", version: "1.0.0", provider: "replicate", model: "zsxkib/instant-id",
        summary: "InstantID on Replicate: one face reference, negative prompt, ip_adapter_scale for identity strength",
        surface: .init(referenceFields: ["image"], maxReferences: 1,
                       negativePrompt: .init(supported: true, weighting: "plain"),
                       strengthKnobs: [ipAdapterScale, controlnetScale], mode: "poll",
                       auth: .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"),
                       allowedHosts: ["api.replicate.com", "replicate.delivery"], outputs: ["image"]),
        modelVersion: pinnedVersion)

    struct Input: Encodable {
        var image: String
        var prompt: String
        var negative_prompt: String
        var ip_adapter_scale: Double
        var controlnet_conditioning_scale: Double
        var seed: UInt64
        var num_outputs: Int
        var output_format: String
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard let face = images.first else {
            throw AdapterError(code: "invalid_request", message: "instant-id needs one face image; none was given", retryable: false)
        }
        let input = Input(image: face.dataURL, prompt: r.prompt, negative_prompt: r.negativePrompt,
                          ip_adapter_scale: AdapterSupport.map(r.strictness.identityStrength, onto: ipAdapterScale),
                          controlnet_conditioning_scale: controlnetScale.defaultValue,
                          seed: r.seed % 2_147_483_647, num_outputs: 1, output_format: "png")
        return [ReplicatePrediction.submit(version: try ReplicatePrediction.version(r, pinned: pinnedVersion), input: input)]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        try ReplicatePrediction.parse(r, body: body, model: "instant-id")
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(ReplicateInstantID.self, host: host) }
