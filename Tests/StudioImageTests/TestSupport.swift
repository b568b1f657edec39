@testable import StudioImage
import StudioKit
import XCTest

/// Writes PNG files byte by byte (stored zlib blocks, filter type 0) so tests control every
/// colour type, bit depth, palette, tRNS, gAMA and interlacing exactly.
enum PNGBuilder {
    /// PNG colour types.
    enum ColorType: UInt8 {
        case grey = 0, rgb = 2, palette = 3, greyAlpha = 4, rgba = 6

        /// Samples per pixel.
        var channels: Int {
            switch self {
            case .grey, .palette: return 1
            case .greyAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 as PNG chunks use it.
    static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// Adler-32 as zlib streams end with.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// One chunk: length, type, data, CRC over type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return be32(UInt32(data.count)) + typeBytes + data + be32(crc32(typeBytes + data))
    }

    /// `png` with every complete chunk's CRC recomputed, so damaged data passes the CRC check.
    static func repairingCRCs(_ png: [UInt8]) -> [UInt8] {
        var out = png
        var i = 8
        while i + 12 <= out.count {
            let length = Int(out[i]) << 24 | Int(out[i + 1]) << 16 | Int(out[i + 2]) << 8 | Int(out[i + 3])
            guard length <= out.count - i - 12 else { break }
            let crc = be32(crc32(out[(i + 4)..<(i + 8 + length)]))
            out.replaceSubrange((i + 8 + length)..<(i + 12 + length), with: crc)
            i += 12 + length
        }
        return out
    }

    /// A zlib stream of stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let final: UInt8 = offset + n == data.count ? 1 : 0
            out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        return out + be32(adler32(data))
    }

    /// An IHDR chunk.
    static func ihdr(width: UInt32, height: UInt32, bitDepth: UInt8, colorType: ColorType, interlaced: Bool) -> [UInt8] {
        chunk("IHDR", be32(width) + be32(height) + [bitDepth, colorType.rawValue, 0, 0, interlaced ? 1 : 0])
    }

    /// Packs one row of samples (already in range for `bitDepth`) with a leading filter byte 0.
    static func packRow(_ samples: ArraySlice<Int>, bitDepth: Int) -> [UInt8] {
        var row: [UInt8] = [0]
        switch bitDepth {
        case 16:
            for s in samples { row += [UInt8(s >> 8), UInt8(s & 0xFF)] }
        case 8:
            for s in samples { row.append(UInt8(s)) }
        default:
            var acc = 0, bits = 0
            for s in samples {
                acc = acc << bitDepth | s
                bits += bitDepth
                if bits == 8 { row.append(UInt8(acc)); acc = 0; bits = 0 }
            }
            if bits > 0 { row.append(UInt8(acc << (8 - bits))) }
        }
        return row
    }

    /// The Adam7 passes: (x start, y start, x step, y step).
    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    /// A complete PNG. `samples` holds `width * height * channels` values, row-major.
    static func make(width: Int, height: Int, colorType: ColorType, bitDepth: Int, samples: [Int],
                     palette: [[UInt8]]? = nil, trns: [UInt8]? = nil, gamma: UInt32? = nil,
                     interlaced: Bool = false, idatPieces: Int = 1) -> [UInt8] {
        let ch = colorType.channels
        precondition(samples.count == width * height * ch)
        var raw: [UInt8] = []
        if interlaced {
            for (x0, y0, dx, dy) in adam7 {
                let xs = Array(stride(from: x0, to: width, by: dx)), ys = Array(stride(from: y0, to: height, by: dy))
                if xs.isEmpty || ys.isEmpty { continue }
                for y in ys {
                    var rowSamples: [Int] = []
                    for x in xs { rowSamples += samples[((y * width + x) * ch)..<((y * width + x + 1) * ch)] }
                    raw += packRow(rowSamples[...], bitDepth: bitDepth)
                }
            }
        } else {
            for y in 0..<height {
                raw += packRow(samples[(y * width * ch)..<((y + 1) * width * ch)], bitDepth: bitDepth)
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += ihdr(width: UInt32(width), height: UInt32(height), bitDepth: UInt8(bitDepth), colorType: colorType,
                    interlaced: interlaced)
        if let gamma { png += chunk("gAMA", be32(gamma)) }
        if let palette { png += chunk("PLTE", palette.flatMap { $0 }) }
        if let trns { png += chunk("tRNS", trns) }
        let z = zlibStored(raw)
        let pieceSize = max(1, (z.count + idatPieces - 1) / idatPieces)
        var offset = 0
        while offset < z.count {
            let end = min(z.count, offset + pieceSize)
            png += chunk("IDAT", Array(z[offset..<end]))
            offset = end
        }
        return png + chunk("IEND", [])
    }
}

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
