@testable import StudioImage
import StudioKit
import XCTest

/// EXIF orientation: parsing, application on decode, and hostile input.
final class EXIFTests: XCTestCase {
    private func quadrantJPEG() throws -> [UInt8] {
        try ImageIO.encodeJPEG(Fixtures.quadrants(width: 32, height: 16), quality: 95)
    }

    /// Asserts that `pixel` is within JPEG tolerance of `colour`.
    private func assertColour(_ img: RGBImage, _ x: Int, _ y: Int, _ colour: [Int],
                              file: StaticString = #filePath, line: UInt = #line) {
        let px = Fixtures.pixel(img, x, y)
        for c in 0..<3 {
            XCTAssertLessThanOrEqual(abs(Int(px[c]) - colour[c]), 24, "pixel (\(x), \(y)) = \(px), want \(colour)",
                                     file: file, line: line)
        }
    }

    func testParsesBothByteOrdersAndAllValues() throws {
        let jpeg = try quadrantJPEG()
        XCTAssertNil(ImageIO.exifOrientation(jpeg: jpeg))
        for value in 1...8 {
            for bigEndian in [false, true] {
                let tagged = JPEGEdit.insertingExif(jpeg, tiff: JPEGEdit.orientationTIFF(value, bigEndian: bigEndian))
                XCTAssertEqual(ImageIO.exifOrientation(jpeg: tagged), value, "value \(value) bigEndian \(bigEndian)")
            }
        }
    }

    func testOrientation6RotatesClockwise() throws {
        let jpeg = try quadrantJPEG()
        let tagged = JPEGEdit.insertingExif(jpeg, tiff: JPEGEdit.orientationTIFF(6, bigEndian: true))
        let img = try ImageIO.decode(tagged, name: "six.jpg")
        XCTAssertEqual(img.width, 16)
        XCTAssertEqual(img.height, 32)
        // Rotating 90° clockwise: bottom-left (blue) goes to top-left, top-left (red) to top-right,
        // bottom-right (white) to bottom-left, top-right (green) to bottom-right.
        assertColour(img, 4, 8, [0, 0, 255])
        assertColour(img, 12, 8, [255, 0, 0])
        assertColour(img, 4, 24, [255, 255, 255])
        assertColour(img, 12, 24, [0, 255, 0])
        // Exactly the unrotated decode, rotated.
        let raw = try ImageIO.decode(tagged, name: "six.jpg", applyOrientation: false)
        XCTAssertEqual(raw.width, 32)
        XCTAssertEqual(img, raw.rotated(orientation: 6))
    }

    func testOrientation3RotatesHalfTurn() throws {
        let jpeg = try quadrantJPEG()
        let tagged = JPEGEdit.insertingExif(jpeg, tiff: JPEGEdit.orientationTIFF(3, bigEndian: false))
        let img = try ImageIO.decode(tagged, name: "three.jpg")
        XCTAssertEqual(img.width, 32)
        XCTAssertEqual(img.height, 16)
        assertColour(img, 8, 4, [255, 255, 255])
        assertColour(img, 24, 4, [0, 0, 255])
        assertColour(img, 8, 12, [0, 255, 0])
        assertColour(img, 24, 12, [255, 0, 0])
        let raw = try ImageIO.decode(tagged, name: "three.jpg", applyOrientation: false)
        XCTAssertEqual(img, raw.rotated(orientation: 3))
        XCTAssertEqual(raw, try ImageIO.decode(jpeg, name: "plain.jpg"))
    }

