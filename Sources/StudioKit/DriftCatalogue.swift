/// The ways a generated face drifts from its character, as data.
///
/// Each `DriftMode` says what drifts (`category`, `attributes`), how the face pipeline detects it
/// (`detector`: which measurement, how output and reference compare, the threshold and its unit) or
/// why it cannot (`unmeasurableReason`), and how to suppress it (`suppressor`: negative-prompt
/// fragments built from the *opposite* of the character's reference attributes, so a brown-eyed
/// character gets "blue eyes, green eyes, ..." and never "brown eyes").
///
/// `DriftCatalogue.all` lists the modes; `NegativePrompt.synthesize` assembles them per character and
/// request; `DriftDetector.diagnose` (StudioFace) runs the detectors on a generated face.
public struct DriftMode: Sendable, Codable, Equatable {
    public enum Category: String, Sendable, Codable, Equatable, CaseIterable {
        case colour, geometry, texture, age, lighting, expression, pose, identity
    }

    /// How a drift is measured and judged.
    public struct Detector: Sendable, Codable, Equatable {
        /// Where the measurement comes from.
        public enum Source: String, Sendable, Codable, Equatable {
            /// An attribute of `FaceAttributes` (`measure` is its name, e.g. "eye_colour"), measured on
            /// the output with `FaceAttributeMeter.measure` and compared with the character's fused value.
            case attribute
            /// A named measure of the output face (`measure` is one of `DriftDetector.measureNames`:
            /// "yaw", "roll", "sharpness", "identity_distance", ...).
            case pipeline
        }
        /// How output and reference compare.
        public enum Comparison: String, Sendable, Codable, Equatable {
            /// `delta = output - reference` of one component.
            case absoluteDelta
            /// `delta = (output - reference) / |reference|` of one component.
            case relativeDelta
            /// The label's category (`DriftCatalogue.labelKey`) differs; delta 1 when changed.
            case labelChange
            /// CIE76 ΔE*ab over the L*, a*, b* components.
            case deltaE
            /// The output's own value against the threshold (no reference needed);
            /// `delta = output - threshold`.
            case value
        }
        /// Which side of the threshold is drift: `.increase` (delta > threshold), `.decrease`
        /// (delta < -threshold for deltas; value < threshold for `.value`), `.either` (|delta| > threshold).
        public enum Direction: String, Sendable, Codable, Equatable { case increase, decrease, either }

        public var source: Source
        /// Attribute name or pipeline measure name.
        public var measure: String
        /// The component compared, as named in `AttributeMeasurement.components` ("L*", "a*", "b*",
        /// "ITA°", "ratio") or derived ("C*": chroma from a* and b*); nil for ΔE, labels and pipeline measures.
        public var component: String?
        public var comparison: Comparison
        public var direction: Direction
        /// Positive magnitude (for `.value`: the limit itself).
        public var threshold: Double
        /// Unit of the threshold and delta, e.g. "ΔE*ab", "L*", "fraction", "°", "grey levels²".
        public var unit: String
        /// When set, the detector is skipped on outputs whose |yaw| exceeds this many degrees (the
        /// measure is pose-sensitive: yaw shortens the cheek-line width).
        public var maxAbsYaw: Double?

        public init(source: Source, measure: String, component: String? = nil, comparison: Comparison,
                    direction: Direction = .either, threshold: Double, unit: String, maxAbsYaw: Double? = nil) {
            self.source = source; self.measure = measure; self.component = component; self.comparison = comparison
            self.direction = direction; self.threshold = threshold; self.unit = unit; self.maxAbsYaw = maxAbsYaw
        }

        /// One line for people: "eye_colour ΔE*ab > 15 ΔE*ab".
        public var summary: String {
            let what = component.map { "\(measure).\($0)" } ?? measure
            let op: String
            switch (comparison, direction) {
            case (.labelChange, _): return "\(what) label category changes"
            case (.deltaE, _): return "\(what) ΔE*ab > \(DriftCatalogue.format(threshold)) \(unit)"
            case (.value, .decrease): op = "<"
            case (.value, _): op = ">"
            case (_, .increase): op = "rises by >"
            case (_, .decrease): op = "falls by >"
            case (_, .either): op = "changes by >"
            }
            let rel = comparison == .relativeDelta ? " (relative)" : ""
            let gate = maxAbsYaw.map { "; only when |yaw| <= \(DriftCatalogue.format($0))°" } ?? ""
            return "\(what) \(op) \(DriftCatalogue.format(threshold)) \(unit)\(rel)\(gate)"
        }
    }

