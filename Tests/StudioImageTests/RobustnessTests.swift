import Foundation
@testable import StudioImage
import StudioKit
import StudioTestSupport
import XCTest

/// Broken, hostile and oversized input: every failure is a typed `ImageError` naming the file.
final class RobustnessTests: XCTestCase {
    // MARK: Not images

    func testEmptyAndRandomBytesAreNotImages() {
        let empty = assertImageError(.notAnImage) { try ImageIO.decode([], name: "empty.png") }
        XCTAssertEqual(empty?.file, "empty.png")
        var rng = SplitMix64(seed: 1)
        for length in [1, 2, 7, 100, 4096] {
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if bytes[0] == 0x89 || bytes[0] == 0xFF { bytes[0] = 0x00 }
            assertImageError(.notAnImage) { try ImageIO.decode(bytes, name: "random.bin") }
        }
        let gif = assertImageError(.notAnImage) { try ImageIO.decode(Array("GIF89a....".utf8), name: "anim.gif") }
        XCTAssertTrue(gif?.detail.contains("GIF") ?? false, gif?.detail ?? "")
    }

    func testSignaturePrefixIsTruncated() {
        assertImageError(.truncated) { try ImageIO.decode([0x89, 0x50, 0x4E], name: "cut.png") }
        assertImageError(.truncated) { try ImageIO.decode([0xFF, 0xD8], name: "cut.jpg") }
        assertImageError(.truncated) { try ImageIO.decode(Array(ImageFormat.pngSignature), name: "sig.png") }
        assertImageError(.truncated) { try ImageIO.decode([0xFF, 0xD8, 0xFF], name: "sig.jpg") }
    }

    // MARK: Files

    func testMissingFileIsUnreadableAndNamed() {
        let path = "/nonexistent-studio-dir/obama.jpg"
        let error = assertImageError(.unreadable) { try ImageIO.load(path: path) }
        XCTAssertEqual(error?.file, path)
        XCTAssertTrue(error?.description.hasPrefix(path + ": ") ?? false, error?.description ?? "")
    }

    func testDirectoryIsUnreadable() {
        assertImageError(.unreadable) { try ImageIO.load(path: NSTemporaryDirectory()) }
    }

    /// A stream of zeros with no end (a FIFO fed by a writer that stops only when the reader goes):
    /// refused as not an image from its first bytes, not read to the size limit first.
    func testANonImageIsRefusedFromItsFirstBytesNotReadWhole() throws {
        let path = NSTemporaryDirectory() + "studio-zeros-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jpg"
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        defer { unlink(path) }
        signal(SIGPIPE, SIG_IGN)
        let writer = Thread {
            let fd = open(path, O_WRONLY)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let zeros = [UInt8](repeating: 0, count: 1 << 16)
            var sent = 0
            // At most 2 GiB: past the 1 GiB limit, so a reader that reads it whole ends with tooLarge.
            while sent < 2 << 30 {
                let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                sent += n
            }
        }
        writer.start()
        let error = assertImageError(.notAnImage) { try ImageIO.load(path: path) }
        XCTAssertTrue(error?.detail.contains("00 00 00") ?? false, error?.detail ?? "")
    }

