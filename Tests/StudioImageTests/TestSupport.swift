@testable import StudioImage
import StudioKit
import StudioTestSupport
import XCTest

/// Test images and assertions shared by the test cases.
enum Fixtures {
    /// A smooth, JPEG-friendly RGB gradient with some structure.
    static func gradient(width: Int, height: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                img[x, y, 0] = UInt8(x * 255 / max(1, width - 1))
                img[x, y, 1] = UInt8(y * 255 / max(1, height - 1))
                img[x, y, 2] = UInt8((x + y) * 255 / max(1, width + height - 2))
            }
        }
        return img
    }

    /// Uniform noise: compresses poorly, so most of an encoded file is image data.
    static func noise(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        return RGBImage(width: width, height: height,
                        pixels: (0..<(width * height * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// An image made of four flat quadrants: top-left red, top-right green,
    /// bottom-left blue, bottom-right white.
    static func quadrants(width: Int, height: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let colour: [UInt8]
                switch (x < width / 2, y < height / 2) {
                case (true, true): colour = [255, 0, 0]
                case (false, true): colour = [0, 255, 0]
                case (true, false): colour = [0, 0, 255]
                case (false, false): colour = [255, 255, 255]
                }
                for c in 0..<3 { img[x, y, c] = colour[c] }
            }
        }
        return img
    }

    /// The RGB triple at (x, y).
    static func pixel(_ img: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
        (0..<3).map { img[x, y, $0] }
    }

    /// Mean absolute difference per channel between two same-size images.
    static func meanAbsoluteError(_ a: RGBImage, _ b: RGBImage) -> Double {
        precondition(a.width == b.width && a.height == b.height)
        var total = 0
        for i in a.pixels.indices { total += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
        return Double(total) / Double(max(1, a.pixels.count))
    }

    /// Largest absolute channel difference.
    static func maxAbsoluteError(_ a: RGBImage, _ b: RGBImage) -> Int {
        zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }
}

/// Asserts that `body` throws an `ImageError` of `kind`, and returns it.
@discardableResult
func assertImageError<T>(_ kind: ImageError.Kind, file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> T) -> ImageError? {
    do {
        _ = try body()
        XCTFail("expected an ImageError of kind \(kind), got a result", file: file, line: line)
        return nil
    } catch let error as ImageError {
        XCTAssertEqual(error.kind, kind, "wrong kind; error: \(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected an ImageError, got \(error)", file: file, line: line)
        return nil
    }
}

/// Helpers for editing encoded JPEGs in tests.
enum JPEGEdit {
    /// The markers before the first scan and the offset of each one's 0xFF byte (SOS included).
    static func segments(_ jpeg: [UInt8]) -> [(marker: UInt8, offset: Int)] {
        var result: [(UInt8, Int)] = []
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF {
            let marker = jpeg[i + 1]
            result.append((marker, i))
            if marker == 0xDA { break }
            i += 2 + (Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3]))
        }
        return result
    }

    /// The offset of the first segment with `marker`.
    static func offset(of marker: UInt8, in jpeg: [UInt8]) -> Int? {
        segments(jpeg).first { $0.marker == marker }?.offset
    }

    /// `jpeg` with an APP1 EXIF segment holding `tiff` inserted right after SOI.
    static func insertingExif(_ jpeg: [UInt8], tiff: [UInt8]) -> [UInt8] {
        let payload: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] + tiff
        let length = payload.count + 2
        let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
        return Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
    }

    /// A TIFF structure whose IFD0 holds just an Orientation SHORT.
    static func orientationTIFF(_ value: Int, bigEndian: Bool) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
        let header: [UInt8] = (bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]) + u16(42) + u32(8)
        // Two entries (an ImageWidth first, so the walk has to skip one) and no next IFD.
        let width = u16(0x0100) + u16(4) + u32(1) + u32(640)
        let orientation = u16(0x0112) + u16(3) + u32(1) + u16(value) + u16(0)
        return header + u16(2) + width + orientation + u32(0)
    }
}
