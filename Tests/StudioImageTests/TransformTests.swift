@testable import StudioImage
import StudioKit
import XCTest

/// Resize, crop, EXIF rotation and affine warp.
final class TransformTests: XCTestCase {
    /// A small image whose every channel value is distinct: value = 3 * index + channel.
    private func numbered(_ w: Int, _ h: Int) -> RGBImage {
        RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8($0 % 256) })
    }

    // MARK: Resize

    func testResizeToSameSizeIsIdentity() {
        let img = Fixtures.noise(width: 7, height: 5, seed: 1)
        XCTAssertEqual(img.resizedBilinear(width: 7, height: 5), img)
    }

    func testHalvingAveragesTwoByTwoBlocks() {
        // Pixel-centre convention: at scale 2 each output sample sits exactly between four pixels.
        let img = Fixtures.noise(width: 8, height: 6, seed: 2)
        let half = img.resizedBilinear(width: 4, height: 3)
        for y in 0..<3 {
            for x in 0..<4 {
                for c in 0..<3 {
                    let sum = Int(img[2 * x, 2 * y, c]) + Int(img[2 * x + 1, 2 * y, c])
                        + Int(img[2 * x, 2 * y + 1, c]) + Int(img[2 * x + 1, 2 * y + 1, c])
                    // Exact mean rounded half up; allow for the binary representation of .5 cases.
                    let mean = Double(sum) / 4
                    XCTAssertLessThanOrEqual(abs(Double(half[x, y, c]) - mean), 0.5 + 1e-9, "(\(x), \(y), \(c))")
                }
            }
        }
    }

    func testUpscaleKnownValues() {
        // 2x1 -> 4x1: samples at source x = -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1).
        let img = RGBImage(width: 2, height: 1, pixels: [0, 100, 200, 100, 0, 40])
        let up = img.resizedBilinear(width: 4, height: 1)
        XCTAssertEqual(up.pixels, [0, 100, 200,   // 0
                                   25, 75, 160,   // 0.75*a + 0.25*b
                                   75, 25, 80,    // 0.25*a + 0.75*b
                                   100, 0, 40])   // 1
    }

    func testResizeKeepsConstantImagesConstant() {
        var img = RGBImage(width: 13, height: 9)
        for i in stride(from: 0, to: img.pixels.count, by: 3) { img.pixels[i] = 17; img.pixels[i + 1] = 200; img.pixels[i + 2] = 255 }
        for (w, h) in [(1, 1), (5, 3), (26, 18), (40, 7)] {
            let r = img.resizedBilinear(width: w, height: h)
            XCTAssertEqual(r.width, w)
            XCTAssertEqual(r.height, h)
            for i in stride(from: 0, to: r.pixels.count, by: 3) {
                XCTAssertEqual(Array(r.pixels[i..<(i + 3)]), [17, 200, 255])
            }
        }
    }

    func testResizeEdgeSizes() {
        let img = Fixtures.noise(width: 4, height: 4, seed: 3)
        XCTAssertEqual(img.resizedBilinear(width: 0, height: 3), RGBImage(width: 0, height: 3))
        XCTAssertEqual(RGBImage(width: 0, height: 0).resizedBilinear(width: 2, height: 2), RGBImage(width: 2, height: 2))
        // 1x1 output samples the centre: the mean of the 2x2 centre block for a 4x4 source... at
        // source (1.5, 1.5), i.e. pixels (1,1), (2,1), (1,2), (2,2).
        let one = img.resizedBilinear(width: 1, height: 1)
        for c in 0..<3 {
            let mean = (Double(img[1, 1, c]) + Double(img[2, 1, c]) + Double(img[1, 2, c]) + Double(img[2, 2, c])) / 4
            XCTAssertLessThanOrEqual(abs(Double(one[0, 0, c]) - mean), 0.5 + 1e-9)
        }
    }

    // MARK: Crop

    func testCropInside() {
        let img = numbered(5, 4)
        let crop = img.cropped(Rect(left: 1, top: 1, right: 3, bottom: 2))
        XCTAssertEqual(crop.width, 3)
        XCTAssertEqual(crop.height, 2)
        for y in 0..<2 { for x in 0..<3 { XCTAssertEqual(Fixtures.pixel(crop, x, y), Fixtures.pixel(img, x + 1, y + 1)) } }
    }

    func testCropPartlyOutsideIsBlackThere() {
        let img = numbered(4, 3)
        let crop = img.cropped(Rect(left: -2, top: -1, right: 1, bottom: 3))
        XCTAssertEqual(crop.width, 4)
        XCTAssertEqual(crop.height, 5)
        for y in 0..<5 {
            for x in 0..<4 {
                let sx = x - 2, sy = y - 1
                let inside = sx >= 0 && sx < 4 && sy >= 0 && sy < 3
                XCTAssertEqual(Fixtures.pixel(crop, x, y), inside ? Fixtures.pixel(img, sx, sy) : [0, 0, 0], "(\(x), \(y))")
            }
        }
    }

    func testCropOutsideAndEmpty() {
        let img = numbered(4, 3)
        XCTAssertEqual(img.cropped(Rect(left: 10, top: 10, right: 12, bottom: 11)), RGBImage(width: 3, height: 2))
        XCTAssertEqual(img.cropped(Rect(left: 2, top: 0, right: 1, bottom: 2)), RGBImage(width: 0, height: 0))
        XCTAssertEqual(img.cropped(Rect(left: 0, top: 0, right: 3, bottom: 2)), img)
    }

    // MARK: Rotation

    func testAllOrientationsAgainstExplicitMaps() {
        let w = 3, h = 2
        let img = numbered(w, h)
        // Expected source pixel (x, y) of each output pixel, written out per orientation.
        let maps: [Int: (Int, Int) -> (Int, Int)] = [
            1: { x, y in (x, y) },
            2: { x, y in (w - 1 - x, y) },
            3: { x, y in (w - 1 - x, h - 1 - y) },
            4: { x, y in (x, h - 1 - y) },
            5: { x, y in (y, x) },
            6: { x, y in (y, h - 1 - x) },
            7: { x, y in (w - 1 - y, h - 1 - x) },
            8: { x, y in (w - 1 - y, x) },
        ]
        for orientation in 1...8 {
            let r = img.rotated(orientation: orientation)
            XCTAssertEqual(r.width, orientation >= 5 ? h : w, "orientation \(orientation)")
            XCTAssertEqual(r.height, orientation >= 5 ? w : h, "orientation \(orientation)")
            for y in 0..<r.height {
                for x in 0..<r.width {
                    let (sx, sy) = maps[orientation]!(x, y)
                    XCTAssertEqual(Fixtures.pixel(r, x, y), Fixtures.pixel(img, sx, sy), "orientation \(orientation) (\(x), \(y))")
                }
            }
        }
        // Orientation 6 puts the bottom-left pixel top-left (90° clockwise); 8 the top-right.
        XCTAssertEqual(Fixtures.pixel(img.rotated(orientation: 6), 0, 0), Fixtures.pixel(img, 0, h - 1))
        XCTAssertEqual(Fixtures.pixel(img.rotated(orientation: 8), 0, 0), Fixtures.pixel(img, w - 1, 0))
    }

    func testRotationAlgebra() {
        let img = Fixtures.noise(width: 5, height: 3, seed: 8)
        XCTAssertEqual(img.rotated(orientation: 6).rotated(orientation: 8), img)
        XCTAssertEqual(img.rotated(orientation: 3).rotated(orientation: 3), img)
        XCTAssertEqual(img.rotated(orientation: 6).rotated(orientation: 6), img.rotated(orientation: 3))
        for involution in [2, 4, 5, 7] {
            XCTAssertEqual(img.rotated(orientation: involution).rotated(orientation: involution), img, "\(involution)")
        }
        for invalid in [0, 9, -1, 100] { XCTAssertEqual(img.rotated(orientation: invalid), img) }
        XCTAssertEqual(RGBImage(width: 0, height: 4).rotated(orientation: 6), RGBImage(width: 4, height: 0))
    }

    // MARK: Affine warp

    /// The warp written the slow, obvious way, as dlib's interpolate_bilinear does it.
    private func referenceWarp(_ img: RGBImage, _ w: Int, _ h: Int,
                               _ m: (Double, Double, Double, Double, Double, Double)) -> RGBImage {
        var out = RGBImage(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                let px = m.0 * Double(x) + m.1 * Double(y) + m.2
                let py = m.3 * Double(x) + m.4 * Double(y) + m.5
                guard px.isFinite, py.isFinite else { continue }
                let left = Int(px.rounded(.down)), top = Int(py.rounded(.down))
                guard left >= 0, top >= 0, left + 1 < img.width, top + 1 < img.height else { continue }
                let lr = px - Double(left), tb = py - Double(top)
                for c in 0..<3 {
                    let tl = Double(img[left, top, c]), tr = Double(img[left + 1, top, c])
                    let bl = Double(img[left, top + 1, c]), br = Double(img[left + 1, top + 1, c])
                    let v = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * br)
                    out[x, y, c] = UInt8(max(0, min(255, v)).rounded(.towardZero))
                }
            }
        }
        return out
    }

    func testIdentityWarpKeepsAllButLastRowAndColumn() {
        let img = Fixtures.noise(width: 6, height: 4, seed: 9)
        let warped = img.affineWarp(width: 6, height: 4, matrix: (1, 0, 0, 0, 1, 0))
        for y in 0..<4 {
            for x in 0..<6 {
                // dlib needs the whole 2x2 neighbourhood inside, so the last row/column is background.
                let expected = (x < 5 && y < 3) ? Fixtures.pixel(img, x, y) : [0, 0, 0]
                XCTAssertEqual(Fixtures.pixel(warped, x, y), expected, "(\(x), \(y))")
            }
        }
    }

    func testHalfPixelShiftTruncatesTheAverage() {
        let img = RGBImage(width: 2, height: 2, pixels: [0, 0, 0, 1, 3, 255,
                                                         0, 0, 0, 1, 3, 255])
        let warped = img.affineWarp(width: 1, height: 1, matrix: (1, 0, 0.5, 0, 1, 0))
        // Means 0.5, 1.5, 127.5 truncate to 0, 1, 127 (dlib), not round to 1, 2, 128.
        XCTAssertEqual(warped.pixels, [0, 1, 127])
    }

    func testWarpOutsideAndNonFiniteIsBlack() {
        let img = Fixtures.noise(width: 5, height: 5, seed: 10)
        XCTAssertEqual(img.affineWarp(width: 3, height: 3, matrix: (1, 0, 100, 0, 1, 0)), RGBImage(width: 3, height: 3))
        XCTAssertEqual(img.affineWarp(width: 3, height: 3, matrix: (1, 0, -4, 0, 1, 0)), RGBImage(width: 3, height: 3))
        XCTAssertEqual(img.affineWarp(width: 2, height: 2, matrix: (.nan, 0, 0, 0, 1, 0)), RGBImage(width: 2, height: 2))
        XCTAssertEqual(img.affineWarp(width: 2, height: 2, matrix: (.infinity, 0, 0, 0, 1, 0)), RGBImage(width: 2, height: 2))
        XCTAssertEqual(img.affineWarp(width: 2, height: 2, matrix: (1, 0, 1e300, 0, 1, 0)), RGBImage(width: 2, height: 2))
        XCTAssertEqual(img.affineWarp(width: 0, height: 0, matrix: (1, 0, 0, 0, 1, 0)), RGBImage(width: 0, height: 0))
    }

    func testScaleTwoWarpPicksEveryOtherPixel() {
        let img = Fixtures.noise(width: 9, height: 7, seed: 11)
        let warped = img.affineWarp(width: 4, height: 3, matrix: (2, 0, 0, 0, 2, 0))
        for y in 0..<3 { for x in 0..<4 { XCTAssertEqual(Fixtures.pixel(warped, x, y), Fixtures.pixel(img, 2 * x, 2 * y)) } }
    }

    func testRandomRotationsMatchReference() {
        let img = Fixtures.noise(width: 40, height: 30, seed: 12)
        var rng = SplitMix64(seed: 0xAFF1)
        for _ in 0..<25 {
            let angle = Double.random(in: -Double.pi...Double.pi, using: &rng)
            let scale = Double.random(in: 0.3...2.5, using: &rng)
            let m = (scale * cos(angle), -scale * sin(angle), Double.random(in: -10...40, using: &rng),
                     scale * sin(angle), scale * cos(angle), Double.random(in: -10...30, using: &rng))
            XCTAssertEqual(img.affineWarp(width: 25, height: 20, matrix: m), referenceWarp(img, 25, 20, m))
        }
    }
}