    /// Builds negative-prompt fragments from the character's reference attributes.
    public struct Suppressor: Sendable, Codable, Equatable {
        /// The reference-dependent rule; `.fixed` uses only `fixed`.
        public enum Rule: String, Sendable, Codable, Equatable {
            case fixed
            case eyeColourOpposite, eyeCategory, irisSaturation, irisLightening
            case skinWarming, skinCooling, skinLightening, skinDarkening, skinTypeOpposite
            case hairColourOpposite, hairLightening, hairDarkening, greying, hairReddening, hairline
        }
        public var rule: Rule
        /// Generic fragments, appended after the rule's reference-specific ones.
        public var fixed: [String]
        public init(rule: Rule = .fixed, fixed: [String] = []) { self.rule = rule; self.fixed = fixed }

        /// The fragments for a character with these (fused) reference attributes: never empty, and
        /// never naming the reference's own value as something to avoid.
        public func fragments(reference: FaceAttributes) -> [String] {
            var out = ruleFragments(reference)
            for f in fixed where !out.contains(f) { out.append(f) }
            return out
        }

        private func ruleFragments(_ r: FaceAttributes) -> [String] {
            let eye = DriftCatalogue.labelKey(attribute: "eye_colour", label: r["eye_colour"]?.label ?? "unknown")
            let skin = DriftCatalogue.itaGroup(r["skin_tone"])
            let hair = DriftCatalogue.labelKey(attribute: "hair_colour", label: r["hair_colour"]?.label ?? "unknown")
            let hairL = r["hair_colour"].flatMap { $0.values.first }
            switch rule {
            case .fixed:
                return []
            case .eyeColourOpposite:
                switch eye {
                case "brown": return ["blue eyes", "green eyes", "hazel eyes", "grey eyes", "light eyes"]
                case "amber": return ["blue eyes", "grey eyes", "green eyes", "dark brown eyes"]
                case "hazel": return ["blue eyes", "grey eyes", "dark brown eyes", "black eyes"]
                case "blue": return ["brown eyes", "dark eyes", "hazel eyes", "green eyes"]
                case "green": return ["brown eyes", "dark eyes", "blue eyes", "grey eyes"]
                case "grey": return ["brown eyes", "dark eyes", "green eyes", "hazel eyes"]
                default: return ["changing eye colour", "mismatched eye colour"]
                }
            case .eyeCategory:
                return ["heterochromia", "mismatched eyes", "different eye colour"]
            case .irisSaturation:
                return eye == "grey" ? ["lifeless eyes", "dull eyes"] : ["colourless eyes", "dull eyes", "washed-out irises"]
            case .irisLightening:
                return eye == "blue" || eye == "grey" ? ["glowing eyes", "white irises"] : ["pale eyes", "glowing eyes", "light-coloured irises"]
            case .skinWarming:
                let b = r["skin_tone"].map { $0.values.count >= 3 ? $0.values[2] : 0 } ?? 0
                return b > 20 ? ["orange skin", "yellow skin cast"] : ["tanned skin", "golden skin", "warm orange skin tone"]
            case .skinCooling:
                return skin <= 1 ? ["grey skin", "ashen skin", "bluish skin tone"] : ["pale skin", "ashen skin", "grey skin"]
            case .skinLightening:
                switch skin {
                case 1, 2: return ["porcelain skin", "washed-out skin", "albino"]
                case 0: return ["lighter skin", "washed-out skin"]
                default: return ["lighter skin", "pale skin", "fair skin", "whitewashed"]
                }
            case .skinDarkening:
                switch skin {
                case 1, 2: return ["darker skin", "tanned skin", "dark skin"]
                case 3, 4: return ["darker skin", "deep skin tone"]
                case 0: return ["darker skin"]
                default: return ["darker skin", "ashy skin", "muddy skin tone"]
                }
            case .skinTypeOpposite:
                switch skin {
                case 1, 2: return ["dark skin", "brown skin", "tanned skin"]
                case 3, 4: return ["very pale skin", "very dark skin"]
                case 0: return ["different skin tone"]
                default: return ["light skin", "pale skin", "fair skin"]
                }
            case .hairColourOpposite:
                switch r["hair_colour"]?.label ?? "unknown" {
                case "black": return ["blond hair", "light brown hair", "grey hair", "red hair"]
                case "dark brown": return ["blond hair", "light brown hair", "grey hair", "red hair"]
                case "brown": return ["blond hair", "black hair", "red hair", "grey hair"]
                case "light brown": return ["black hair", "red hair", "grey hair", "platinum hair"]
                case "blond": return ["black hair", "dark brown hair", "brown hair", "red hair"]
                case "red/auburn", "red", "auburn": return ["black hair", "blond hair", "brown hair", "grey hair"]
                case "grey/white", "grey", "white": return ["black hair", "brown hair", "blond hair", "dyed hair"]
                default: return ["different hair colour", "dyed hair"]
                }
            case .hairLightening:
                if hair == "blond" || hair == "grey" { return ["platinum hair", "bleached hair"] }
                if let l = hairL, l >= 45 { return ["platinum hair", "bleached hair", "sun-bleached hair"] }
                return ["lighter hair", "highlights", "sun-bleached hair"]
            case .hairDarkening:
                if hair == "dark" { return ["dyed hair", "unnaturally dark hair", "flat hair colour"] }
                return ["darker hair", "dark brown hair", "black hair"]
            case .greying:
                return hair == "grey" ? ["snow-white hair", "fully white hair"] : ["grey hair", "white hair", "greying hair", "salt-and-pepper hair"]
            case .hairReddening:
                return hair == "red" ? ["orange hair", "brassy hair"] : ["red hair", "auburn hair", "ginger hair", "copper hair"]
            case .hairline:
                return hair == "unknown" ? ["changed hairline", "different hairstyle"] : ["receding hairline", "balding", "high forehead", "thinning hair"]
            }
        }
    }

