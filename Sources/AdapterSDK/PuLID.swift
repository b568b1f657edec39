/// PuLID for FLUX's levers wherever it is hosted (Replicate's zsxkib/flux-pulid, fal's
/// fal-ai/flux-pulid): identity strength on `id_weight` (0-3 on Replicate, 0-1 on fal; default 1 on
/// both), fidelity on `start_step`
/// (0 = the ID is injected from the first step), and `true_cfg`, which is no strength lever but
/// decides whether a negative prompt has any effect (only above 1).
public enum PuLIDLevers {
    public static let idWeight = AdapterManifest.Knob(
        name: "id_weight", minimum: 0, maximum: 3, defaultValue: 1,
        mapping: "piecewise linear, anchored at the model's default: identity strength 0...0.75 -> 0...1, 0.75...1 -> 1...3")
    public static let startStep = AdapterManifest.Knob(
        name: "start_step", minimum: 0, maximum: 10, defaultValue: 0,
        mapping: "strictness level >= 2 -> 0 (highest fidelity); lower levels -> 1 (a little more freedom for the prompt's layout)")
    public static let trueCFG = AdapterManifest.Knob(
        name: "true_cfg", minimum: 1, maximum: 10, defaultValue: 1,
        mapping: "not a strength lever: 1.5 when a negative prompt is sent (it has no effect at 1), otherwise 1")
    public static let knobs = [idWeight, startStep, trueCFG]
    /// fal's `id_weight` stops at its default, 1 (fal-js's generated schema): nothing above it to push.
    public static let falIdWeight = AdapterManifest.Knob(
        name: "id_weight", minimum: 0, maximum: 1, defaultValue: 1,
        mapping: "identity strength 0...0.75 -> 0...1, saturating at fal's maximum 1 (fal caps id_weight at its default)")
    public static let falKnobs = [falIdWeight, startStep, trueCFG]

    /// Identity strength 0...1 onto fal's `id_weight` 0...1: as on Replicate up to the default (0.75 -> 1),
    /// capped there.
    public static func falIdWeight(for strength: Double) -> Double { min(1, idWeight(for: strength)) }
    /// The manifest's negative-prompt condition.
    public static let negativeCondition = "true_cfg > 1 (the adapter sets true_cfg 1.5 when it sends one)"

    /// The `true_cfg` sent with a non-empty negative prompt: the smallest round value above 1, since
    /// true CFG runs a second (negative) pass per step and higher values trade image quality for
    /// adherence to the negative prompt.
    public static let negativeTrueCFG = 1.5
    static let looseStartStep = 1

    /// Identity strength 0...1 onto `id_weight` 0...3, so that the platform's usual 0.75 lands on the
    /// model's default 1 and only the top quarter pushes past it (3 distorts faces at most seeds).
    public static func idWeight(for strength: Double) -> Double {
        let s = strength.isFinite ? min(1, max(0, strength)) : 0.75
        let w = s <= 0.75 ? s / 0.75 : 1 + (s - 0.75) / 0.25 * 2
        return (w * 1_000).rounded() / 1_000
    }

    public static func startStep(level: Int) -> Int { level >= 2 ? 0 : looseStartStep }

    /// `true_cfg` for the (trimmed) negative prompt about to be sent.
    public static func trueCFG(negative: String) -> Double { negative.isEmpty ? trueCFG.defaultValue : negativeTrueCFG }
}
