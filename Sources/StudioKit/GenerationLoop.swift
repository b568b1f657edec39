#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The verification loop shared by every backend: generate -> verify every output -> diagnose drift
// -> regenerate with stricter conditioning, within an attempt budget. Backends (the local generator,
// remote adapters) implement `GenerationBackend`; the face pipeline implements `IdentityJudge`.

/// One requested output of a run.
public struct ShotRequest: Sendable, Codable, Equatable {
    /// 0-based position in the run.
    public var index: Int
    public var prompt: String
    /// The request's negatives (each may hold several comma-separated ones).
    public var negatives: [String]
    /// The first attempt's seed; later attempts derive theirs (`VerificationLoop.seed(shot:attempt:)`).
    public var seed: UInt64

    public init(index: Int, prompt: String, negatives: [String], seed: UInt64) {
        self.index = index; self.prompt = prompt; self.negatives = negatives; self.seed = seed
    }
}

/// How hard an attempt conditions on the character.
public struct StrictnessStep: Sendable, Codable, Equatable {
    /// Negative-prompt strictness, 0...4 (`NegativePrompt.synthesize`).
    public var level: Int
    /// Identity strength, 0...1: how much the backend weighs the character's identity against the
    /// prompt (the local backend's search weight; an adapter's strength knob, mapped to its range).
    public var identityStrength: Double

    public init(level: Int, identityStrength: Double) { self.level = level; self.identityStrength = identityStrength }
}

/// The strictness of each attempt: attempt 1 uses `steps[0]`, later attempts climb; past the end the
/// last step repeats.
public struct StrictnessLadder: Sendable, Codable, Equatable {
    public var steps: [StrictnessStep]

    public init(steps: [StrictnessStep]) {
        precondition(!steps.isEmpty, "a strictness ladder needs at least one step")
        self.steps = steps
    }

    /// Starts in the 0.7-0.85 identity-strength band identity adapters are usually run at (InstantID's
    /// and PuLID's published defaults sit there), then climbs to full strength while the negative
    /// prompt adds modes and weight a level at a time.
    public static let standard = StrictnessLadder(steps: [
        StrictnessStep(level: 0, identityStrength: 0.75),
        StrictnessStep(level: 1, identityStrength: 0.85),
        StrictnessStep(level: 2, identityStrength: 0.92),
        StrictnessStep(level: 3, identityStrength: 0.97),
        StrictnessStep(level: 4, identityStrength: 1.0),
    ])

    /// The step for a 1-based attempt.
    public func step(attempt: Int) -> StrictnessStep { steps[min(steps.count - 1, max(0, attempt - 1))] }
}

/// Everything a backend receives for one attempt.
public struct Conditioning: Sendable {
    public var character: CharacterRecord
    public var shot: ShotRequest
    /// 1-based.
    public var attempt: Int
    public var seed: UInt64
    public var strictness: StrictnessStep
    /// Assembled for this character, request, strictness and the modes diagnosed so far.
    public var negative: NegativePrompt
    /// Modes diagnosed in earlier attempts of this shot (targeted in `negative`).
    public var targetedModes: [String]
    /// How the output will be judged (thresholds per `Selection`, uncertain band); a backend that
    /// searches aims below the threshold for its kind of selection.
    public var uncertainty: UncertaintyModel

    public init(character: CharacterRecord, shot: ShotRequest, attempt: Int, seed: UInt64, strictness: StrictnessStep,
                negative: NegativePrompt, targetedModes: [String], uncertainty: UncertaintyModel) {
        self.character = character; self.shot = shot; self.attempt = attempt; self.seed = seed; self.strictness = strictness
        self.negative = negative; self.targetedModes = targetedModes; self.uncertainty = uncertainty
    }
}

/// How a backend chose its output, which decides the threshold the output must meet.
///
/// A backend that searches for the judge's own metric selects for lookalikes: among enough candidates
/// some different person always comes out close (winner's curse). The calibrated threshold holds for
/// one draw, and for a search confined to the character's own region of a generator's latent space
/// (every candidate there shows the character by construction); a search over the whole space must
/// beat what such a search reaches against a *different* person (`UncertaintyModel.lookalikeThreshold`).
public enum Selection: Sendable, Codable, Equatable {
    /// One draw per attempt (remote backends; the local backend without identity injection).
    case single
    /// A search kept near the character's own latent anchor.
    case anchored(candidates: Int)
    /// A search over the whole latent space (no anchor: e.g. a real-photo character on the local generator).
    case unanchored(candidates: Int)
}

