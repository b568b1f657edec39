import XCTest
import StudioKit
import StudioFace
import StudioLocal

final class CalibrationTests: XCTestCase {
    func testQuantileThresholdAllowsAtMostTheRate() {
        let d = (0..<1000).map { Double($0) / 1000 }          // 0.000 ... 0.999
        let t = GeneratedCalibration.quantileThreshold(sortedDistances: d, rate: 0.01)
        XCTAssertEqual(t, 0.010, accuracy: 1e-12)
        XCTAssertEqual(d.filter { $0 < t }.count, 10)           // exactly 1 % accepted
        XCTAssertEqual(GeneratedCalibration.quantileThreshold(sortedDistances: [0.5, 0.5, 0.5, 0.7], rate: 0.25), 0.5)
        XCTAssertTrue(GeneratedCalibration.quantileThreshold(sortedDistances: [], rate: 0.01).isNaN)
    }

    /// The generated-face domain on real weights: different seeds are far closer than real strangers,
    /// so the calibrated threshold sits well below dlib's 0.6, and 0.6 would accept many strangers.
    func testGeneratedDomainThresholdFromAThousandPairs() throws {
        let paths = StudioPaths.fromEnvironment()
        let generator = try DCGANGenerator(contentsOf: paths.model(ModelCatalog.generator.file))
        let pipeline = try FacePipeline(modelsDirectory: paths.models)
        let c = GeneratedCalibration.run(generator: generator, pipeline: pipeline, faces: 46)
        XCTAssertEqual(c.detected, 46)
        XCTAssertGreaterThanOrEqual(c.pairs, 1000)
        XCTAssertGreaterThanOrEqual(c.samples, 46)
        XCTAssertLessThan(c.threshold, 0.6)
        XCTAssertGreaterThan(c.threshold, 0.3)
        XCTAssertGreaterThan(c.falseAcceptRateAtDlibThreshold, 0.05, "0.6 would accept many generated strangers")
        // Repeatable: same seeds, same threshold.
        let again = GeneratedCalibration.run(generator: generator, pipeline: pipeline, faces: 46)
        XCTAssertEqual(again, c)
        print("generated calibration: threshold \(c.threshold), \(c.pairs) pairs, FAR at 0.6 \(c.falseAcceptRateAtDlibThreshold)")
    }
}