    /// Stable identifier, e.g. "eye_colour_shift".
    public var id: String
    public var title: String
    /// One line: what the drift looks like.
    public var summary: String
    public var category: Category
    /// The attribute(s) concerned (attribute names, or pipeline measure names).
    public var attributes: [String]
    /// How the face pipeline detects it; nil when it cannot (see `unmeasurableReason`).
    public var detector: Detector?
    /// Why there is no detector (nil when there is one).
    public var unmeasurableReason: String?
    public var suppressor: Suppressor
    /// The lowest `NegativePrompt` strictness (0...4) at which its suppressor is included.
    public var minStrictness: Int
    /// Modes that move a measurement towards the population's typical value (generators regress to
    /// the mean): for a reference on the other side of `typicalValue` these are the likely drifts and
    /// are included one strictness level earlier.
    public var typical: Typical?

    /// A population-typical value of an attribute component and the direction of this mode's drift.
    public struct Typical: Sendable, Codable, Equatable {
        public var attribute: String
        public var component: String
        public var value: Double
        /// +1: this mode raises the value; -1: lowers it.
        public var sign: Int
        public init(attribute: String, component: String, value: Double, sign: Int) {
            self.attribute = attribute; self.component = component; self.value = value; self.sign = sign
        }
    }

    public init(id: String, title: String, summary: String, category: Category, attributes: [String],
                detector: Detector?, unmeasurableReason: String? = nil, suppressor: Suppressor,
                minStrictness: Int, typical: Typical? = nil) {
        self.id = id; self.title = title; self.summary = summary; self.category = category; self.attributes = attributes
        self.detector = detector; self.unmeasurableReason = unmeasurableReason; self.suppressor = suppressor
        self.minStrictness = minStrictness; self.typical = typical
    }

    /// True when the reference lies on the far side of the typical value from this mode's drift
    /// direction, so the drift would move it towards the population mean.
    public func leansTowardTypical(reference: FaceAttributes) -> Bool {
        guard let t = typical, let m = reference[t.attribute], let k = m.components.firstIndex(of: t.component),
              k < m.values.count else { return false }
        return t.sign > 0 ? m.values[k] < t.value : m.values[k] > t.value
    }

    /// The strictness at which this mode is first included for a character.
    public func effectiveMinStrictness(reference: FaceAttributes) -> Int {
        leansTowardTypical(reference: reference) ? max(0, minStrictness - 1) : minStrictness
    }
}

public enum DriftCatalogue {
    /// Population-typical face width / eye-to-nose height (`FaceAttributeMeter.faceWidthHeightRatio`):
    /// ≈ 120 mm over ≈ 48 mm.
    public static let typicalFaceRatio = 2.5
    /// Population-typical inner-corner distance over eye width (`eyeSpacingRatio`).
    public static let typicalEyeSpacing = 1.2

    /// The mode with an id.
    public static func mode(_ id: String) -> DriftMode? { all.first { $0.id == id } }

