import Foundation
import AdapterSDK

/// zsxkib/flux-pulid on Replicate: one face image (`main_face_image`), identity strength on
/// `id_weight` (0-3, default 1), fidelity on `start_step` (0 = the ID is injected from the first
/// step), and a negative prompt that only takes effect when `true_cfg` > 1, so the adapter raises
/// `true_cfg` whenever it sends one. Submits with `Prefer: wait` and polls `urls.get` like instant-id.
public enum ReplicateFluxPuLID: StudioAdapter {
    static let hosts = ["api.replicate.com", "replicate.delivery"]

    /// zsxkib/flux-pulid's version the adapter runs (a community model: `POST /v1/predictions`).
    public static let pinnedVersion = "8baa7ef2255075b46f4d91cd238c21d31181b3e6a864463f967960bb0112525b"

    public static let manifest = AdapterManifest(
        name: "replicate-flux-pulid", version: "1.0.0", provider: "replicate", model: "zsxkib/flux-pulid",
        summary: "PuLID for FLUX on Replicate: one face reference, id_weight and start_step for identity, negative prompt through true_cfg",
        surface: .init(referenceFields: ["main_face_image"], maxReferences: 1,
                       negativePrompt: .init(supported: true, weighting: "plain", condition: PuLIDLevers.negativeCondition),
                       strengthKnobs: PuLIDLevers.knobs, mode: "poll",
                       auth: .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"),
                       allowedHosts: hosts, outputs: ["image"]),
        modelVersion: pinnedVersion)

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

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard let face = images.first else {
            throw AdapterError(code: "invalid_request", message: "flux-pulid needs one face image (main_face_image); none was given", retryable: false)
        }
        let negative = r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines)
        let input = Input(main_face_image: face.dataURL, prompt: r.prompt, negative_prompt: negative,
                          true_cfg: PuLIDLevers.trueCFG(negative: negative),
                          id_weight: PuLIDLevers.idWeight(for: r.strictness.identityStrength),
                          start_step: PuLIDLevers.startStep(level: r.strictness.level),
                          width: min(1536, max(256, r.width)), height: min(1536, max(256, r.height)),
                          seed: r.seed % 2_147_483_647, num_outputs: 1, output_format: "png")
        return [ReplicatePrediction.submit(version: try ReplicatePrediction.version(r, pinned: pinnedVersion), input: input)]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        try ReplicatePrediction.parse(r, body: body, model: "flux-pulid")
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(ReplicateFluxPuLID.self, host: host) }
