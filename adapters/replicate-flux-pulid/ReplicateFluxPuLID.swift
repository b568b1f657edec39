import Foundation
import AdapterSDK

/// zsxkib/flux-pulid on Replicate: one face image (`main_face_image`), identity strength on
/// `id_weight` (0-3, default 1), fidelity on `start_step` (0 = the ID is injected from the first
/// step), and a negative prompt that only takes effect when `true_cfg` > 1, so the adapter raises
/// `true_cfg` whenever it sends one. Submits with `Prefer: wait` and polls `urls.get` like instant-id.
public enum ReplicateFluxPuLID: StudioAdapter {
    static let idWeight = AdapterManifest.Knob(
        name: "id_weight", minimum: 0, maximum: 3, defaultValue: 1,
        mapping: "piecewise linear, anchored at the model's default: identity strength 0...0.75 -> 0...1, 0.75...1 -> 1...3")
    static let startStep = AdapterManifest.Knob(
        name: "start_step", minimum: 0, maximum: 10, defaultValue: 0,
        mapping: "strictness level >= 2 -> 0 (highest fidelity); lower levels -> 1 (a little more freedom for the prompt's layout)")
    static let trueCFG = AdapterManifest.Knob(
        name: "true_cfg", minimum: 1, maximum: 10, defaultValue: 1,
        mapping: "not a strength lever: 1.5 when a negative prompt is sent (it has no effect at 1), otherwise 1")

    /// The `true_cfg` sent with a non-empty negative prompt: the smallest round value above 1, since
    /// true CFG runs a second (negative) pass per step and higher values trade image quality for
    /// adherence to the negative prompt.
    static let negativeTrueCFG = 1.5
    static let looseStartStep = 1
    static let hosts = ["api.replicate.com", "replicate.delivery"]

    public static let manifest = AdapterManifest(
        name: "replicate-flux-pulid", version: "1.0.0", provider: "replicate", model: "zsxkib/flux-pulid",
        summary: "PuLID for FLUX on Replicate: one face reference, id_weight and start_step for identity, negative prompt through true_cfg",
        surface: .init(referenceFields: ["main_face_image"], maxReferences: 1,
                       negativePrompt: .init(supported: true, weighting: "plain", condition: "true_cfg > 1 (the adapter sets true_cfg 1.5 when it sends one)"),
                       strengthKnobs: [idWeight, startStep, trueCFG], mode: "poll",
                       auth: .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"),
                       allowedHosts: hosts, outputs: ["image"]))

    struct Input: Encodable {
        var main_face_image: String
        var prompt: String
        var negative_prompt: String
        var true_cfg: Double
        var id_weight: Double
        var start_step: Int
        var width: Int
        var height: Int
        var seed: UInt64
        var num_outputs: Int
        var output_format: String
    }

    /// Identity strength 0...1 onto `id_weight` 0...3, so that the platform's usual 0.75 lands on the
    /// model's default 1 and only the top quarter pushes past it (3 distorts faces at most seeds).
    static func idWeight(for strength: Double) -> Double {
        let s = strength.isFinite ? min(1, max(0, strength)) : 0.75
        let w = s <= 0.75 ? s / 0.75 : 1 + (s - 0.75) / 0.25 * 2
        return (w * 1_000).rounded() / 1_000
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard let face = images.first else {
            throw AdapterError(code: "invalid_request", message: "flux-pulid needs one face image (main_face_image); none was given", retryable: false)
        }
        let negative = r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines)
        let input = Input(main_face_image: face.dataURL, prompt: r.prompt, negative_prompt: negative,
                          true_cfg: negative.isEmpty ? trueCFG.defaultValue : negativeTrueCFG,
                          id_weight: idWeight(for: r.strictness.identityStrength),
                          start_step: r.strictness.level >= 2 ? 0 : looseStartStep,
                          width: min(1536, max(256, r.width)), height: min(1536, max(256, r.height)),
                          seed: r.seed % 2_147_483_647, num_outputs: 1, output_format: "png")
        struct Body: Encodable { var input: Input }
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: "https://api.replicate.com/v1/models/zsxkib/flux-pulid/predictions",
                                headers: ["Content-Type": "application/json", "Prefer": "wait=60"],
                                jsonBody: AdapterJSON.encode(Body(input: input)))]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        try ReplicatePrediction.parse(r, body: body, model: "flux-pulid")
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(ReplicateFluxPuLID.self, host: host) }