    /// The category of a label used by `.labelChange` detectors and the suppressors: eye colours fold
    /// "dark brown" into "brown"; skin labels keep the ITA group ("type III"); hair folds black and
    /// dark brown into "dark", brown and light brown into "brown", "grey/white" into "grey",
    /// "red/auburn" into "red". "unknown..." labels give "unknown".
    public static func labelKey(attribute: String, label: String) -> String {
        let l = label.lowercased()
        if l.hasPrefix("unknown") || l.isEmpty { return "unknown" }
        switch attribute {
        case "eye_colour": return l == "dark brown" ? "brown" : l
        case "skin_tone":
            if let i = l.firstIndex(of: "(") { return String(l[..<i]).trimmingSpaces }
            return l
        case "hair_colour":
            switch l {
            case "black", "dark brown": return "dark"
            case "brown", "light brown": return "brown"
            case "grey/white", "grey", "white": return "grey"
            case "red/auburn", "red", "auburn": return "red"
            default: return l
            }
        default: return l
        }
    }

    /// The ITA group 1...6 of a skin-tone measurement (from its ITA° value, or its label), 0 when unknown.
    public static func itaGroup(_ m: AttributeMeasurement?) -> Int {
        guard let m else { return 0 }
        if let k = m.components.firstIndex(of: "ITA°"), k < m.values.count {
            let ita = m.values[k]
            if ita > 55 { return 1 }
            if ita > 41 { return 2 }
            if ita > 28 { return 3 }
            if ita > 10 { return 4 }
            if ita >= -30 { return 5 }
            return 6
        }
        switch labelKey(attribute: "skin_tone", label: m.label) {
        case "type i": return 1
        case "type ii": return 2
        case "type iii": return 3
        case "type iv": return 4
        case "type v": return 5
        case "type vi": return 6
        default: return 0
        }
    }

    static func format(_ v: Double) -> String {
        let n = (v * 100).rounded()
        var s = String(Int(abs(n)) / 100)
        let frac = Int(abs(n)) % 100
        if frac != 0 { s += "." + (frac % 10 == 0 ? String(frac / 10) : (frac < 10 ? "0" : "") + String(frac)) }
        return (n < 0 ? "-" : "") + s
    }

    // MARK: The catalogue

    private typealias D = DriftMode.Detector
    private typealias S = DriftMode.Suppressor

    private static let fiveLandmarks = "the 5-point landmark model gives only eye corners and the nose base"

