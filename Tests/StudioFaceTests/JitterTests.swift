import XCTest
import StudioKit
import StudioFace
import StudioImage

final class JitterTests: XCTestCase {
    func testJitteredDescriptorIsRepeatableAndNearThePlainOne() throws {
        let pipeline = TestData.pipeline
        let image = try ImageIO.load(path: try TestData.testImage("face_recognition/obama.jpg"))
        let plain = pipeline.faces(in: image, upsample: 0)
        let a = pipeline.faces(in: image, upsample: 0, jitter: 4, seed: 9)
        let b = pipeline.faces(in: image, upsample: 0, jitter: 4, seed: 9)
        let c = pipeline.faces(in: image, upsample: 0, jitter: 4, seed: 10)
        XCTAssertEqual(plain.count, 1); XCTAssertEqual(a.count, 1)
        XCTAssertEqual(a[0].descriptor, b[0].descriptor, "same seed, same jitter")
        XCTAssertNotEqual(a[0].descriptor, c[0].descriptor, "another seed perturbs differently")
        XCTAssertEqual(a[0].box, plain[0].box)
        // Small perturbations of the same face stay well inside the same-person margin.
        XCTAssertLessThan(a[0].descriptor.distance(to: plain[0].descriptor), 0.15)
        XCTAssertGreaterThan(a[0].descriptor.distance(to: plain[0].descriptor), 0)
    }
}
