import Foundation
@testable import StudioImage
import StudioKit
import XCTest

/// JPEG encoding and decoding through the libjpeg shim.
final class JPEGTests: XCTestCase {
    func testRoundTripWithinTolerance() throws {
        let original = Fixtures.gradient(width: 96, height: 64)
        let jpeg = try ImageIO.encodeJPEG(original, quality: 95)
        XCTAssertEqual(Array(jpeg.prefix(3)), ImageFormat.jpegSignature)
        let decoded = try ImageIO.decode(jpeg, name: "round.jpg")
        XCTAssertEqual(decoded.width, 96)
        XCTAssertEqual(decoded.height, 64)
        XCTAssertLessThan(Fixtures.meanAbsoluteError(original, decoded), 1.5)
        XCTAssertLessThanOrEqual(Fixtures.maxAbsoluteError(original, decoded), 12)

        // Lower quality: smaller file, larger but still bounded error.
        let rough = try ImageIO.encodeJPEG(original, quality: 30)
        XCTAssertLessThan(rough.count, jpeg.count)
        XCTAssertLessThan(Fixtures.meanAbsoluteError(original, try ImageIO.decode(rough, name: "rough.jpg")), 4)
    }

    /// Grey noise at quality 100 compresses to several times the encoder's initial 64 KiB
    /// buffer; being grey, chroma subsampling does not blur it.
    func testLargeOutputAndWriteJPEG() throws {
        var noise = Fixtures.noise(width: 400, height: 300, seed: 21)
        for i in stride(from: 0, to: noise.pixels.count, by: 3) {
            noise.pixels[i + 1] = noise.pixels[i]
            noise.pixels[i + 2] = noise.pixels[i]
        }
        let jpeg = try ImageIO.encodeJPEG(noise, quality: 100)
        XCTAssertGreaterThan(jpeg.count, 2 * 65536)
        XCTAssertEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9])
        let decoded = try ImageIO.decode(jpeg, name: "noise.jpg")
        XCTAssertLessThan(Fixtures.meanAbsoluteError(noise, decoded), 2)

        let path = NSTemporaryDirectory() + "studio-write-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jpg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ImageIO.writeJPEG(noise, to: path, quality: 100)
        XCTAssertEqual(try ImageIO.load(path: path), decoded)
    }

    func testDecodingIsDeterministic() throws {
        let jpeg = try ImageIO.encodeJPEG(Fixtures.noise(width: 33, height: 21, seed: 2), quality: 80)
        XCTAssertEqual(try ImageIO.decode(jpeg, name: "a.jpg"), try ImageIO.decode(jpeg, name: "b.jpg"))
    }

    func testGreyJPEGDecodesToEqualChannels() throws {
        let w = 40, h = 24
        let grey = (0..<(w * h)).map { UInt8(($0 % w) * 6) }
        let jpeg = try JPEGCodec.encode(pixels: grey, width: w, height: h, components: 1, quality: 95, name: "g")
        let img = try ImageIO.decode(jpeg, name: "grey.jpg")
        XCTAssertEqual(img.width, w)
        XCTAssertEqual(img.height, h)
        var maxError = 0
        for i in 0..<(w * h) {
            XCTAssertEqual(img.pixels[i * 3], img.pixels[i * 3 + 1])
            XCTAssertEqual(img.pixels[i * 3], img.pixels[i * 3 + 2])
            maxError = max(maxError, abs(Int(img.pixels[i * 3]) - Int(grey[i])))
        }
        XCTAssertLessThanOrEqual(maxError, 8)
    }

    /// Four-component JPEGs are read as Adobe-inverted CMYK and converted with PIL's formula.
    func testCMYKJPEGConvertsLikePIL() throws {
        let w = 32, h = 16
        // Left half: stored (200, 100, 50, K=255) -> no black -> RGB (200, 100, 50).
        // Right half: stored (255, 255, 255, K=128) -> ink 0, nk 128 -> RGB (128, 128, 128).
        var cmyk = [UInt8]()
        for _ in 0..<h {
            for x in 0..<w { cmyk += x < w / 2 ? [200, 100, 50, 255] : [255, 255, 255, 128] }
        }
        let jpeg = try JPEGCodec.encode(pixels: cmyk, width: w, height: h, components: 4, quality: 100, name: "c")
        let img = try ImageIO.decode(jpeg, name: "cmyk.jpg")
        let left = Fixtures.pixel(img, 4, 8), right = Fixtures.pixel(img, 27, 8)
        for (got, want) in zip(left + right, [200, 100, 50, 128, 128, 128] as [Int]) {
            XCTAssertLessThanOrEqual(abs(Int(got) - want), 2, "left \(left) right \(right)")
        }
    }

    func testEncoderRejectsBadArguments() {
        assertImageError(.writeFailed) { try ImageIO.encodeJPEG(RGBImage(width: 0, height: 5)) }
        assertImageError(.writeFailed) { try ImageIO.encodeJPEG(RGBImage(width: 4, height: 4), quality: 0) }
        assertImageError(.writeFailed) { try ImageIO.encodeJPEG(RGBImage(width: 4, height: 4), quality: 101) }
    }

    /// Extraneous bytes between segments draw a libjpeg warning but decode, as in PIL and dlib.
    func testExtraneousBytesBetweenSegmentsAreTolerated() throws {
        let clean = try ImageIO.encodeJPEG(Fixtures.gradient(width: 16, height: 16), quality: 90)
        let sos = try XCTUnwrap(JPEGEdit.offset(of: 0xDA, in: clean))
        var dirty = clean
        dirty.insert(contentsOf: [0x00, 0x11, 0x22], at: sos)
        XCTAssertEqual(try ImageIO.decode(dirty, name: "x.jpg"), try ImageIO.decode(clean, name: "y.jpg"))
    }

    /// The project's reference photo, installed by the set-up into $STUDIO_HOME/testdata.
    func testObamaFixtureDecodes() throws {
        let home = ProcessInfo.processInfo.environment["STUDIO_HOME"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".studio")
        let path = (home as NSString).appendingPathComponent("testdata/face_recognition/obama.jpg")
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is not installed")
        }
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path)).map { $0 }
        XCTAssertEqual(ImageIO.exifOrientation(jpeg: bytes) ?? 1, 1)
        let img = try ImageIO.load(path: path)
        XCTAssertEqual(img.width, 910)
        XCTAssertEqual(img.height, 1137)
        XCTAssertEqual(img.pixels.count, 910 * 1137 * 3)
        // A natural photo: neither flat nor saturated.
        let mean = Double(img.pixels.reduce(0) { $0 + Int($1) }) / Double(img.pixels.count)
        XCTAssertGreaterThan(mean, 30)
        XCTAssertLessThan(mean, 225)
        XCTAssertEqual(try ImageIO.load(path: path, applyOrientation: false), img)
    }
}