/// What a backend returns for one attempt.
public struct GeneratedOutput: Sendable {
    public var image: RGBImage
    public var selection: Selection
    /// Drift modes the prompt asked for (e.g. `pose_drift_yaw` for "head turned left"): found in the
    /// output they are the request, not drift, and are never targeted.
    public var requestedModes: [String] = []
    /// Backend figures for the report (e.g. the local search's evaluations, restarts, best distance).
    public var notes: [String: Double]
    /// Backend yes/no facts for the report (e.g. whether the identity was injected), kept apart from
    /// `notes` so that report.json has booleans, not 0 and 1.
    public var flags: [String: Bool]
    /// Things the user should know (prompt words the backend could not honour, a surface without a
    /// negative prompt, ...).
    public var messages: [String]
    /// A video's sampled frames (empty for an image): each is judged, and the worst decides.
    public var frames: [VideoFrame]

    public init(image: RGBImage, selection: Selection = .single, notes: [String: Double] = [:], flags: [String: Bool] = [:],
                messages: [String] = [], requestedModes: [String] = [], frames: [VideoFrame] = []) {
        self.image = image; self.selection = selection; self.notes = notes; self.flags = flags
        self.messages = messages; self.requestedModes = requestedModes
        self.frames = frames
    }
}

/// A frame sampled from a video output, with its time.
public struct VideoFrame: Sendable {
    public var seconds: Double
    public var image: RGBImage
    public init(seconds: Double, image: RGBImage) { self.seconds = seconds; self.image = image }
}

/// One sampled frame's verdict, for the report.
public struct FrameScore: Sendable, Codable, Equatable {
    public var index: Int
    public var seconds: Double
    public var verdict: Verdict
    /// nil: no face in this frame.
    public var distance: Double?
    public init(index: Int, seconds: Double, verdict: Verdict, distance: Double?) {
        self.index = index; self.seconds = seconds; self.verdict = verdict; self.distance = distance
    }
}

/// Progress inside one attempt (for progress bars).
public struct GenerationProgress: Sendable {
    public var done: Int
    public var total: Int
    /// Best identity distance so far, when the backend measures one.
    public var bestDistance: Double?
    public init(done: Int, total: Int, bestDistance: Double? = nil) { self.done = done; self.total = total; self.bestDistance = bestDistance }
}

/// An error a backend raises for one attempt. `retryable` failures (a content filter, a drawing with no
/// usable output) count as a failed attempt; others (authentication, bad request) end the shot.
public struct GenerationFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var retryable: Bool
    public init(_ message: String, retryable: Bool) { self.message = message; self.retryable = retryable }
    public var description: String { message }
}

/// A generator the loop can drive.
public protocol GenerationBackend {
    /// Short name for reports ("local", an adapter's name).
    var name: String { get }
    func generate(_ conditioning: Conditioning, progress: (GenerationProgress) -> Void) throws -> GeneratedOutput
}

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

    public init(verdict: Verdict, distance: Double?, threshold: Double, selection: Selection = .single, confidence: Double, faces: Int,
                box: Rect?, findings: [DriftFinding]) {
        self.verdict = verdict; self.distance = distance; self.threshold = threshold; self.selection = selection; self.confidence = confidence
        self.faces = faces; self.box = box; self.findings = findings
    }
}

/// Measures an output against a character.
public protocol IdentityJudge {
    var uncertainty: UncertaintyModel { get }
    func judge(_ image: RGBImage, character: CharacterRecord, selection: Selection) -> Judgement
}

/// One attempt of a shot, as the report records it.
public struct AttemptRecord: Sendable, Codable, Equatable {
    public var attempt: Int
    public var seed: UInt64
    public var strictness: StrictnessStep
    public var negativePrompt: String
    /// Catalogue modes in the negative prompt (targeted first).
    public var negativeModes: [String]
    /// Modes targeted because an earlier attempt drifted in them.
    public var targetedModes: [String]
    /// The suppressor fragments each targeted mode put in the negative prompt.
    public var targetedSuppressors: [String: [String]] = [:]
    public var judgement: Judgement?
    /// Findings the prompt asked for (`GeneratedOutput.requestedModes`), moved out of the judgement's
    /// findings: reported, not counted as drift.
    public var requestedChanges: [DriftFinding] = []
    /// Set when the backend failed instead of producing an image.
    public var error: String?
    public var generateSeconds: Double
    public var verifySeconds: Double
    public var notes: [String: Double]
    /// The backend's `GeneratedOutput.flags`.
    public var flags: [String: Bool] = [:]
    public var messages: [String]
    /// A video's frames, each judged (the attempt's judgement is its worst frame's).
    public var frames: [FrameScore]? = nil
}

