@testable import StudioImage
import StudioKit
import StudioTestSupport
import XCTest

/// PNG decoding of every colour type and bit depth, checked pixel by pixel against what
/// PIL's `convert('RGB')` produces.
final class PNGDecodeTests: XCTestCase {
    /// Decodes and checks the size, returning the image.
    private func decode(_ png: [UInt8], _ width: Int, _ height: Int,
                        file: StaticString = #filePath, line: UInt = #line) throws -> RGBImage {
        let img = try ImageIO.decode(png, name: "test.png")
        XCTAssertEqual(img.width, width, file: file, line: line)
        XCTAssertEqual(img.height, height, file: file, line: line)
        return img
    }

    /// Random samples in `0..<(1 << depth)`.
    private func samples(_ count: Int, depth: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int.random(in: 0..<(1 << depth), using: &rng) }
    }

    func testGreyAllBitDepths() throws {
        for depth in [1, 2, 4, 8, 16] {
            for interlaced in [false, true] {
                let w = 13, h = 11
                let s = samples(w * h, depth: depth, seed: UInt64(depth))
                let img = try decode(PNGBuilder.make(width: w, height: h, colorType: .grey, bitDepth: depth,
                                                     samples: s, interlaced: interlaced), w, h)
                for i in 0..<(w * h) {
                    // Low depths scale by bit replication (v * 255 / max); 16-bit grey clips like PIL.
                    let expected = depth == 16 ? min(s[i], 255) : s[i] * 255 / ((1 << depth) - 1)
                    let px = Array(img.pixels[(i * 3)..<(i * 3 + 3)])
                    XCTAssertEqual(px, [UInt8](repeating: UInt8(expected), count: 3),
                                   "grey depth \(depth) interlaced \(interlaced) pixel \(i)")
                }
            }
        }
    }

    func testRGBAndRGBA8And16Bit() throws {
        for type in [PNGBuilder.ColorType.rgb, .rgba] {
            for depth in [8, 16] {
                for interlaced in [false, true] {
                    let w = 9, h = 10, ch = type.channels
                    let s = samples(w * h * ch, depth: depth, seed: UInt64(depth * 10 + ch))
                    let img = try decode(PNGBuilder.make(width: w, height: h, colorType: type, bitDepth: depth,
                                                         samples: s, interlaced: interlaced), w, h)
                    for i in 0..<(w * h) {
                        for c in 0..<3 {
                            let v = s[i * ch + c]
                            // Alpha is dropped, never blended, so colour survives even at alpha 0.
                            XCTAssertEqual(Int(img.pixels[i * 3 + c]), depth == 16 ? v >> 8 : v,
                                           "\(type) depth \(depth) pixel \(i) channel \(c)")
                        }
                    }
                }
            }
        }
    }

    func testGreyAlpha8And16Bit() throws {
        for depth in [8, 16] {
            let w = 7, h = 5
            let s = samples(w * h * 2, depth: depth, seed: 77 + UInt64(depth))
            let img = try decode(PNGBuilder.make(width: w, height: h, colorType: .greyAlpha, bitDepth: depth, samples: s), w, h)
            for i in 0..<(w * h) {
                let g = UInt8(depth == 16 ? s[i * 2] >> 8 : s[i * 2])
                XCTAssertEqual(Array(img.pixels[(i * 3)..<(i * 3 + 3)]), [g, g, g], "grey+alpha depth \(depth) pixel \(i)")
            }
        }
    }

    /// The 16-bit reduction is v >> 8 (PIL's), not round(v / 257) and not a linear-to-sRGB
    /// conversion: these values tell the three apart.
    func testSixteenBitUsesHighByte() throws {
        let values = [0x80FF, 0x7F80, 0x00FF, 0xFF00, 0x0180, 0x8000]
        let s = values.flatMap { [$0, $0, $0] }
        let img = try decode(PNGBuilder.make(width: values.count, height: 1, colorType: .rgb, bitDepth: 16, samples: s),
                             values.count, 1)
        for (i, v) in values.enumerated() {
            XCTAssertEqual(img[i, 0, 0], UInt8(v >> 8), String(format: "0x%04X", v))
        }
        // round(v / 257) would give 129 and 128 for the first two.
        XCTAssertEqual(img[0, 0, 0], 0x80)
        XCTAssertEqual(img[1, 0, 0], 0x7F)
    }

    /// PIL opens 16-bit greyscale as mode "I;16", and its convert('RGB') clips to 255 rather
    /// than keeping the high byte (dlib's load_image agrees). Grey+alpha 16-bit keeps the high byte.
    func testSixteenBitGreyClipsLikePIL() throws {
        let values = [0, 1, 200, 255, 256, 0x80FF, 0xFFFF]
        for interlaced in [false, true] {
            for trns in [nil, [UInt8(1), 0]] as [[UInt8]?] {
                let img = try decode(PNGBuilder.make(width: values.count, height: 1, colorType: .grey, bitDepth: 16,
                                                     samples: values, trns: trns, interlaced: interlaced), values.count, 1)
                XCTAssertEqual(img.pixels, [0, 1, 200, 255, 255, 255, 255].flatMap { [UInt8($0), UInt8($0), UInt8($0)] },
                               "interlaced \(interlaced) tRNS \(trns != nil)")
            }
        }
        let withAlpha = try decode(PNGBuilder.make(width: 2, height: 1, colorType: .greyAlpha, bitDepth: 16,
                                                   samples: [200, 0xFFFF, 0x80FF, 0]), 2, 1)
        XCTAssertEqual(withAlpha.pixels, [0, 0, 0, 0x80, 0x80, 0x80])
    }

    func testPaletteAllBitDepthsWithAndWithoutTRNS() throws {
        for depth in [1, 2, 4, 8] {
            for withTRNS in [false, true] {
                let entries = 1 << depth
                let palette: [[UInt8]] = (0..<entries).map { (k: Int) -> [UInt8] in
                    let r = UInt8((k * 37) & 0xFF), g = UInt8((k * 91 + 13) & 0xFF), b = UInt8(255 - k)
                    return [r, g, b]
                }
                let w = 17, h = 6
                let s = samples(w * h, depth: depth, seed: 500 + UInt64(depth))
                let trns: [UInt8]? = withTRNS ? (0..<entries).map { UInt8(($0 * 53) & 0xFF) } : nil
                let img = try decode(PNGBuilder.make(width: w, height: h, colorType: .palette, bitDepth: depth,
                                                     samples: s, palette: palette, trns: trns), w, h)
                for i in 0..<(w * h) {
                    XCTAssertEqual(Array(img.pixels[(i * 3)..<(i * 3 + 3)]), palette[s[i]],
                                   "palette depth \(depth) tRNS \(withTRNS) pixel \(i)")
                }
            }
        }
    }

    func testGreyAndRGBWithTRNSKeepColour() throws {
        // tRNS marks one colour transparent; convert('RGB') keeps the colour.
        let grey = try decode(PNGBuilder.make(width: 3, height: 1, colorType: .grey, bitDepth: 8, samples: [0, 7, 200],
                                              trns: [0, 7]), 3, 1)
        XCTAssertEqual(grey.pixels, [0, 0, 0, 7, 7, 7, 200, 200, 200])
        let rgb = try decode(PNGBuilder.make(width: 2, height: 1, colorType: .rgb, bitDepth: 8, samples: [1, 2, 3, 4, 5, 6],
                                             trns: [0, 1, 0, 2, 0, 3]), 2, 1)
        XCTAssertEqual(rgb.pixels, [1, 2, 3, 4, 5, 6])
    }

    func testGammaChunkIsIgnored() throws {
        // gAMA 1.0 would make a colour-managed decoder brighten mid-tones; PIL ignores it.
        for depth in [8, 16] {
            let s = depth == 8 ? [10, 128, 250] : [0x0A00, 0x8000, 0xFA00]
            let img = try decode(PNGBuilder.make(width: 1, height: 1, colorType: .rgb, bitDepth: depth, samples: s,
                                                 gamma: 100_000), 1, 1)
            XCTAssertEqual(img.pixels, [10, 128, 250], "depth \(depth)")
        }
    }

    func testImageDataSplitAcrossManyIDATChunks() throws {
        let w = 20, h = 20
        let s = samples(w * h * 3, depth: 8, seed: 9)
        let img = try decode(PNGBuilder.make(width: w, height: h, colorType: .rgb, bitDepth: 8, samples: s, idatPieces: 37), w, h)
        XCTAssertEqual(img.pixels.map(Int.init), s)
    }

    func testRoundTripThroughEncoder() throws {
        let original = Fixtures.noise(width: 31, height: 17, seed: 4)
        let png = try ImageIO.encodePNG(original)
        XCTAssertEqual(Array(png.prefix(8)), ImageFormat.pngSignature)
        XCTAssertEqual(try ImageIO.decode(png, name: "round.png"), original)

        let gradient = Fixtures.gradient(width: 300, height: 200)
        XCTAssertEqual(try ImageIO.decode(try ImageIO.encodePNG(gradient), name: "g.png"), gradient)
    }

    func testEncoderRetriesWhenTheBufferIsTooSmall() throws {
        let image = Fixtures.noise(width: 50, height: 40, seed: 6)
        let small = try PNGCodec.encode(image, name: "x.png", initialCapacity: 64)
        XCTAssertEqual(small, try ImageIO.encodePNG(image))
        XCTAssertEqual(try ImageIO.decode(small, name: "x.png"), image)
    }

    func testEncodeRefusesEmptyImage() {
        assertImageError(.writeFailed) { try ImageIO.encodePNG(RGBImage(width: 0, height: 0)) }
    }

    func testWritePNGIsAtomicAndReadable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("studio-image-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.png").path
        let first = Fixtures.gradient(width: 40, height: 30)
        try ImageIO.writePNG(first, to: path)
        XCTAssertEqual(try ImageIO.load(path: path), first)
        // Overwriting replaces the file whole and leaves no temporary behind.
        let second = Fixtures.noise(width: 8, height: 9, seed: 1)
        try ImageIO.writePNG(second, to: path)
        XCTAssertEqual(try ImageIO.load(path: path), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.png"])

        // A directory that does not exist is a writeFailed error naming the path.
        let bad = dir.appendingPathComponent("missing/out.png").path
        let error = assertImageError(.writeFailed) { try ImageIO.writePNG(first, to: bad) }
        XCTAssertEqual(error?.file, bad)
        XCTAssertTrue(error?.description.contains(bad) ?? false)
    }
}
