import XCTest
import StudioKit
import StudioFace
@testable import StudioLocal

final class LocalBackendTests: XCTestCase {
    func norm(_ z: [Float]) -> Double { z.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
    func unit(_ seed: UInt64) -> [Float] { let z = DCGANGenerator.latent(seed: seed); let n = Float(norm(z)); return z.map { $0 / n } }

    func testLatentArithmeticKeepsThePriorAndTheTargets() {
        var rng = SplitMix64(seed: 1)
        let z = DCGANGenerator.latent(seed: 9)
        let m = LocalBackend.mutate(z, step: 0.5, &rng)
        XCTAssertEqual(norm(m), LocalBackend.latentNorm, accuracy: 1e-3, "mutations stay on the prior's sphere")
        XCTAssertNotEqual(m, z)
        // Two overlapping directions: both projections are set.
        let a = unit(100)
        var b = unit(101)
        for i in b.indices { b[i] = 0.6 * b[i] + 0.4 * a[i] }
        let nb = Float(norm(b)); b = b.map { $0 / nb }
        let t = LocalBackend.applyTargets(z, [PromptTarget(name: "a", vector: a, target: 1.5), PromptTarget(name: "b", vector: b, target: -1.0)])
        XCTAssertEqual(LocalBackend.projection(t, a), 1.5, accuracy: 0.15)
        XCTAssertEqual(LocalBackend.projection(t, b), -1.0, accuracy: 0.15)
        XCTAssertEqual(norm(t), LocalBackend.latentNorm, accuracy: 1e-3)
        XCTAssertTrue(LocalBackend.met(t, PromptTarget(name: "a", vector: a, target: 1.5), tolerance: 0.25))
        XCTAssertFalse(LocalBackend.met(z, PromptTarget(name: "a", vector: a, target: 4), tolerance: 0.25))
    }

    func testTrustRegionLimitsTheMoveButNotAlongThePromptDirections() {
        let anchor = DCGANGenerator.latent(seed: 1)
        let far = DCGANGenerator.latent(seed: 2)
        let c = LocalBackend.confine(far, to: anchor, radius: 2, free: [])
        let d = zip(c, anchor).map { Double($0 - $1) }
        XCTAssertLessThan(d.reduce(0) { $0 + $1 * $1 }.squareRoot(), 2.2, "within the radius (plus the sphere's rescale)")
        // Along a prompt direction the latent moves freely.
        let v = unit(7)
        let moved = anchor.indices.map { anchor[$0] + 3 * v[$0] }
        let kept = LocalBackend.confine(moved, to: anchor, radius: 0.5, free: [PromptTarget(name: "v", vector: v, target: 3)])
        XCTAssertEqual(LocalBackend.projection(kept, v) - LocalBackend.projection(anchor, v), 3, accuracy: 0.3)
    }

    func testAnchorOnlyForCharactersDrawnFromThisGenerator() {
        var c = CharacterRecord(id: "x", tenant: "t", name: "n", createdAt: 0, identity: FaceDescriptor([Float](repeating: 0, count: 128)),
                                references: [], attributes: FaceAttributes(), metadata: ["origin": "photos"])
        XCTAssertNil(LocalBackend.anchor(for: c))
        c.metadata = ["origin": "generated", "generator": DCGANGenerator.domain, "seed": "42"]
        XCTAssertEqual(LocalBackend.anchor(for: c), DCGANGenerator.latent(seed: 42))
        c.metadata["generator"] = "another-model"
        XCTAssertNil(LocalBackend.anchor(for: c))
    }

    /// On the real weights: a created character's shot passes the judge; the same conditioning gives the
    /// same image; without injection the image does not depend on the character.
    func testSearchIsSeededAndInjectionMatters() throws {
        let paths = LocalTestData.paths
        let generator = try DCGANGenerator(contentsOf: try LocalTestData.weights())
        let pipeline = try FacePipeline(modelsDirectory: paths.models)
        var options = FictionalCharacter.Options()
        options.strangerThreshold = GeneratedCalibration.defaultThreshold
        let character = try FictionalCharacter.create(name: "ada", seed: 1, generator: generator, pipeline: pipeline, options: options,
                                                      id: "ada", now: 0).0.character
        let u = UncertaintyModel(threshold: GeneratedCalibration.defaultThreshold, sigma: 0.011, band: 0.011,
                                 lookalikeThreshold: LookalikeCalibration.threshold)
        let judge = FaceIdentityJudge(pipeline: pipeline, uncertainty: u)
        let shot = ShotRequest(index: 0, prompt: "", negatives: [], seed: 5)
        let backend = LocalBackend(generator: generator, pipeline: pipeline)
        let run = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertEqual(run.result.status, .passed, run.result.summary)
        let again = VerificationLoop(maxAttempts: 3).run(shot: shot, character: character, backend: backend, judge: judge)
        XCTAssertTrue(run.images.map { $0?.pixels } == again.images.map { $0?.pixels }, "seeded")
        XCTAssertEqual(run.result.attempts.map(\.judgement?.distance), again.result.attempts.map(\.judgement?.distance))

        var off = backend
        off.injectIdentity = false
        let step = StrictnessLadder.standard.steps[0]
        func conditioning(_ c: CharacterRecord) -> Conditioning {
            Conditioning(character: c, shot: shot, attempt: 1, seed: 5, strictness: step,
                         negative: NegativePrompt.synthesize(character: c, request: [], strictness: 0, diagnosed: []), targetedModes: [], uncertainty: u)
        }
        var other = character
        other.identity = FaceDescriptor(character.identity.values.map { -$0 })
        other.metadata["seed"] = "2"
        let o1 = try off.generate(conditioning(character)) { _ in }
        let o2 = try off.generate(conditioning(other)) { _ in }
        XCTAssertTrue(o1.image.pixels == o2.image.pixels, "without injection the character is not used")
        XCTAssertEqual(o1.selection, .single)
        XCTAssertTrue(o1.image.pixels == backend.render(generator.generate([DCGANGenerator.latent(seed: 5)])[0]).pixels,
                      "without injection and prompt terms the output is the seed's own draw")
    }
}
