import XCTest
import Foundation
import StudioFace
import StudioKit

/// Malformed, truncated and bit-flipped model files must raise `ModelFormatError`, never crash.
final class ModelFileTests: XCTestCase {
    func bytes(_ info: ModelInfo) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try TestData.model(info))))
    }

    func testRealModelsLoadWithExpectedShapes() throws {
        let rec = try FaceRecognizer(contentsOf: try TestData.model(ModelCatalog.recognizer))
        XCTAssertEqual(rec.network.parameterCount, 5_614_592)
        XCTAssertEqual(rec.network.input.avgRed, 122.782, accuracy: 1e-3)
        let det = try DlibNetwork(bytes: try bytes(ModelCatalog.detector), file: "mmod", architecture: .mmodFaceDetector)
        XCTAssertEqual(det.mmod?.detectorWindows.first?.width, 80)
        XCTAssertEqual(det.input.pyramidPadding, 10)
        let sp = try ShapePredictor(contentsOf: try TestData.model(ModelCatalog.landmarks5))
        XCTAssertEqual(sp.partCount, 5)
        XCTAssertGreaterThan(sp.treeCount, 100)
    }

    func testTruncatedFilesAreRejected() throws {
        for (info, arch) in [(ModelCatalog.recognizer, NetworkArchitecture.faceRecognitionResNet),
                             (ModelCatalog.detector, NetworkArchitecture.mmodFaceDetector)] {
            let b = try bytes(info)
            for frac in [0.0, 0.0001, 0.01, 0.1, 0.33, 0.5, 0.77, 0.9, 0.999] {
                let cut = Int(Double(b.count) * frac)
                XCTAssertThrowsError(try DlibNetwork(bytes: Array(b[0..<cut]), file: info.file, architecture: arch)) { e in
                    XCTAssertTrue(e is ModelFormatError, "\(e)")
                    XCTAssertTrue("\(e)".contains(info.file))
                }
            }
            // One byte short and one byte too many.
            XCTAssertThrowsError(try DlibNetwork(bytes: Array(b.dropLast()), file: info.file, architecture: arch))
            XCTAssertThrowsError(try DlibNetwork(bytes: b + [0], file: info.file, architecture: arch))
        }
        let sp = try bytes(ModelCatalog.landmarks5)
        for frac in [0.0, 0.001, 0.25, 0.5, 0.75, 0.9999] {
            XCTAssertThrowsError(try ShapePredictor(bytes: Array(sp[0..<Int(Double(sp.count) * frac)]), file: "sp")) { e in
                XCTAssertTrue(e is ModelFormatError, "\(e)")
            }
        }
    }

    func testWrongArchitectureAndGarbageAreRejected() throws {
        let mmod = try bytes(ModelCatalog.detector)
        XCTAssertThrowsError(try DlibNetwork(bytes: mmod, file: "mmod", architecture: .faceRecognitionResNet)) { e in
            XCTAssertTrue("\(e)".contains("loss_metric"), "\(e)")
        }
        XCTAssertThrowsError(try ShapePredictor(bytes: mmod, file: "mmod"))
        var g = SplitMix64(seed: 1)
        for n in [0, 1, 7, 100, 5000] {
            let junk = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            XCTAssertThrowsError(try DlibNetwork(bytes: junk, file: "junk", architecture: .mmodFaceDetector))
            XCTAssertThrowsError(try ShapePredictor(bytes: junk, file: "junk"))
        }
        XCTAssertThrowsError(try FaceRecognizer(contentsOf: "/nonexistent/model.dat")) { e in
            XCTAssertEqual((e as? ModelFormatError)?.isMissing, true, "\(e)")
            XCTAssertTrue("\(e)".contains("/nonexistent/model.dat: the model file is missing"), "\(e)")
        }
    }

    /// Flipping bytes in structural positions must give an error; flipping weight bytes may load
    /// (a weight is just a different float). Either way: no crash, no hang.
    func testBitFlippedFilesNeverCrash() throws {
        let files: [(ModelInfo, ([UInt8]) throws -> Void)] = [
            (ModelCatalog.detector, { _ = try DlibNetwork(bytes: $0, file: "mmod", architecture: .mmodFaceDetector) }),
            (ModelCatalog.landmarks5, { _ = try ShapePredictor(bytes: $0, file: "sp") }),
        ]
        for (info, load) in files {
            let b = try bytes(info)
            var g = SplitMix64(seed: 42)
            var rejected = 0
            // The first few hundred bytes are structure (versions, sizes, control bytes).
            for i in 0..<60 {
                var m = b
                let pos = i < 40 ? Int.random(in: 0..<min(400, b.count), using: &g) : Int.random(in: 0..<b.count, using: &g)
                m[pos] ^= UInt8(1 << Int.random(in: 0..<8, using: &g))
                do { try load(m) } catch is ModelFormatError { rejected += 1 } catch { XCTFail("unexpected error type \(error)") }
            }
            XCTAssertGreaterThan(rejected, 10, "\(info.file): structural flips should be caught")
        }
    }
}
