import XCTest
import Foundation
import StudioKit
import StudioFace
import StudioImage
@testable import StudioLocal

/// The generator and the face pipeline, loaded once.
enum LocalModels {
    static let pipeline: FacePipeline? = try? FacePipeline(modelsDirectory: LocalTestData.paths.models)

    static func load(file: StaticString = #filePath, line: UInt = #line) throws -> (DCGANGenerator, FacePipeline) {
        _ = try LocalTestData.weights(file: file, line: line)
        let g = try XCTUnwrap(LocalTestData.generator, "the generator did not load", file: file, line: line)
        let p = try XCTUnwrap(pipeline, "the face models did not load (run scripts/setup.sh)", file: file, line: line)
        return (g, p)
    }
}

/// `QualityThresholds.generated` on the generator's own draws. The figures are deterministic
/// functions of the seeds (the bench measures seeds 0..<200, these tests 0..<64 and 0..<40).
final class GeneratedGateTests: XCTestCase {
    func models() throws -> (DCGANGenerator, FacePipeline) { try LocalModels.load() }

    /// Seeds 0..<64 (the bench measures 0..<200): the real-photo defaults refuse every draw by
    /// construction, the generated gate passes the typical draw and fails the bad ones found by
    /// `studio bench generated-quality --seeds 200 --sheet ...` for the reason seen there.
    func testGeneratedGateOnTheGeneratorsOwnDraws() throws {
        let (g, p) = try models()
        let seeds = (0..<64).map(UInt64.init)
        let samples = GeneratedQuality.survey(generator: g, pipeline: p, seeds: seeds)
        let s = GeneratedQuality.summarize(samples)
        print("[gate] seeds 0..<64: faces \(s.withFace), all-pass \(s.passing), warn-only \(s.warningOnly), failing \(s.failingSeeds) \(s.failuresByCheck)")
        XCTAssertGreaterThanOrEqual(s.withFace, 59, "MMOD finds a face in most draws (61 of 64 measured)")
        XCTAssertGreaterThanOrEqual(s.passing + s.warningOnly, 54, "typical draws pass the gate (57 of 64 measured: 46 without a warning)")
        XCTAssertEqual(s.failingSeeds, [5, 8, 17, 30, 32, 39, 55], "the bad draws of 0..<64, as measured")
        func sample(_ seed: UInt64) -> GeneratedQuality.Sample { samples[Int(seed)] }
        // Bad draws, each for the reason it visibly has.
        for seed: UInt64 in [5, 30, 32] { XCTAssertEqual(sample(seed).faces, 0, "seed \(seed) has no detectable face") }
        XCTAssertEqual(sample(8).failing, ["frontality"], "seed 8 is turned ~41°")
        XCTAssertEqual(sample(55).failing, ["frontality"])
        XCTAssertEqual(sample(39).failing, ["lighting"], "seed 39 is lit from one side (cheek ratio 0.09)")
        XCTAssertEqual(sample(17).failing, ["lighting"])
        // Every measured value is within the gate's pass limits for a typical draw (seed 1).
        XCTAssertTrue(sample(1).failing.isEmpty && sample(1).warning.isEmpty, "\(sample(1))")
        // Real-photo limits refuse every generated draw: resolution (256 < 512 warns, never passes) and sharpness.
        let photoLimits = GeneratedQuality.survey(generator: g, pipeline: p, seeds: Array(seeds.prefix(16)), thresholds: QualityThresholds())
        for smp in photoLimits where smp.faces > 0 {
            XCTAssertTrue(smp.failing.contains("sharpness"), "seed \(smp.seed): sharpness < 50 by construction")
            XCTAssertTrue(smp.warning.contains("resolution"), "seed \(smp.seed)")
        }
    }

    /// Blurring the 64 px render (5x5 box) drops most draws below the sharpness limit; unblurred
    /// draws almost never are.
    func testSharpnessLimitFailsBlurredDraws() throws {
        let (g, p) = try models()
        let seeds = (0..<40).map(UInt64.init)
        let sharp = GeneratedQuality.survey(generator: g, pipeline: p, seeds: seeds)
        let blurred = GeneratedQuality.survey(generator: g, pipeline: p, seeds: seeds, blurRadius: 2)
        let t = QualityThresholds.generated.sharpnessFail
        let sharpLow = sharp.compactMap { $0.values["sharpness"] }.filter { $0 < t }.count
        let blurredValues = blurred.compactMap { $0.values["sharpness"] }
        let blurredLow = blurredValues.filter { $0 < t }.count
        print("[gate] sharpness < \(t): unblurred \(sharpLow) of \(sharp.filter { $0.faces > 0 }.count), box-blurred r2 \(blurredLow) of \(blurredValues.count)")
        XCTAssertLessThanOrEqual(sharpLow, 1)
        XCTAssertGreaterThanOrEqual(Double(blurredLow) / Double(blurredValues.count), 0.7)
    }

    func testBoxBlurAveragesAndKeepsFlatImages() {
        var img = RGBImage(width: 5, height: 5, pixels: [UInt8](repeating: 90, count: 75))
        XCTAssertEqual(GeneratedQuality.boxBlurred(img, radius: 2), img)
        img[2, 2, 0] = 180
        let b = GeneratedQuality.boxBlurred(img, radius: 1)
        XCTAssertEqual(b[2, 2, 0], 100)           // (8 x 90 + 180) / 9
        XCTAssertEqual(b[0, 0, 0], 90)
        XCTAssertEqual(b[2, 2, 1], 90)
    }
}