    /// Every drift mode, ids unique, in a fixed order (the order negative prompts list them in).
    public static let all: [DriftMode] = [
        // MARK: Colour
        DriftMode(id: "eye_colour_shift", title: "Eye colour shift",
                  summary: "The iris colour moves away from the reference (brown eyes rendered green, blue or grey).",
                  category: .colour, attributes: ["eye_colour"],
                  detector: D(source: .attribute, measure: "eye_colour", comparison: .deltaE, threshold: 15, unit: "ΔE*ab"),
                  suppressor: S(rule: .eyeColourOpposite), minStrictness: 0),
        DriftMode(id: "eye_colour_category_change", title: "Eye colour category change",
                  summary: "The iris colour crosses into another named category (brown to hazel, blue to grey).",
                  category: .colour, attributes: ["eye_colour"],
                  detector: D(source: .attribute, measure: "eye_colour", comparison: .labelChange, threshold: 0.5, unit: "label"),
                  suppressor: S(rule: .eyeCategory), minStrictness: 1),
        DriftMode(id: "iris_saturation_loss", title: "Iris saturation loss",
                  summary: "The iris loses chroma: dull, washed-out or greyish eyes.",
                  category: .colour, attributes: ["eye_colour"],
                  detector: D(source: .attribute, measure: "eye_colour", component: "C*", comparison: .absoluteDelta,
                              direction: .decrease, threshold: 8, unit: "C*ab"),
                  suppressor: S(rule: .irisSaturation), minStrictness: 2),
        DriftMode(id: "iris_lightening", title: "Iris lightening",
                  summary: "The iris gets lighter than the reference: pale or glowing eyes.",
                  category: .colour, attributes: ["eye_colour"],
                  detector: D(source: .attribute, measure: "eye_colour", component: "L*", comparison: .absoluteDelta,
                              direction: .increase, threshold: 12, unit: "L*"),
                  suppressor: S(rule: .irisLightening), minStrictness: 2),
        DriftMode(id: "skin_warming", title: "Skin tone warming",
                  summary: "The skin shifts towards yellow/orange (b* rises): tanned or golden.",
                  category: .colour, attributes: ["skin_tone"],
                  detector: D(source: .attribute, measure: "skin_tone", component: "b*", comparison: .absoluteDelta,
                              direction: .increase, threshold: 6, unit: "b*"),
                  suppressor: S(rule: .skinWarming), minStrictness: 1),
        DriftMode(id: "skin_cooling", title: "Skin tone cooling",
                  summary: "The skin shifts towards blue/grey (b* falls): ashen or pallid.",
                  category: .colour, attributes: ["skin_tone"],
                  detector: D(source: .attribute, measure: "skin_tone", component: "b*", comparison: .absoluteDelta,
                              direction: .decrease, threshold: 6, unit: "b*"),
                  suppressor: S(rule: .skinCooling), minStrictness: 1),
        DriftMode(id: "skin_reddening", title: "Skin reddening",
                  summary: "The skin shifts towards red (a* rises): flushed or sunburnt.",
                  category: .colour, attributes: ["skin_tone"],
                  detector: D(source: .attribute, measure: "skin_tone", component: "a*", comparison: .absoluteDelta,
                              direction: .increase, threshold: 6, unit: "a*"),
                  suppressor: S(fixed: ["flushed skin", "red skin", "sunburn", "rosy cheeks"]), minStrictness: 2),
        DriftMode(id: "skin_lightening", title: "Skin lightening",
                  summary: "The skin gets lighter than the reference (L* rises, ITA° rises): whitewashing.",
                  category: .colour, attributes: ["skin_tone"],
                  detector: D(source: .attribute, measure: "skin_tone", component: "L*", comparison: .absoluteDelta,
                              direction: .increase, threshold: 8, unit: "L*"),
                  suppressor: S(rule: .skinLightening), minStrictness: 0),
        DriftMode(id: "skin_darkening", title: "Skin darkening",
                  summary: "The skin gets darker than the reference (L* falls, ITA° falls).",
                  category: .colour, attributes: ["skin_tone"],
                  detector: D(source: .attribute, measure: "skin_tone", component: "L*", comparison: .absoluteDelta,
                              direction: .decrease, threshold: 8, unit: "L*"),
                  suppressor: S(rule: .skinDarkening), minStrictness: 0),
        DriftMode(id: "skin_type_change", title: "Skin type change",
                  summary: "The skin's ITA angle moves by more than one group's width (≈ 14°).",
                  category: .colour, attributes: ["skin_tone"],
                  detector: D(source: .attribute, measure: "skin_tone", component: "ITA°", comparison: .absoluteDelta,
                              direction: .either, threshold: 14, unit: "ITA°"),
                  suppressor: S(rule: .skinTypeOpposite), minStrictness: 1),
        DriftMode(id: "hair_colour_shift", title: "Hair colour shift",
                  summary: "The hair colour moves away from the reference (black hair rendered brown or blond).",
                  category: .colour, attributes: ["hair_colour"],
                  detector: D(source: .attribute, measure: "hair_colour", comparison: .deltaE, threshold: 18, unit: "ΔE*ab"),
                  suppressor: S(rule: .hairColourOpposite), minStrictness: 0),
        DriftMode(id: "hair_lightening", title: "Hair lightening",
                  summary: "The hair gets lighter (L* rises): highlights, sun-bleaching.",
                  category: .colour, attributes: ["hair_colour"],
                  detector: D(source: .attribute, measure: "hair_colour", component: "L*", comparison: .absoluteDelta,
                              direction: .increase, threshold: 12, unit: "L*"),
                  suppressor: S(rule: .hairLightening), minStrictness: 1),
        DriftMode(id: "hair_darkening", title: "Hair darkening",
                  summary: "The hair gets darker (L* falls).",
                  category: .colour, attributes: ["hair_colour"],
                  detector: D(source: .attribute, measure: "hair_colour", component: "L*", comparison: .absoluteDelta,
                              direction: .decrease, threshold: 12, unit: "L*"),
                  suppressor: S(rule: .hairDarkening), minStrictness: 1),
        DriftMode(id: "greying", title: "Greying",
                  summary: "The hair loses colour (C* falls): grey, white or salt-and-pepper.",
                  category: .colour, attributes: ["hair_colour"],
                  detector: D(source: .attribute, measure: "hair_colour", component: "C*", comparison: .absoluteDelta,
                              direction: .decrease, threshold: 8, unit: "C*ab"),
                  suppressor: S(rule: .greying), minStrictness: 1),
        DriftMode(id: "hair_reddening", title: "Hair reddening",
                  summary: "The hair takes a red or copper cast (a* rises).",
                  category: .colour, attributes: ["hair_colour"],
                  detector: D(source: .attribute, measure: "hair_colour", component: "a*", comparison: .absoluteDelta,
                              direction: .increase, threshold: 10, unit: "a*"),
                  suppressor: S(rule: .hairReddening), minStrictness: 2),
        DriftMode(id: "makeup_colour_cast", title: "Makeup / colour cast",
                  summary: "Added makeup (lipstick, eyeshadow) or a tinted cast over the face.",
                  category: .colour, attributes: ["lips", "eyelids"],
                  detector: nil,
                  unmeasurableReason: "lips and eyelids are not located: \(fiveLandmarks), and a global cast cannot be told from the skin-tone modes without the reference image's white point",
                  suppressor: S(fixed: ["heavy makeup", "lipstick", "eyeshadow", "colour cast", "tinted skin"]), minStrictness: 3),

        // MARK: Geometry
        DriftMode(id: "face_widening", title: "Face widening",
                  summary: "The face gets wider for its height: rounder, fuller cheeks.",
                  category: .geometry, attributes: ["face_width_height_ratio"],
                  detector: D(source: .attribute, measure: "face_width_height_ratio", component: "ratio", comparison: .relativeDelta,
                              direction: .increase, threshold: 0.10, unit: "fraction", maxAbsYaw: 10),
                  suppressor: S(fixed: ["wide face", "round face", "chubby cheeks", "puffy face"]), minStrictness: 2,
                  typical: DriftMode.Typical(attribute: "face_width_height_ratio", component: "ratio", value: typicalFaceRatio, sign: 1)),
        DriftMode(id: "face_narrowing", title: "Face narrowing",
                  summary: "The face gets narrower for its height: elongated, gaunt.",
                  category: .geometry, attributes: ["face_width_height_ratio"],
                  detector: D(source: .attribute, measure: "face_width_height_ratio", component: "ratio", comparison: .relativeDelta,
                              direction: .decrease, threshold: 0.10, unit: "fraction", maxAbsYaw: 10),
                  suppressor: S(fixed: ["narrow face", "elongated face", "gaunt face", "long face"]), minStrictness: 2,
                  typical: DriftMode.Typical(attribute: "face_width_height_ratio", component: "ratio", value: typicalFaceRatio, sign: -1)),
        DriftMode(id: "jawline_softening", title: "Jawline softening",
                  summary: "The jaw loses definition: rounded jaw, weak chin, double chin.",
                  category: .geometry, attributes: ["jawline"],
                  detector: nil,
                  unmeasurableReason: "no jaw or chin points: \(fiveLandmarks) (the 68-point model's jaw contour would be needed); face_width_height_ratio sees width only",
                  suppressor: S(fixed: ["soft jawline", "weak chin", "double chin", "rounded jaw"]), minStrictness: 2),
        DriftMode(id: "eye_spacing_widening", title: "Eye spacing widening",
                  summary: "The eyes move apart relative to their width: wide-set eyes.",
                  category: .geometry, attributes: ["eye_spacing_ratio"],
                  detector: D(source: .attribute, measure: "eye_spacing_ratio", component: "ratio", comparison: .relativeDelta,
                              direction: .increase, threshold: 0.12, unit: "fraction"),
                  suppressor: S(fixed: ["wide-set eyes", "far-apart eyes"]), minStrictness: 2,
                  typical: DriftMode.Typical(attribute: "eye_spacing_ratio", component: "ratio", value: typicalEyeSpacing, sign: 1)),
        DriftMode(id: "eye_spacing_narrowing", title: "Eye spacing narrowing",
                  summary: "The eyes move together relative to their width: close-set eyes.",
                  category: .geometry, attributes: ["eye_spacing_ratio"],
                  detector: D(source: .attribute, measure: "eye_spacing_ratio", component: "ratio", comparison: .relativeDelta,
                              direction: .decrease, threshold: 0.12, unit: "fraction"),
                  suppressor: S(fixed: ["close-set eyes", "eyes too close together"]), minStrictness: 2,
                  typical: DriftMode.Typical(attribute: "eye_spacing_ratio", component: "ratio", value: typicalEyeSpacing, sign: -1)),
        DriftMode(id: "eye_size_change", title: "Eye size change",
                  summary: "The eyes grow or shrink: enlarged, anime-like or squinting eyes.",
                  category: .geometry, attributes: ["eye_opening"],
                  detector: nil,
                  unmeasurableReason: "eye opening needs eyelid points: \(fiveLandmarks); eye width relative to spacing is eye_spacing_ratio already",
                  suppressor: S(fixed: ["oversized eyes", "anime eyes", "tiny eyes", "squinting"]), minStrictness: 3),
        DriftMode(id: "nose_width_change", title: "Nose width change",
                  summary: "The nose gets wider or narrower, or is reshaped.",
                  category: .geometry, attributes: ["nose"],
                  detector: nil,
                  unmeasurableReason: "the nose is a single point (its base): \(fiveLandmarks); alar width needs the 68-point model",
                  suppressor: S(fixed: ["wide nose", "narrow nose", "reshaped nose", "different nose"]), minStrictness: 3),
        DriftMode(id: "hairline_retreat", title: "Hairline retreat",
                  summary: "The hairline recedes or thins: higher forehead, balding.",
                  category: .geometry, attributes: ["hairline"],
                  detector: nil,
                  unmeasurableReason: "the hairline is not located: \(fiveLandmarks) and the hair band is sampled at a fixed height, so a receding line shows only as an 'unknown' hair colour",
                  suppressor: S(rule: .hairline), minStrictness: 2),
        DriftMode(id: "asymmetry_creep", title: "Asymmetry creep",
                  summary: "The two halves of the face diverge: uneven eyes, lopsided features.",
                  category: .geometry, attributes: ["symmetry"],
                  detector: nil,
                  unmeasurableReason: "with 5 landmarks left/right differences in eye width and nose offset are indistinguishable from yaw",
                  suppressor: S(fixed: ["asymmetrical face", "uneven eyes", "lopsided face", "distorted face"]), minStrictness: 2),

        // MARK: Age and identity
        DriftMode(id: "age_drift_older", title: "Age drift (older)",
                  summary: "The character looks older: wrinkles, sagging skin.",
                  category: .age, attributes: ["age"],
                  detector: nil,
                  unmeasurableReason: "no age estimator in the face pipeline; the registered attributes carry no age",
                  suppressor: S(fixed: ["older", "wrinkles", "aged skin", "crow's feet", "sagging skin"]), minStrictness: 2),
        DriftMode(id: "age_drift_younger", title: "Age drift (younger)",
                  summary: "The character looks younger: childlike, baby-faced.",
                  category: .age, attributes: ["age"],
                  detector: nil,
                  unmeasurableReason: "no age estimator in the face pipeline; the registered attributes carry no age",
                  suppressor: S(fixed: ["younger", "childlike", "baby face", "teenage"]), minStrictness: 2),
        DriftMode(id: "identity_drift", title: "Identity drift",
                  summary: "The face stops being the same person: the identity embedding moves away from the character's.",
                  category: .identity, attributes: ["identity_distance"],
                  detector: D(source: .pipeline, measure: "identity_distance", comparison: .value, direction: .increase,
                              threshold: FaceDescriptor.sameIdentityDistance, unit: "descriptor distance"),
                  suppressor: S(fixed: ["different person", "lookalike", "generic face", "changed facial features"]), minStrictness: 1),
        DriftMode(id: "gender_presentation_drift", title: "Gender presentation drift",
                  summary: "The character's gender presentation changes.",
                  category: .identity, attributes: ["gender_presentation"],
                  detector: nil,
                  unmeasurableReason: "no gender-presentation classifier in the face pipeline (and none is registered); identity_distance catches large changes",
                  suppressor: S(fixed: ["gender-swapped", "different gender presentation", "androgynous features"]), minStrictness: 2),
        DriftMode(id: "facial_hair_change", title: "Facial hair change",
                  summary: "A beard, moustache or stubble appears or disappears.",
                  category: .identity, attributes: ["facial_hair"],
                  detector: nil,
                  unmeasurableReason: "the chin and upper lip are not located: \(fiveLandmarks); a beard only shortens face_width_height_ratio",
                  suppressor: S(fixed: ["added beard", "moustache", "stubble"]), minStrictness: 3),
        DriftMode(id: "accessory_glasses", title: "Accessory appearance (glasses)",
                  summary: "Glasses or sunglasses appear on a character who has none.",
                  category: .identity, attributes: ["accessories"],
                  detector: nil,
                  unmeasurableReason: "no glasses detector; frames over the iris discs would show only as eye-colour noise",
                  suppressor: S(fixed: ["glasses", "eyeglasses", "sunglasses", "spectacles"]), minStrictness: 3),

        // MARK: Expression and pose
        DriftMode(id: "expression_exaggeration", title: "Expression exaggeration",
                  summary: "The expression gets exaggerated: grimace, wide-open mouth, caricature.",
                  category: .expression, attributes: ["expression"],
                  detector: nil,
                  unmeasurableReason: "the mouth is not located: \(fiveLandmarks)",
                  suppressor: S(fixed: ["exaggerated expression", "grimace", "wide open mouth", "caricature"]), minStrictness: 3),
        DriftMode(id: "pose_drift_yaw", title: "Pose drift (yaw)",
                  summary: "The head turns away from frontal: three-quarter or profile view.",
                  category: .pose, attributes: ["yaw"],
                  detector: D(source: .pipeline, measure: "abs_yaw", comparison: .value, direction: .increase, threshold: 20, unit: "°"),
                  suppressor: S(fixed: ["profile view", "side view", "turned head", "looking away"]), minStrictness: 3),
        DriftMode(id: "head_roll", title: "Head roll",
                  summary: "The head tilts sideways (eye line not horizontal).",
                  category: .pose, attributes: ["roll"],
                  detector: D(source: .pipeline, measure: "abs_roll", comparison: .value, direction: .increase, threshold: 15, unit: "°"),
                  suppressor: S(fixed: ["tilted head", "head tilt", "crooked pose"]), minStrictness: 3),
        DriftMode(id: "head_pitch", title: "Head pitch",
                  summary: "The head tips up or down.",
                  category: .pose, attributes: ["pitch"],
                  detector: nil,
                  unmeasurableReason: "pitch is not separable from face proportions with 5 landmarks (eye-to-nose height changes with both)",
                  suppressor: S(fixed: ["looking up", "looking down", "head tilted back"]), minStrictness: 3),

        // MARK: Lighting
        DriftMode(id: "lighting_from_left", title: "Lighting shift from the left",
                  summary: "Strong light from the image left: the image-left cheek much brighter than the right.",
                  category: .lighting, attributes: ["cheek_lightness_difference"],
                  detector: D(source: .pipeline, measure: "cheek_lightness_difference", comparison: .value, direction: .increase,
                              threshold: 15, unit: "L* (image-left minus image-right cheek)"),
                  suppressor: S(fixed: ["harsh side lighting from the left", "half-face shadow", "split lighting"]), minStrictness: 2),
        DriftMode(id: "lighting_from_right", title: "Lighting shift from the right",
                  summary: "Strong light from the image right: the image-right cheek much brighter than the left.",
                  category: .lighting, attributes: ["cheek_lightness_difference"],
                  detector: D(source: .pipeline, measure: "cheek_lightness_difference", comparison: .value, direction: .decrease,
                              threshold: -15, unit: "L* (image-left minus image-right cheek)"),
                  suppressor: S(fixed: ["harsh side lighting from the right", "half-face shadow", "split lighting"]), minStrictness: 2),
        DriftMode(id: "overexposure", title: "Overexposure",
                  summary: "Blown highlights on the face: washed out, harsh flash.",
                  category: .lighting, attributes: ["clipped_highlights"],
                  detector: D(source: .pipeline, measure: "clipped_highlights", comparison: .value, direction: .increase,
                              threshold: 0.05, unit: "fraction of face-centre pixels"),
                  suppressor: S(fixed: ["overexposed", "blown highlights", "washed out", "harsh flash"]), minStrictness: 3),
        DriftMode(id: "underexposure", title: "Underexposure",
                  summary: "Crushed shadows on the face: dark, murky.",
                  category: .lighting, attributes: ["clipped_shadows"],
                  detector: D(source: .pipeline, measure: "clipped_shadows", comparison: .value, direction: .increase,
                              threshold: 0.05, unit: "fraction of face-centre pixels"),
                  suppressor: S(fixed: ["underexposed", "dark face", "crushed shadows", "murky lighting"]), minStrictness: 3),

        // MARK: Texture
        DriftMode(id: "blur_softness", title: "Blur / softness",
                  summary: "The face is blurred or soft-focused.",
                  category: .texture, attributes: ["sharpness"],
                  detector: D(source: .pipeline, measure: "sharpness", comparison: .value, direction: .decrease,
                              threshold: 50, unit: "grey levels² (Laplacian variance, chip face centre)"),
                  suppressor: S(fixed: ["blurry", "out of focus", "soft focus", "motion blur", "low detail"]), minStrictness: 3),
        DriftMode(id: "plastic_skin", title: "Plastic skin / over-smoothing",
                  summary: "Skin texture is smoothed away: airbrushed, waxy, doll-like.",
                  category: .texture, attributes: ["cheek_texture"],
                  // Against the character's own references, not an absolute number: 64 px generated faces
                  // and soft studio portraits have little cheek texture, and that is how they look.
                  detector: D(source: .pipeline, measure: "cheek_texture", comparison: .relativeDelta, direction: .decrease,
                              threshold: 0.5, unit: "fraction of the references' cheek texture (Laplacian variance)"),
                  suppressor: S(fixed: ["plastic skin", "airbrushed", "over-smoothed skin", "waxy skin", "doll-like"]), minStrictness: 3),
    ]
}

private extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
