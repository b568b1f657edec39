import XCTest
import StudioKit

final class IdentityFusionTests: XCTestCase {
    func vec(_ seed: UInt64, around base: [Float]? = nil, spread: Float) -> FaceDescriptor {
        var g = SplitMix64(seed: seed)
        return FaceDescriptor((0..<128).map { k in (base?[k] ?? 0) + Float.random(in: -spread...spread, using: &g) })
    }

    func testFuseIsWeightedMean() {
        let a = FaceDescriptor([Float](repeating: 1, count: 4)), b = FaceDescriptor([Float](repeating: 3, count: 4))
        XCTAssertEqual(IdentityFusion.fuse([a, b], weights: [1, 1]).values, [2, 2, 2, 2])
        XCTAssertEqual(IdentityFusion.fuse([a, b], weights: [3, 1]).values, [1.5, 1.5, 1.5, 1.5])
    }

    func testStrangerAmongThreeIsTheOnlyOutlier() {
        let person = vec(1, spread: 0.15).values
        let refs = [vec(2, around: person, spread: 0.02), vec(3, around: person, spread: 0.02),
                    vec(4, spread: 0.15), vec(5, around: person, spread: 0.02)]
        let o = IdentityFusion.outliers(refs, weights: [1, 1, 1, 1], threshold: 0.6)
        XCTAssertEqual(o.map(\.index), [2])
        XCTAssertGreaterThan(o[0].distance, 0.6)
    }

    func testTwoDisagreeingReferencesAreBothReported() {
        let o = IdentityFusion.outliers([vec(1, spread: 0.15), vec(2, spread: 0.15)], weights: [1, 1], threshold: 0.6)
        XCTAssertEqual(o.map(\.index), [0, 1])
        let same = vec(3, spread: 0.15)
        XCTAssertTrue(IdentityFusion.outliers([same, vec(4, around: same.values, spread: 0.01)], weights: [1, 1], threshold: 0.6).isEmpty)
    }

    func testRectIoU() {
        let a = Rect(left: 0, top: 0, right: 9, bottom: 9)
        XCTAssertEqual(a.iou(a), 1)
        XCTAssertEqual(a.iou(Rect(left: 5, top: 0, right: 14, bottom: 9)), 50.0 / 150.0, accuracy: 1e-12)
        XCTAssertEqual(a.iou(Rect(left: 20, top: 20, right: 29, bottom: 29)), 0)
    }
}