    func testHostileExifReturnsNil() throws {
        let jpeg = try quadrantJPEG()
        let good = JPEGEdit.orientationTIFF(6, bigEndian: false)
        var cases: [(String, [UInt8])] = []
        cases.append(("IFD offset past end", Array(good[0..<4]) + [0xFF, 0xFF, 0xFF, 0x7F] + Array(good[8...])))
        cases.append(("IFD offset at end", Array(good[0..<4]) + [UInt8(good.count), 0, 0, 0] + Array(good[8...])))
        cases.append(("huge entry count", Array(good[0..<8]) + [0xFF, 0xFF] + Array(good[10..<22])))
        cases.append(("truncated directory", Array(good[0..<20])))
        cases.append(("only a header", Array(good[0..<8])))
        cases.append(("bad byte order", [0x49, 0x4D] + Array(good[2...])))
        cases.append(("bad magic", Array(good[0..<2]) + [43, 0] + Array(good[4...])))
        cases.append(("orientation 0", JPEGEdit.orientationTIFF(0, bigEndian: false)))
        cases.append(("orientation 9", JPEGEdit.orientationTIFF(9, bigEndian: true)))
        cases.append(("orientation 0xFFFF", JPEGEdit.orientationTIFF(0xFFFF, bigEndian: true)))
        var wrongType = good
        wrongType[24] = 2  // type ASCII instead of SHORT (entry 2 starts at 22)
        cases.append(("wrong type", wrongType))
        var selfLoop = good
        selfLoop[8] = 1; selfLoop[9] = 0  // one entry (the width), then next-IFD pointing back to IFD0
        cases.append(("IFD chain loops", Array(selfLoop[0..<22]) + [8, 0, 0, 0]))
        cases.append(("empty TIFF", []))
        for (label, tiff) in cases {
            let tagged = JPEGEdit.insertingExif(jpeg, tiff: tiff)
            XCTAssertNil(ImageIO.exifOrientation(jpeg: tagged), label)
            // Decoding still works and ignores the broken metadata.
            XCTAssertEqual(try ImageIO.decode(tagged, name: "hostile.jpg").width, 32, label)
        }
    }

    func testHostileSegmentStructureReturnsNil() throws {
        let tagged = JPEGEdit.insertingExif(try quadrantJPEG(), tiff: JPEGEdit.orientationTIFF(6, bigEndian: false))
        // APP1 length running past the end of the data.
        var longLength = Array(tagged[0..<40])
        longLength[4] = 0xFF; longLength[5] = 0xF0
        XCTAssertNil(ImageIO.exifOrientation(jpeg: longLength))
        // Length below the 2-byte minimum.
        var shortLength = tagged
        shortLength[4] = 0; shortLength[5] = 1
        XCTAssertNil(ImageIO.exifOrientation(jpeg: shortLength))
        // Cut inside the segment header, and inside the marker.
        for cut in 0..<12 { XCTAssertNil(ImageIO.exifOrientation(jpeg: Array(tagged[0..<cut])), "cut \(cut)") }
        // Fill bytes before a marker are allowed.
        let filled = Array(tagged[0..<2]) + [0xFF, 0xFF] + Array(tagged[2...])
        XCTAssertEqual(ImageIO.exifOrientation(jpeg: filled), 6)
        // Not a JPEG at all.
        XCTAssertNil(ImageIO.exifOrientation(jpeg: []))
        XCTAssertNil(ImageIO.exifOrientation(jpeg: [0x89, 0x50, 0x4E, 0x47]))
        // EXIF after the first scan is not metadata any more.
        let plain = try quadrantJPEG()
        let sos = try XCTUnwrap(JPEGEdit.offset(of: 0xDA, in: plain))
        let late = Array(plain[0..<(sos + 2)]) + Array(tagged[2..<40]) + Array(plain[(sos + 2)...])
        XCTAssertNil(ImageIO.exifOrientation(jpeg: late))
    }

    func testRandomExifPayloadsNeverCrash() throws {
        let jpeg = try quadrantJPEG()
        var rng = SplitMix64(seed: 0xE81F)
        let good = JPEGEdit.orientationTIFF(6, bigEndian: true)
        for round in 0..<2000 {
            var tiff: [UInt8]
            if round % 2 == 0 {
                // Mutations of a valid structure reach deep into the parser.
                tiff = good
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    tiff[Int.random(in: 0..<tiff.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { tiff = Array(tiff.prefix(Int.random(in: 0...tiff.count, using: &rng))) }
            } else {
                tiff = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if tiff.count >= 2 && Bool.random(using: &rng) { tiff[0] = 0x4D; tiff[1] = 0x4D }
            }
            if let value = ImageIO.exifOrientation(jpeg: JPEGEdit.insertingExif(jpeg, tiff: tiff)) {
                XCTAssertTrue((1...8).contains(value))
            }
        }
    }
}
