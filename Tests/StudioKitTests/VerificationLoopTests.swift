import XCTest
@testable import StudioKit

/// A backend that records what it was given and returns a blank image.
final class ScriptedBackend: GenerationBackend {
    let name = "scripted"
    var received: [Conditioning] = []
    var failures: [Int: GenerationError] = [:]     // attempt -> error
    var selection: Selection = .single
    func generate(_ c: Conditioning, progress: (GenerationProgress) -> Void) throws -> GeneratedOutput {
        received.append(c)
        progress(GenerationProgress(done: 1, total: 1))
        if let f = failures[c.attempt] { throw f }
        return GeneratedOutput(image: RGBImage(width: 4, height: 4), selection: selection, notes: ["attempt": Double(c.attempt)])
    }
}

/// A judge that answers distances (and findings) from a script, one per call.
final class ScriptedJudge: IdentityJudge {
    let uncertainty: UncertaintyModel
    var distances: [Double?]
    var findings: [[String]]
    var calls = 0
    init(_ distances: [Double?], findings: [[String]] = [], threshold: Double = 0.5, band: Double = 0.01, lookalike: Double? = nil) {
        self.distances = distances; self.findings = findings
        self.uncertainty = UncertaintyModel(threshold: threshold, sigma: band, band: band, lookalikeThreshold: lookalike)
    }
    func judge(_ image: RGBImage, character: CharacterRecord, selection: Selection) -> Judgement {
        defer { calls += 1 }
        let d = calls < distances.count ? distances[calls] : 1.0
        let ids = calls < findings.count ? findings[calls] : []
        let f = ids.map { DriftFinding(modeId: $0, measured: 1, referenceValue: 0, delta: 1, threshold: 0.5, unit: "u", detail: $0) }
        guard let d else {
            return Judgement(verdict: .noFace, distance: nil, threshold: uncertainty.threshold(for: selection), selection: selection,
                             confidence: 1, faces: 0, box: nil, findings: [])
        }
        let (v, c) = uncertainty.verdict(distance: d, selection: selection)
        return Judgement(verdict: v, distance: d, threshold: uncertainty.threshold(for: selection), selection: selection, confidence: c,
                         faces: 1, box: nil, findings: f)
    }
}

final class VerificationLoopTests: XCTestCase {
    let character = DriftCatalogueTests.character(DriftCatalogueTests.darkReference)
    let shot = ShotRequest(index: 0, prompt: "portrait", negatives: ["blurry"], seed: 42)

    func testPassOnFirstAttemptStopsAtOnce() {
        let backend = ScriptedBackend(), judge = ScriptedJudge([0.30])
        let run = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertEqual(run.result.status, .passed)
        XCTAssertEqual(run.result.attempts.count, 1)
        XCTAssertEqual(run.result.chosenAttempt, 1)
        XCTAssertEqual(backend.received.count, 1)
        XCTAssertEqual(backend.received[0].seed, 42, "attempt 1 uses the shot's seed")
        XCTAssertEqual(backend.received[0].strictness, StrictnessLadder.standard.steps[0])
        XCTAssertTrue((0.7...0.85).contains(backend.received[0].strictness.identityStrength), "starts in the field's band")
        XCTAssertNotNil(run.result.secondsToPass)
        XCTAssertTrue(run.result.summary.hasPrefix("passed on attempt 1"), run.result.summary)
    }

    /// The first attempt drifts in eye colour: the second attempt is stricter and targets it, with the
    /// suppressor built from the opposite of the character's brown eyes in its negatives.
    func testDiagnosedDriftIsTargetedInTheRetry() {
        let backend = ScriptedBackend()
        let judge = ScriptedJudge([0.62, 0.41], findings: [["eye_colour_shift"], []])
        let run = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertEqual(run.result.status, .passed)
        XCTAssertEqual(run.result.chosenAttempt, 2)
        let first = backend.received[0], second = backend.received[1]
        XCTAssertEqual(first.targetedModes, [])
        XCTAssertEqual(second.targetedModes, ["eye_colour_shift"])
        XCTAssertGreaterThan(second.strictness.identityStrength, first.strictness.identityStrength)
        XCTAssertGreaterThan(second.strictness.level, first.strictness.level)
        let targeted = second.negative.fragments.filter { $0.source == .targeted("eye_colour_shift") }
        XCTAssertFalse(targeted.isEmpty)
        XCTAssertTrue(targeted.contains { $0.text.contains("eyes") && !$0.text.contains("brown") }, "\(targeted.map(\.text))")
        XCTAssertTrue(second.negative.text.hasPrefix("blurry"), "the user's negatives stay first")
        XCTAssertNotEqual(second.seed, first.seed, "a retry draws a new seed")
        XCTAssertEqual(second.seed, VerificationLoop.seed(shot: shot, attempt: 2))
        XCTAssertEqual(run.result.attempts[1].targetedModes, ["eye_colour_shift"], "the report records the targeting")
        XCTAssertTrue(run.result.attempts[1].negativePrompt.contains(targeted[0].text))
    }

