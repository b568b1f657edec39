import XCTest
import StudioImage
import StudioKit
import StudioTensor
@testable import StudioFace

/// The bounded-memory detection path: the network run in row bands equals the whole run, and the
/// working-size plan reduces only what is above the limit.
final class DetectionMemoryTests: XCTestCase {
    /// The detector's receptive field: three unpadded 5x5/2 convolutions, then 5x5, 5x5, 5x5 and
    /// 9x9 padded ones at stride 8.
    func testTheDetectorsRowGeometryIsItsReceptiveField() throws {
        let g = try XCTUnwrap(TestData.pipeline.detector.network.rowGeometry)
        XCTAssertEqual(g, RowGeometry(stride: 8, reach: (2 + 2 + 2 + 4) * 8, span: 1 + 4 + 8 + 16 + (4 + 4 + 4 + 8) * 8))
        XCTAssertNil(TestData.pipeline.recognizer.network.rowGeometry, "the ResNet has skips and an fc layer")
    }

    /// Bands of a few dozen output rows over a real photo's pyramid: every
    /// output value as in the whole run, and so the same detections.
    func testTheNetworkRunInRowBandsEqualsTheWholeRun() throws {
        let det = TestData.pipeline.detector
        let img = try ImageIO.load(path: try TestData.testImage("face_recognition/obama.jpg"))
        let (input, layout) = det.inputTensor(img)
        let whole = det.network.forward(input)
        for bandPixels in [300_000, 1_000_000] {
            let banded = det.network.forwardInRowBands(input, bandPixels: bandPixels)
            XCTAssertEqual(banded.shape, whole.shape)
            XCTAssertLessThanOrEqual(banded.maxAbsDifference(whole), 1e-5, "band of \(bandPixels) pixels")
            XCTAssertEqual(det.detections(output: banded, layout: layout), det.detections(output: whole, layout: layout))
        }
        XCTAssertFalse(det.detections(output: whole, layout: layout).isEmpty)
    }

    func testThePlanReducesOnlyAboveTheWorkingSize() {
        let limit = FacePipeline.maxDetectionPixels
        // 2000x1500 at upsample 1 (12 MP): untouched, so dlib parity holds for ordinary photos.
        XCTAssertEqual(FacePipeline.detectionPlan(width: 2000, height: 1500, upsample: 1),
                       DetectionPlan(width: 2000, height: 1500, upsample: 1, scale: 1, limit: .none))
        // 9999x9999 at upsample 1: one upsampling level traded for a larger copy, within the limit.
        let big = FacePipeline.detectionPlan(width: 9999, height: 9999, upsample: 1)
        XCTAssertEqual(big.limit, .workingSize)
        XCTAssertEqual(big.upsample, 0)
        XCTAssertLessThanOrEqual(big.detectionPixels, limit)
        XCTAssertGreaterThan(big.detectionPixels, limit * 99 / 100)
        XCTAssertEqual(big.smallestFace, 40 / big.scale, accuracy: 1e-9)
        // 3000x2000 at upsample 1 (24 MP): the upsampling stays (trading it would enlarge the photo).
        let wide = FacePipeline.detectionPlan(width: 3000, height: 2000, upsample: 1)
        XCTAssertEqual(wide.upsample, 1)
        XCTAssertEqual(wide.limit, .workingSize)
        XCTAssertLessThanOrEqual(wide.detectionPixels, limit)
        XCTAssertEqual(wide.scale, (Double(limit) / 24e6).squareRoot(), accuracy: 1e-3)
        // 4000x3000 at upsample 1 (48 MP): the photo itself without upsampling has the same pixels.
        XCTAssertEqual(FacePipeline.detectionPlan(width: 4000, height: 3000, upsample: 1),
                       DetectionPlan(width: 4000, height: 3000, upsample: 0, scale: 1, limit: .workingSize))
        // The caller's max side applies first; the limit only when still above it.
        XCTAssertEqual(FacePipeline.detectionPlan(width: 3200, height: 2400, upsample: 1, maxSide: 1600),
                       DetectionPlan(width: 1600, height: 1200, upsample: 1, scale: 0.5, limit: .maxSide))
        XCTAssertEqual(FacePipeline.detectionPlan(width: 3200, height: 2400, upsample: 2, maxSide: 1600).limit, .workingSize)
    }

    /// A photo above the working size is still found, at the right place, on the reduced copy.
    func testAFaceInAnImageAboveTheWorkingSizeIsFoundWhereItIs() throws {
        let photo = try ImageIO.load(path: try TestData.testImage("face_recognition/obama.jpg"))
        let expected = try XCTUnwrap(TestData.pipeline.align(photo, upsample: 0).first)
        // 3x the photo: a face about 3x as large at 3x the coordinates, above the limit at upsample 1.
        let large = photo.resizedBilinear(width: photo.width * 3, height: photo.height * 3)
        let plan = TestData.pipeline.detectionPlan(for: large, upsample: 1)
        XCTAssertEqual(plan.limit, .workingSize)
        let found = try XCTUnwrap(TestData.pipeline.align(large, upsample: 1).first)
        let e = expected.detection.rect, f = found.detection.rect
        let scaled = Rect(left: e.left * 3, top: e.top * 3, right: e.right * 3 + 2, bottom: e.bottom * 3 + 2)
        let inner = Double(f.intersection(scaled).area)
        let iou = inner / Double(max(f.area, scaled.area))
        XCTAssertGreaterThan(iou, 0.6, "found \(f), expected about 3x \(e)")
    }
}