    func testFormatIsSniffedNotTakenFromTheExtension() throws {
        let dir = NSTemporaryDirectory() + "studio-sniff-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = Fixtures.gradient(width: 10, height: 6)
        let path = dir + "/actually-a-png.jpg"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(try ImageIO.encodePNG(image))))
        XCTAssertEqual(try ImageIO.load(path: path), image)
        let textPath = dir + "/notes.png"
        XCTAssertTrue(FileManager.default.createFile(atPath: textPath, contents: Data("hello".utf8)))
        let error = assertImageError(.notAnImage) { try ImageIO.load(path: textPath) }
        XCTAssertTrue(error?.description.hasPrefix(textPath + ": ") ?? false)
        let emptyPath = dir + "/empty.jpg"
        XCTAssertTrue(FileManager.default.createFile(atPath: emptyPath, contents: Data()))
        assertImageError(.notAnImage) { try ImageIO.load(path: emptyPath) }
    }

    // MARK: Truncation

    func testTruncatedPNGAtSeveralPoints() throws {
        let png = try ImageIO.encodePNG(Fixtures.noise(width: 64, height: 64, seed: 3))
        for fraction in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let cut = Array(png.prefix(Int(Double(png.count) * fraction)))
            let error = assertImageError(.truncated) { try ImageIO.decode(cut, name: "cut.png") }
            XCTAssertTrue(error?.description.hasPrefix("cut.png: truncated PNG data") ?? false, error?.description ?? "")
        }
        // Cut inside IHDR.
        assertImageError(.truncated) { try ImageIO.decode(Array(png.prefix(20)), name: "cut.png") }
        // Only the trailing IEND is missing: the image is complete, and accepted (as by PIL).
        XCTAssertEqual(try ImageIO.decode(Array(png.dropLast(12)), name: "noend.png").width, 64)
    }

    func testTruncatedJPEGAtSeveralPoints() throws {
        let jpeg = try ImageIO.encodeJPEG(Fixtures.noise(width: 64, height: 64, seed: 4), quality: 90)
        for fraction in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let cut = Array(jpeg.prefix(Int(Double(jpeg.count) * fraction)))
            let error = assertImageError(.truncated) { try ImageIO.decode(cut, name: "obama.jpg") }
            XCTAssertEqual(error?.description, "obama.jpg: truncated JPEG data (premature end of file)")
        }
        // Cut inside the header segments.
        assertImageError(.truncated) { try ImageIO.decode(Array(jpeg.prefix(30)), name: "head.jpg") }
    }

    // MARK: Corruption

    func testDamagedPNGChunkIsCorrupt() throws {
        var png = try ImageIO.encodePNG(Fixtures.gradient(width: 8, height: 8))
        png[18] ^= 0x40  // inside IHDR's width field: the CRC no longer matches
        let error = assertImageError(.corrupt) { try ImageIO.decode(png, name: "crc.png") }
        XCTAssertTrue(error?.description.hasPrefix("crc.png: corrupt PNG data") ?? false, error?.description ?? "")
    }

    func testBitFlippedPNGNeverCrashes() throws {
        let sources = [try ImageIO.encodePNG(Fixtures.noise(width: 24, height: 20, seed: 5)),
                       try ImageIO.encodePNG(Fixtures.gradient(width: 40, height: 30)),
                       PNGBuilder.make(width: 9, height: 7, colorType: .palette, bitDepth: 4,
                                       samples: (0..<63).map { $0 % 16 },
                                       palette: (0..<16).map { [UInt8($0 * 16), 0, 0] }, interlaced: true)]
        var rng = SplitMix64(seed: 0xF11B)
        for round in 0..<600 {
            var bytes = sources[round % sources.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 8..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            }
            // Half the time repair the CRCs so the damage reaches IHDR checks, zlib and the filters.
            if round % 2 == 1 { bytes = PNGBuilder.repairingCRCs(bytes) }
            checkDecodeIsSafe(bytes, name: "flip-\(round).png")
        }
    }

    func testBitFlippedJPEGNeverCrashes() throws {
        let sources = [try ImageIO.encodeJPEG(Fixtures.noise(width: 24, height: 20, seed: 6), quality: 85),
                       try ImageIO.encodeJPEG(Fixtures.gradient(width: 40, height: 30), quality: 60),
                       try JPEGCodec.encode(pixels: (0..<(16 * 8)).map { UInt8($0) }, width: 16, height: 8,
                                            components: 1, quality: 90, name: "g")]
        var rng = SplitMix64(seed: 0x1BE6)
        for round in 0..<600 {
            var bytes = sources[round % sources.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 2..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            }
            checkDecodeIsSafe(bytes, name: "flip-\(round).jpg")
        }
    }

    /// Decoding either throws an `ImageError` naming the file or returns a well-formed image.
    private func checkDecodeIsSafe(_ bytes: [UInt8], name: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let img = try ImageIO.decode(bytes, name: name, applyOrientation: false)
            XCTAssertGreaterThan(img.width, 0, file: file, line: line)
            XCTAssertGreaterThan(img.height, 0, file: file, line: line)
            XCTAssertLessThanOrEqual(img.width * img.height, ImageIO.maxPixels, file: file, line: line)
            XCTAssertEqual(img.pixels.count, img.width * img.height * 3, file: file, line: line)
        } catch let error as ImageError {
            XCTAssertEqual(error.file, name, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(name + ": "), file: file, line: line)
        } catch {
            XCTFail("\(name): non-ImageError \(error)", file: file, line: line)
        }
    }

    // MARK: Size limits

    func testOversizedPNGHeaderIsRefusedBeforeDecoding() {
        // 20000 x 20000 = 4e8 pixels, with no image data at all: refusing it as tooLarge
        // (rather than truncated) shows the check runs on the header, before any allocation.
        let sig = ImageFormat.pngSignature
        let header = sig + PNGBuilder.ihdr(width: 20000, height: 20000, bitDepth: 8, colorType: .rgb, interlaced: false)
        let error = assertImageError(.tooLarge) { try ImageIO.decode(header + PNGBuilder.chunk("IEND", []), name: "huge.png") }
        XCTAssertTrue(error?.detail.contains("20000x20000") ?? false, error?.detail ?? "")
        let wide = sig + PNGBuilder.ihdr(width: 2_000_000, height: 60, bitDepth: 8, colorType: .rgb, interlaced: false)
        assertImageError(.tooLarge) { try ImageIO.decode(wide, name: "wide.png") }
        let beyondFormat = sig + PNGBuilder.ihdr(width: 0xFFFF_FFFF, height: 0xFFFF_FFFF, bitDepth: 8, colorType: .rgb, interlaced: false)
        assertImageError(.tooLarge) { try ImageIO.decode(beyondFormat, name: "max.png") }
        // Just above the limit: 10001 x 10000.
        let over = sig + PNGBuilder.ihdr(width: 10001, height: 10000, bitDepth: 8, colorType: .grey, interlaced: false)
        assertImageError(.tooLarge) { try ImageIO.decode(over, name: "over.png") }
    }

    /// libpng's default limit of 1,000,000 pixels per side is lifted: only `maxPixels` counts.
    func testVeryWidePNGWithinPixelLimitDecodes() throws {
        let w = 1_200_000
        let png = PNGBuilder.make(width: w, height: 1, colorType: .grey, bitDepth: 8, samples: (0..<w).map { $0 & 0xFF })
        let img = try ImageIO.decode(png, name: "wide.png")
        XCTAssertEqual(img.width, w)
        XCTAssertEqual(Fixtures.pixel(img, 1_000_123, 0), [UInt8(1_000_123 & 0xFF), UInt8(1_000_123 & 0xFF), UInt8(1_000_123 & 0xFF)])
    }

    func testZeroSizedPNGIsCorrupt() {
        let png = ImageFormat.pngSignature + PNGBuilder.ihdr(width: 0, height: 5, bitDepth: 8, colorType: .rgb, interlaced: false)
        assertImageError(.corrupt) { try ImageIO.decode(png + PNGBuilder.chunk("IEND", []), name: "zero.png") }
    }

    func testOversizedJPEGHeaderIsRefusedBeforeDecoding() throws {
        let jpeg = try ImageIO.encodeJPEG(Fixtures.gradient(width: 16, height: 16), quality: 80)
        let sof = try XCTUnwrap(JPEGEdit.offset(of: 0xC0, in: jpeg))
        for (w, h) in [(20000, 20000), (65500, 65500), (10001, 10000)] {
            var big = jpeg
            big[sof + 5] = UInt8(h >> 8); big[sof + 6] = UInt8(h & 0xFF)
            big[sof + 7] = UInt8(w >> 8); big[sof + 8] = UInt8(w & 0xFF)
            let error = assertImageError(.tooLarge) { try ImageIO.decode(big, name: "huge.jpg") }
            XCTAssertTrue(error?.detail.contains("\(w)x\(h)") ?? false, error?.detail ?? "")
        }
    }

    func testSizeArithmeticIsChecked() {
        XCTAssertThrowsError(try ImageIO.rgbByteCount(width: Int.max / 2, height: 3, format: "PNG", name: "x"))
        XCTAssertThrowsError(try ImageIO.rgbByteCount(width: 0, height: 3, format: "PNG", name: "x"))
        XCTAssertEqual(try ImageIO.rgbByteCount(width: 10000, height: 10000, format: "PNG", name: "x"), 300_000_000)
    }

    func testErrorEqualityAndDescription() {
        let a = ImageError(.corrupt, file: "a.png", detail: "corrupt PNG data (x)")
        XCTAssertEqual(a, ImageError(.corrupt, file: "a.png", detail: "corrupt PNG data (x)"))
        XCTAssertNotEqual(a, ImageError(.truncated, file: "a.png", detail: "corrupt PNG data (x)"))
        XCTAssertEqual(a.description, "a.png: corrupt PNG data (x)")
        XCTAssertEqual("\(a)", "a.png: corrupt PNG data (x)")
    }
}
