#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The judge's side of the verification loop: verdicts, the uncertainty model, one output's
// judgement, and the `IdentityJudge` protocol the face pipeline implements.

/// A verdict on one output.
public enum Verdict: String, Sendable, Codable, Equatable {
    /// Clearly below the threshold.
    case pass
    /// Within the uncertain band around the threshold, on either side: not a confident answer.
    case uncertain
    /// Clearly at or above the threshold.
    case fail
    /// No face found: nothing to compare.
    case noFace = "no_face"
}

/// How the judge turns a distance into a verdict with a confidence.
///
/// A descriptor distance is a measurement with noise: the same face re-rendered or slightly shifted
/// moves it by about `sigma`. The confidence is the probability, under Gaussian noise of that size,
/// that the true distance lies on the same side of the threshold as the measured one:
/// `Φ(|threshold − distance| / sigma)`, 0.5 at the threshold. Within `band` of the threshold
/// (confidence below `Φ(band / sigma)`) the verdict is `.uncertain`.
public struct UncertaintyModel: Sendable, Codable, Equatable {
    /// The calibrated same-person threshold (one comparison).
    public var threshold: Double
    public var sigma: Double
    public var band: Double
    /// The threshold for outputs of an unanchored search (`Selection.unanchored`): below what such a
    /// search reaches against a different person. Nil: the calibrated threshold applies to every output.
    public var lookalikeThreshold: Double?

    public init(threshold: Double, sigma: Double, band: Double, lookalikeThreshold: Double? = nil) {
        self.threshold = threshold; self.sigma = sigma; self.band = band; self.lookalikeThreshold = lookalikeThreshold
    }

    /// The threshold an output chosen this way must meet.
    public func threshold(for selection: Selection) -> Double {
        if case .unanchored = selection, let t = lookalikeThreshold { return min(t, threshold) }
        return threshold
    }

    /// The verdict against the threshold for `selection`.
    public func verdict(distance d: Double, selection: Selection = .single) -> (verdict: Verdict, confidence: Double) {
        let threshold = self.threshold(for: selection)
        guard d.isFinite else { return (.noFace, 1) }
        let margin = threshold - d
        let confidence = sigma > 0 ? 0.5 * (1 + erf(abs(margin) / (sigma * 2.0.squareRoot()))) : 1
        if abs(margin) < band { return (.uncertain, confidence) }
        return (margin > 0 ? .pass : .fail, confidence)
    }
}

/// The judge's findings on one output.
public struct Judgement: Sendable, Codable, Equatable {
    public var verdict: Verdict
    /// Distance of the judged face's descriptor to the character's identity (nil without a face).
    public var distance: Double?
    /// The threshold applied (`UncertaintyModel.threshold(for:)`).
    public var threshold: Double
    /// How the output was chosen (which threshold applies).
    public var selection: Selection
    /// See `UncertaintyModel`; 1 for `.noFace`.
    public var confidence: Double
    /// Faces found in the output; the largest one is judged.
    public var faces: Int
    public var box: Rect?
    /// Drift modes diagnosed against the character's reference attributes.
    public var findings: [DriftFinding]
    /// Every measured drift mode's level: its change toward the limit over the limit (0 none, above 1
    /// diagnosed as drift), so attributes that moved without drifting are visible too.
    public var driftLevels: [String: Double]

    public init(verdict: Verdict, distance: Double?, threshold: Double, selection: Selection = .single, confidence: Double, faces: Int,
                box: Rect?, findings: [DriftFinding], driftLevels: [String: Double] = [:]) {
        self.verdict = verdict; self.distance = distance; self.threshold = threshold; self.selection = selection; self.confidence = confidence
        self.faces = faces; self.box = box; self.findings = findings; self.driftLevels = driftLevels
    }
}

/// Measures an output against a character.
public protocol IdentityJudge {
    var uncertainty: UncertaintyModel { get }
    func judge(_ image: RGBImage, character: CharacterRecord, selection: Selection) -> Judgement
}
