#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The verification loop shared by every backend: generate -> verify every output -> diagnose drift
// -> regenerate with stricter conditioning, within an attempt budget. Backends implement
// `GenerationBackend` (GenerationContract.swift); the face pipeline implements `IdentityJudge`
// (Judgement.swift). This file holds the loop and what it records.

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
                if let g = error as? GenerationError, !g.retryable { stop = true }
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
