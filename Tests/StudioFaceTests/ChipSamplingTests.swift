import XCTest
import StudioKit
@testable import StudioFace

/// The C chip sampler against its Swift reference: byte for byte, on maps that rotate, scale, reach
/// outside the window, land on exact pixel centres, and are not finite.
final class ChipSamplingTests: XCTestCase {
    private func randomImage(_ w: Int, _ h: Int, _ g: inout SplitMix64) -> RGBImage {
        RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    private func map(angle: Double, scale: Double, x0: Double, y0: Double, cols: Int, rows: Int) -> ChipAffine {
        let c = cos(angle) * scale, s = sin(angle) * scale
        let w = Double(cols - 1), h = Double(rows - 1)
        return ChipAffine(cols: cols, rows: rows, topLeft: (x0, y0), topRight: (x0 + c * w, y0 + s * w),
                          bottomLeft: (x0 - s * h, y0 + c * h))
    }

    private func assertSame(_ img: RGBImage, _ view: DlibPyramid.View, _ m: ChipAffine, rows: Int, cols: Int,
                            _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let fast = FaceChip.sample(img, view, m, rows: rows, cols: cols)
        let ref = FaceChip.sampleReference(img, view, m, rows: rows, cols: cols)
        XCTAssertEqual(fast.pixels, ref.pixels, what, file: file, line: line)
    }

    func testRandomMapsMatchTheReferenceExactly() {
        var g = SplitMix64(seed: 7)
        let img = randomImage(97, 83, &g)
        for i in 0..<300 {
            let rows = Int.random(in: 1...40, using: &g), cols = Int.random(in: 1...40, using: &g)
            let m = map(angle: Double.random(in: -3.2...3.2, using: &g), scale: Double.random(in: 0.05...4, using: &g),
                        x0: Double.random(in: -30...120, using: &g), y0: Double.random(in: -30...110, using: &g),
                        cols: max(cols, 2), rows: max(rows, 2))
            let ox = Int.random(in: 0...20, using: &g), oy = Int.random(in: 0...20, using: &g)
            let view = DlibPyramid.View(width: Int.random(in: 0...(97 - ox), using: &g), height: Int.random(in: 0...(83 - oy), using: &g),
                                        stride: 97, originX: ox, originY: oy)
            assertSame(img, view, m, rows: rows, cols: cols, "case \(i)")
        }
    }

    /// Integer positions (weights exactly 0 and 1) and the window's last row and column.
    func testExactPixelCentresAndWindowEdges() {
        var g = SplitMix64(seed: 8)
        let img = randomImage(20, 16, &g)
        let view = DlibPyramid.View(width: 20, height: 16, stride: 20, originX: 0, originY: 0)
        let identity = ChipAffine(cols: 20, rows: 16, topLeft: (0, 0), topRight: (19, 0), bottomLeft: (0, 15))
        assertSame(img, view, identity, rows: 16, cols: 20, "identity")
        let half = ChipAffine(cols: 20, rows: 16, topLeft: (0.5, 0.5), topRight: (19.5, 0.5), bottomLeft: (0.5, 15.5))
        assertSame(img, view, half, rows: 16, cols: 20, "half-pixel shift")
    }

    func testNonFiniteAndHugeMapsGiveBlackChips() {
        var g = SplitMix64(seed: 9)
        let img = randomImage(10, 10, &g)
        let view = DlibPyramid.View(width: 10, height: 10, stride: 10, originX: 0, originY: 0)
        for bad in [Double.nan, .infinity, 1e12] {
            let m = ChipAffine(cols: 4, rows: 4, topLeft: (bad, 0), topRight: (bad, 0), bottomLeft: (bad, 3))
            let fast = FaceChip.sample(img, view, m, rows: 4, cols: 4)
            XCTAssertEqual(fast.pixels, Array(repeating: 0, count: 48), "\(bad)")
            assertSame(img, view, m, rows: 4, cols: 4, "\(bad)")
        }
    }

    func testEmptySourceGivesABlackChip() {
        let empty = RGBImage(width: 0, height: 0)
        let view = DlibPyramid.View(width: 0, height: 0, stride: 0, originX: 0, originY: 0)
        let m = ChipAffine(cols: 3, rows: 3, topLeft: (0, 0), topRight: (2, 0), bottomLeft: (0, 2))
        XCTAssertEqual(FaceChip.sample(empty, view, m, rows: 3, cols: 3).pixels, Array(repeating: 0, count: 27))
    }
}