/// The outcome of a shot.
public enum ShotStatus: String, Sendable, Codable, Equatable {
    /// An attempt passed with confidence.
    case passed
    /// The best attempt was within the uncertain band: not claimed as a pass.
    case uncertain
    /// Every attempt failed (or had no face, or the backend failed).
    case failed
}

public struct ShotResult: Sendable, Codable, Equatable {
    public var shot: ShotRequest
    public var status: ShotStatus
    public var attempts: [AttemptRecord]
    /// 1-based attempt whose image is the shot's output: the passing one, else the closest.
    public var chosenAttempt: Int?
    public var bestDistance: Double?
    /// Seconds from the start of the shot until the passing image was verified.
    public var secondsToPass: Double?
    /// Plain-language summary ("passed on attempt 2 at 0.41 (threshold 0.508)", "best 0.62 ...").
    public var summary: String
}

/// A shot's result with the images of its attempts (nil where the backend failed).
public struct ShotRun: Sendable {
    public var result: ShotResult
    public var images: [RGBImage?]
}

/// Events for progress displays.
public enum LoopEvent {
    case attemptStarted(shot: Int, attempt: Int, strictness: StrictnessStep)
    case generating(shot: Int, attempt: Int, GenerationProgress)
    case attemptFinished(shot: Int, AttemptRecord)
}

/// The one verification loop.
public struct VerificationLoop: Sendable {
    public var maxAttempts: Int
    public var ladder: StrictnessLadder
    /// Cap on the negative prompt's length (`NegativePrompt.synthesize`).
    public var negativeMaxLength: Int

    public init(maxAttempts: Int = 3, ladder: StrictnessLadder = .standard, negativeMaxLength: Int = NegativePrompt.defaultMaxLength) {
        precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
        self.maxAttempts = maxAttempts; self.ladder = ladder; self.negativeMaxLength = negativeMaxLength
    }

