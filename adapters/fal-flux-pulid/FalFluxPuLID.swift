import Foundation
import AdapterSDK

/// PuLID for FLUX on fal's queue (`fal-ai/flux-pulid`): one face image (`reference_image_url`, a data
/// URL), identity strength on `id_weight`, fidelity on `start_step`, the requested size as an
/// `image_size` object, and a negative prompt that only takes effect when `true_cfg` > 1, so the
/// adapter raises `true_cfg` whenever it sends one (as replicate-flux-pulid does). Queue lifecycle and
/// errors are the shared `FalQueue`; the result is `{images: [{url, …}], has_nsfw_concepts, …}`.
public enum FalFluxPuLID: StudioAdapter {
    static let model = "fal-ai/flux-pulid"
    /// The side lengths sent in `image_size`, as replicate-flux-pulid clamps them.
    static let sides = 256...1536
    /// More images than this in a result is not an answer to a one-image request.
    static let maxImages = 16

    public static let manifest = AdapterManifest(
        name: "fal-flux-pulid", version: "1.0.0", provider: "fal", model: model,
        summary: "PuLID for FLUX on fal's queue: one face reference (reference_image_url), id_weight and start_step for identity, negative prompt through true_cfg",
        surface: .init(referenceFields: ["reference_image_url"], maxReferences: 1,
                       negativePrompt: .init(supported: true, weighting: "plain", condition: PuLIDLevers.negativeCondition),
                       strengthKnobs: PuLIDLevers.falKnobs, mode: "poll",
                       auth: .init(scheme: "key", credential: "FAL_KEY"),
                       allowedHosts: FalQueue.allowedHosts, outputs: ["image"]))

    struct Size: Encodable {
        var width: Int
        var height: Int
    }

    struct Body: Encodable {
        var prompt: String
        var reference_image_url: String
        var image_size: Size
        var negative_prompt: String?
        var true_cfg: Double
        var id_weight: Double
        var start_step: Int
        var seed: UInt64
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        let (face, prompt, negative) = try FalQueue.inputs(r, images: images, missingImage: "fal flux-pulid needs one face image (reference_image_url); none was given",
                                                           model: "fal flux-pulid")
        let body = Body(prompt: prompt, reference_image_url: face.dataURL,
                        image_size: Size(width: min(sides.upperBound, max(sides.lowerBound, r.width)),
                                         height: min(sides.upperBound, max(sides.lowerBound, r.height))),
                        negative_prompt: negative.isEmpty ? nil : negative,
                        true_cfg: PuLIDLevers.trueCFG(negative: negative),
                        id_weight: PuLIDLevers.falIdWeight(for: r.strictness.identityStrength),
                        start_step: PuLIDLevers.startStep(level: r.strictness.level),
                        seed: r.seed % 2_147_483_647)
        return [HTTPRequestPlan(purpose: "submit", method: "POST", url: FalQueue.submitURL(model: model),
                                headers: ["Content-Type": "application/json"], jsonBody: AdapterJSON.encode(body))]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        let o: [String: Any]
        switch try FalQueue.parse(r, body: body, adapter: manifest.name) {
        case .update(let update): return update
        case .result(let result): o = result
        }
        guard let list = o["images"] as? [Any], !list.isEmpty else {
            throw AdapterError(code: "malformed_response", message: "fal's flux-pulid result has no images", retryable: false)
        }
        guard list.count <= maxImages else {
            throw AdapterError(code: "malformed_response", message: "fal's flux-pulid result has \(list.count) images for a one-image request", retryable: false)
        }
        var urls: [String] = []
        for item in list {
            guard let image = item as? [String: Any], let url = FalQueue.plainURL(image["url"]) else {
                throw AdapterError(code: "malformed_response", message: "fal's flux-pulid result has an image without a plain https url", retryable: false)
            }
            urls.append(url)
        }
        // One flag per image (fal's safety checker blacks out a flagged image); a lone Bool is taken
        // for all of them; absent or null means none was flagged.
        let flags: [Bool]
        switch o["has_nsfw_concepts"] {
        case nil, is NSNull: flags = []
        case let list as [Any]:
            guard list.count <= maxImages, let bools = list as? [Bool] else {
                throw AdapterError(code: "malformed_response", message: "fal's has_nsfw_concepts is not a list of booleans", retryable: false)
            }
            flags = bools
        case let one as Bool: flags = [one]
        default:
            throw AdapterError(code: "malformed_response", message: "fal's has_nsfw_concepts is not a list of booleans", retryable: false)
        }
        if let flagged = flags.firstIndex(of: true) {
            throw AdapterError(code: "content_filtered",
                               message: "fal's safety checker flagged image \(flagged) of \(urls.count) (has_nsfw_concepts); another seed may pass",
                               retryable: true)
        }
        return JobUpdate(state: "succeeded", outputs: urls.map { .init(url: $0, kind: "image") })
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(FalFluxPuLID.self, host: host) }
