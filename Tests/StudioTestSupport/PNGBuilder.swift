// Test support shared by the test targets (a library target that only tests depend on).

/// Writes PNG files byte by byte (stored zlib blocks, filter type 0) so tests control every
/// colour type, bit depth, palette, tRNS, gAMA and interlacing exactly.
public enum PNGBuilder {
    /// PNG colour types.
    public enum ColorType: UInt8 {
        case grey = 0, rgb = 2, palette = 3, greyAlpha = 4, rgba = 6

        /// Samples per pixel.
        public var channels: Int {
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
    public static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// Adler-32 as zlib streams end with.
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    public static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// One chunk: length, type, data, CRC over type and data.
    public static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return be32(UInt32(data.count)) + typeBytes + data + be32(crc32(typeBytes + data))
    }

    /// `png` with every complete chunk's CRC recomputed, so damaged data passes the CRC check.
    public static func repairingCRCs(_ png: [UInt8]) -> [UInt8] {
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
    public static func zlibStored(_ data: [UInt8]) -> [UInt8] {
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
    public static func ihdr(width: UInt32, height: UInt32, bitDepth: UInt8, colorType: ColorType, interlaced: Bool) -> [UInt8] {
        chunk("IHDR", be32(width) + be32(height) + [bitDepth, colorType.rawValue, 0, 0, interlaced ? 1 : 0])
    }

    /// Packs one row of samples (already in range for `bitDepth`) with a leading filter byte 0.
    public static func packRow(_ samples: ArraySlice<Int>, bitDepth: Int) -> [UInt8] {
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
    public static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    /// A complete PNG. `samples` holds `width * height * channels` values, row-major.
    public static func make(width: Int, height: Int, colorType: ColorType, bitDepth: Int, samples: [Int],
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

extension PNGBuilder {
    /// A flat grey 8-bit PNG, `width` x `height`, every sample `level`.
    public static func flatGrey(width: Int, height: Int, level: Int = 128) -> [UInt8] {
        make(width: width, height: height, colorType: .grey, bitDepth: 8, samples: [Int](repeating: level, count: width * height))
    }
}