    /// The seed of a 1-based attempt: the shot's seed for attempt 1, then a SplitMix64 draw from the
    /// shot's seed mixed with the attempt number (repeatable, and different per attempt).
    public static func seed(shot: ShotRequest, attempt: Int) -> UInt64 {
        if attempt <= 1 { return shot.seed }
        var g = SplitMix64(seed: shot.seed ^ (UInt64(attempt) &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }

    /// Runs one shot: attempts until one passes with confidence or the budget is spent. Each failed
    /// attempt's diagnosed drift modes are targeted in every later attempt's negatives.
    public func run(shot: ShotRequest, character: CharacterRecord, backend: some GenerationBackend, judge: some IdentityJudge,
                    events: (LoopEvent) -> Void = { _ in }) -> ShotRun {
        let start = monotonicSeconds()
        var attempts: [AttemptRecord] = []
        var images: [RGBImage?] = []
        var targeted: [String] = []
        var passedAt: Int? = nil
        var secondsToPass: Double? = nil
        let u = judge.uncertainty
        for attempt in 1...maxAttempts {
            let step = ladder.step(attempt: attempt)
            events(.attemptStarted(shot: shot.index, attempt: attempt, strictness: step))
            let negative = NegativePrompt.synthesize(character: character, request: shot.negatives, strictness: step.level,
                                                     diagnosed: targeted, maxLength: negativeMaxLength)
            let c = Conditioning(character: character, shot: shot, attempt: attempt, seed: Self.seed(shot: shot, attempt: attempt),
                                 strictness: step, negative: negative, targetedModes: targeted, uncertainty: u)
            let t0 = monotonicSeconds()
            var record = AttemptRecord(attempt: attempt, seed: c.seed, strictness: step, negativePrompt: negative.text,
                                       negativeModes: negative.modeIds, targetedModes: targeted, judgement: nil, error: nil,
                                       generateSeconds: 0, verifySeconds: 0, notes: [:], messages: [])
            for id in targeted {
                let texts = negative.fragments.filter { $0.source == .targeted(id) }.map(\.text)
                if !texts.isEmpty { record.targetedSuppressors[id] = texts }
            }
            var stop = false
            do {
                let out = try backend.generate(c) { p in events(.generating(shot: shot.index, attempt: attempt, p)) }
                let t1 = monotonicSeconds()
                var j: Judgement
                var shown = out.image
                if out.frames.isEmpty {
                    j = judge.judge(out.image, character: character, selection: out.selection)
                } else {
                    // A video keeps the identity only if every frame does: the worst frame with a face decides
                    // (no face in any frame: no face).
                    let js = out.frames.map { judge.judge($0.image, character: character, selection: out.selection) }
                    record.frames = js.indices.map { FrameScore(index: $0, seconds: out.frames[$0].seconds, verdict: js[$0].verdict, distance: js[$0].distance) }
                    let k = js.indices.filter { js[$0].distance != nil }.max { js[$0].distance! < js[$1].distance! } ?? 0
                    j = js[k]
                    shown = out.frames[k].image
                }
                record.requestedChanges = j.findings.filter { out.requestedModes.contains($0.modeId) }
                j.findings.removeAll { out.requestedModes.contains($0.modeId) }
                record.generateSeconds = t1 - t0
                record.verifySeconds = monotonicSeconds() - t1
                record.judgement = j
                record.notes = out.notes
                record.flags = out.flags
                record.messages = out.messages
                images.append(shown)
                if j.verdict == .pass {
                    passedAt = attempt
                    secondsToPass = monotonicSeconds() - start
                    stop = true
                } else {
                    for f in j.findings where !targeted.contains(f.modeId) { targeted.append(f.modeId) }
                }
            } catch {
                record.generateSeconds = monotonicSeconds() - t0
                record.error = "\(error)"
                images.append(nil)
                if let g = error as? GenerationFailure, !g.retryable { stop = true }
            }
            attempts.append(record)
            events(.attemptFinished(shot: shot.index, record))
            if stop { break }
        }
        return ShotRun(result: Self.summarise(shot: shot, attempts: attempts, passedAt: passedAt, secondsToPass: secondsToPass,
                                              threshold: u.threshold), images: images)
    }

    static func summarise(shot: ShotRequest, attempts: [AttemptRecord], passedAt: Int?, secondsToPass: Double?,
                          threshold: Double) -> ShotResult {
        let measured = attempts.compactMap { a in a.judgement?.distance.map { (a.attempt, $0) } }
        let best = measured.min { $0.1 < $1.1 }
        var t = formatFixed(threshold, 3)
        if let p = passedAt, let j = attempts[p - 1].judgement, let d = j.distance {
            return ShotResult(shot: shot, status: .passed, attempts: attempts, chosenAttempt: p, bestDistance: best?.1,
                              secondsToPass: secondsToPass,
                              summary: "passed on attempt \(p) of \(attempts.count): distance \(formatFixed(d, 3)) < threshold \(formatFixed(j.threshold, 3)) " +
                                "(confidence \(formatFixed(j.confidence, 2)))")
        }
        guard let best else {
            let why = attempts.compactMap(\.error).last.map { "the backend failed: \($0)" } ?? "no face in any output"
            return ShotResult(shot: shot, status: .failed, attempts: attempts, chosenAttempt: attempts.isEmpty ? nil : attempts.count,
                              bestDistance: nil, secondsToPass: nil,
                              summary: "failed after \(attempts.count) attempt(s): \(why)")
        }
        let j = attempts[best.0 - 1].judgement!
        t = formatFixed(j.threshold, 3)
        if case .unanchored = j.selection, j.threshold < threshold {
            t += " (lookalike threshold: the output came from a search over the whole latent space; calibrated \(formatFixed(threshold, 3)))"
        }
        if j.verdict == .uncertain {
            return ShotResult(shot: shot, status: .uncertain, attempts: attempts, chosenAttempt: best.0, bestDistance: best.1,
                              secondsToPass: nil,
                              summary: "uncertain after \(attempts.count) attempt(s): best distance \(formatFixed(best.1, 3)) on attempt \(best.0) " +
                                "is within the uncertain band around threshold \(t) (confidence \(formatFixed(j.confidence, 2))); not claimed as a pass")
        }
        return ShotResult(shot: shot, status: .failed, attempts: attempts, chosenAttempt: best.0, bestDistance: best.1, secondsToPass: nil,
                          summary: "failed after \(attempts.count) attempt(s): best distance \(formatFixed(best.1, 3)) on attempt \(best.0), " +
                            "threshold \(t): the backend did not reach this identity")
    }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
