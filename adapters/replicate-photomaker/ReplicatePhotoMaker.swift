import Foundation
import AdapterSDK

/// tencentarc/photomaker on Replicate: up to four reference images (`input_image`, `input_image2`..
/// `input_image4`), stacked into one identity that applies where the prompt says `img` right after a
/// class word ("a photo of a man img"). The adapter puts exactly one `img` there, keeps it out of the
/// negative prompt, and maps identity strength onto `style_strength_ratio` (15-50, lower follows the
/// identity more). Submits with `Prefer: wait` and polls `urls.get` like the other Replicate adapters.
public enum ReplicatePhotoMaker: StudioAdapter {
    static let trigger = "img"
    static let maxReferences = 4
    static let referenceFields = ["input_image", "input_image2", "input_image3", "input_image4"]
    /// Single-person class words, in no particular order: the first one the prompt contains (by
    /// position) gets the trigger. Plurals are left out: one `img` stands for one person.
    static let classWords: Set<String> = ["man", "woman", "person", "boy", "girl", "child", "kid", "lady", "gentleman",
                                          "guy", "teenager", "baby", "toddler", "individual"]
    /// Prepended when the prompt names no class word.
    static let fallbackPrefix = "a photo of a person img, "
    /// The model's defaults on Replicate, sent explicitly so a run is reproducible if they change.
    static let numSteps = 20
    static let guidanceScale = 5.0

    static let styleStrength = AdapterManifest.Knob(
        name: "style_strength_ratio", minimum: 15, maximum: 50, defaultValue: 20,
        mapping: "linear and decreasing: identity strength s -> 50 - 35 * s (1 -> 15, strongest identity; 0 -> 50)")

    /// tencentarc/photomaker's version the adapter runs (a community model: `POST /v1/predictions`).
    public static let pinnedVersion = "ddfc2b08d209f9fa8c1eca692712918bd449f695dabb4a958da31802a9570fe4"

    public static let manifest = AdapterManifest(
        name: "replicate-photomaker", version: "1.0.0", provider: "replicate", model: "tencentarc/photomaker",
        summary: "PhotoMaker on Replicate: up to 4 references stacked into one identity, applied where the prompt says 'img' after a class word; style_strength_ratio for identity",
        surface: .init(referenceFields: referenceFields, maxReferences: maxReferences,
                       negativePrompt: .init(supported: true, weighting: "plain"),
                       strengthKnobs: [styleStrength], mode: "poll",
                       auth: .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"),
                       allowedHosts: ["api.replicate.com", "replicate.delivery"], outputs: ["image"],
                       promptTrigger: trigger),
        modelVersion: pinnedVersion)

    struct Input: Encodable {
        var input_image: String
        var input_image2: String?
        var input_image3: String?
        var input_image4: String?
        var prompt: String
        var negative_prompt: String
        var style_strength_ratio: Double
        var num_steps: Int
        var guidance_scale: Double
        var seed: UInt64
        var num_outputs: Int
    }

    /// Identity strength 0...1 onto `style_strength_ratio` 50...15 (reversed: lower follows the
    /// identity more), three decimals. A non-finite strength counts as the platform's usual 0.75.
    static func styleStrengthRatio(for strength: Double) -> Double {
        let s = strength.isFinite ? min(1, max(0, strength)) : 0.75
        return ((styleStrength.maximum - s * (styleStrength.maximum - styleStrength.minimum)) * 1_000).rounded() / 1_000
    }

    static func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }

    /// The whole words of `text` with their ranges (letters, digits, '_').
    static func words(_ text: String) -> [(word: String, range: Range<String.Index>)] {
        var out: [(String, Range<String.Index>)] = []
        var i = text.startIndex
        while i < text.endIndex {
            guard isWordCharacter(text[i]) else { i = text.index(after: i); continue }
            var j = i
            while j < text.endIndex, isWordCharacter(text[j]) { j = text.index(after: j) }
            out.append((String(text[i..<j]), i..<j))
            i = j
        }
        return out
    }

    /// `text` without the whole word `img` (any case); the spaces and commas it leaves are tidied:
    /// runs of spaces collapse, empty comma-separated items go. Unchanged when there is none.
    static func removingTrigger(_ text: String) -> String {
        let hits = words(text).filter { $0.word.lowercased() == trigger }
        guard !hits.isEmpty else { return text }
        var out = text
        for h in hits.reversed() { out.removeSubrange(h.range) }
        let items = out.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            .filter { !$0.isEmpty }
        return items.joined(separator: ", ")
    }

    /// The prompt with exactly one `img`, right after a class word. A prompt that already has exactly
    /// one, right after a class word, is kept as it is; otherwise every `img` is removed (PhotoMaker
    /// refuses more than one trigger) and one is inserted after the first class word, or, with no
    /// class word, "a photo of a person img, " is prepended.
    static func triggeredPrompt(_ prompt: String) -> String {
        let list = words(prompt)
        let triggers = list.indices.filter { list[$0].word.lowercased() == trigger }
        if triggers.count == 1, let t = triggers.first, t > 0, classWords.contains(list[t - 1].word.lowercased()),
           prompt[list[t - 1].range.upperBound..<list[t].range.lowerBound].allSatisfy({ $0 == " " }) {
            return prompt
        }
        var text = removingTrigger(prompt)
        if let c = words(text).first(where: { classWords.contains($0.word.lowercased()) }) {
            text.insert(contentsOf: " " + trigger, at: c.range.upperBound)
            return text
        }
        return text.isEmpty ? String(fallbackPrefix.dropLast(2)) : fallbackPrefix + text
    }

    public static func buildRequest(_ r: AdapterRequest, images: [AdapterImage]) throws(AdapterError) -> [HTTPRequestPlan] {
        guard !images.isEmpty else {
            throw AdapterError(code: "invalid_request", message: "PhotoMaker needs at least one reference image (input_image); none was given", retryable: false)
        }
        // At most 4: the first four (the host orders references best first).
        let urls = images.prefix(maxReferences).map(\.dataURL)
        let input = Input(input_image: urls[0], input_image2: urls.count > 1 ? urls[1] : nil,
                          input_image3: urls.count > 2 ? urls[2] : nil, input_image4: urls.count > 3 ? urls[3] : nil,
                          prompt: triggeredPrompt(r.prompt.trimmingCharacters(in: .whitespacesAndNewlines)),
                          negative_prompt: removingTrigger(r.negativePrompt.trimmingCharacters(in: .whitespacesAndNewlines)),
                          style_strength_ratio: styleStrengthRatio(for: r.strictness.identityStrength),
                          num_steps: numSteps, guidance_scale: guidanceScale,
                          seed: r.seed % 2_147_483_647, num_outputs: 1)
        return [ReplicatePrediction.submit(version: try ReplicatePrediction.version(r, pinned: pinnedVersion), input: input)]
    }

    public static func parseResponse(_ r: AdapterResponse, body: [UInt8]) throws(AdapterError) -> JobUpdate {
        try ReplicatePrediction.parse(r, body: body, model: "photomaker")
    }
}

@_cdecl("studio_adapter_v1")
public func studioAdapterV1(_ host: UInt32) -> UnsafeRawPointer? { AdapterExport.vtable(ReplicatePhotoMaker.self, host: host) }