    func testUncertainIsNeverAPass() {
        // Within ±0.01 of 0.5 on every attempt: the best is reported as uncertain, not passed.
        let backend = ScriptedBackend(), judge = ScriptedJudge([0.505, 0.495, 0.497])
        let run = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertEqual(run.result.status, .uncertain)
        XCTAssertEqual(run.result.attempts.count, 3)
        XCTAssertEqual(run.result.chosenAttempt, 2)
        XCTAssertEqual(run.result.bestDistance ?? 0, 0.495, accuracy: 1e-12)
        XCTAssertNil(run.result.secondsToPass)
        XCTAssertTrue(run.result.summary.contains("uncertain"), run.result.summary)
    }

    func testUnreachableIdentityFailsWithTheBestDistance() {
        let backend = ScriptedBackend(), judge = ScriptedJudge([0.71, nil, 0.64])
        let run = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertEqual(run.result.status, .failed)
        XCTAssertEqual(run.result.chosenAttempt, 3)
        XCTAssertEqual(run.result.bestDistance ?? 0, 0.64, accuracy: 1e-12)
        XCTAssertEqual(run.result.attempts[1].judgement?.verdict, .noFace)
        XCTAssertTrue(run.result.summary.contains("0.640"), run.result.summary)
        XCTAssertEqual(backend.received.map(\.strictness.level), [0, 1, 2], "strictness climbs every attempt")
    }

    func testUnanchoredSearchIsJudgedAgainstTheLookalikeThreshold() {
        let backend = ScriptedBackend()
        backend.selection = .unanchored(candidates: 300)
        let judge = ScriptedJudge([0.45, 0.44], threshold: 0.5, lookalike: 0.3)
        let run = VerificationLoop(maxAttempts: 2).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertEqual(run.result.status, .failed, "0.45 passes one draw but not a whole-space search")
        XCTAssertEqual(run.result.attempts[0].judgement?.threshold, 0.3)
        XCTAssertTrue(run.result.summary.contains("lookalike"), run.result.summary)
        XCTAssertEqual(UncertaintyModel(threshold: 0.5, sigma: 0.01, band: 0.01, lookalikeThreshold: 0.3).threshold(for: .anchored(candidates: 300)), 0.5)
    }

    func testBackendErrors() {
        // A retryable failure costs an attempt; a fatal one ends the shot.
        let backend = ScriptedBackend()
        backend.failures = [1: GenerationError("content filter", retryable: true)]
        let run = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: ScriptedJudge([0.2]))
        XCTAssertEqual(run.result.status, .passed)
        XCTAssertEqual(run.result.attempts[0].error, "content filter")
        XCTAssertNil(run.images[0])
        let fatal = ScriptedBackend()
        fatal.failures = [1: GenerationError("401 unauthorised", retryable: false)]
        let r2 = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: fatal, judge: ScriptedJudge([0.2]))
        XCTAssertEqual(r2.result.status, .failed)
        XCTAssertEqual(r2.result.attempts.count, 1)
        XCTAssertTrue(r2.result.summary.contains("401"), r2.result.summary)
    }

    func testConfidence() {
        let u = UncertaintyModel(threshold: 0.5, sigma: 0.01, band: 0.01)
        XCTAssertEqual(u.verdict(distance: 0.5).confidence, 0.5, accuracy: 1e-9)
        XCTAssertEqual(u.verdict(distance: 0.49).confidence, 0.8413, accuracy: 1e-3)    // Φ(1)
        XCTAssertEqual(u.verdict(distance: 0.45).verdict, .pass)
        XCTAssertGreaterThan(u.verdict(distance: 0.45).confidence, 0.9999)
        XCTAssertEqual(u.verdict(distance: 0.509).verdict, .uncertain)
        XCTAssertEqual(u.verdict(distance: 0.52).verdict, .fail)
        XCTAssertEqual(u.verdict(distance: .nan).verdict, .noFace)
        XCTAssertEqual(StrictnessLadder.standard.step(attempt: 99), StrictnessLadder.standard.steps.last)
        XCTAssertEqual(formatFixed(0.5084, 3), "0.508")
        XCTAssertEqual(formatFixed(-0.0004, 3), "0.000")
        XCTAssertEqual(formatFixed(-2.5, 0), "-3")
        XCTAssertEqual(formatFixed(1e300, 2), "\(1e300)", "too large for fixed point: no overflow trap")
    }
}
