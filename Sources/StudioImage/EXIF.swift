extension ImageIO {
    /// The EXIF orientation (1...8) of a JPEG, or nil when it has none or it cannot be read.
    ///
    /// Walks the marker segments before the first scan, takes the first APP1 segment that
    /// starts with `"Exif\0\0"` (as PIL does), and reads tag 0x0112 from IFD0 of its TIFF
    /// structure, in either byte order. Every offset and length is bounds-checked; hostile
    /// input yields nil, never a crash or an out-of-bounds read. Only IFD0 is visited, so
    /// IFD chains that loop cannot loop here.
    public static func exifOrientation(jpeg bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return nil }
        var i = 2
        while i < bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            // Any number of 0xFF fill bytes may precede the marker code.
            var m = i + 1
            while m < bytes.count, bytes[m] == 0xFF { m += 1 }
            guard m < bytes.count else { return nil }
            let marker = bytes[m]
            i = m + 1
            switch marker {
            case 0xD8, 0x01, 0xD0...0xD7:
                continue  // stand-alone markers carry no length
            case 0xDA, 0xD9:
                return nil  // start of scan or end of image: no more metadata
            default:
                break
            }
            guard i + 2 <= bytes.count else { return nil }
            let length = Int(bytes[i]) << 8 | Int(bytes[i + 1])
            guard length >= 2, length <= bytes.count - i else { return nil }
            if marker == 0xE1 {
                let start = i + 2, end = i + length
                if end - start >= 6, bytes[start..<(start + 6)].elementsEqual(exifHeader) {
                    return tiffOrientation(Array(bytes[(start + 6)..<end]))
                }
            }
            i += length
        }
        return nil
    }

    /// `"Exif\0\0"`, the start of an EXIF APP1 payload.
    private static let exifHeader: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00]

    /// Reads tag 0x0112 (Orientation) from IFD0 of a TIFF structure; nil unless it is 1...8.
    static func tiffOrientation(_ t: [UInt8]) -> Int? {
        guard t.count >= 8 else { return nil }
        let littleEndian: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): littleEndian = true   // "II"
        case (0x4D, 0x4D): littleEndian = false  // "MM"
        default: return nil
        }
        /// An unsigned 16-bit value at `offset`, or nil past the end.
        func u16(_ offset: Int) -> Int? {
            guard offset >= 0, offset <= t.count - 2 else { return nil }
            let a = Int(t[offset]), b = Int(t[offset + 1])
            return littleEndian ? a | b << 8 : a << 8 | b
        }
        /// An unsigned 32-bit value at `offset`, or nil past the end.
        func u32(_ offset: Int) -> Int? {
            guard offset >= 0, offset <= t.count - 4 else { return nil }
            let a = Int(t[offset]), b = Int(t[offset + 1]), c = Int(t[offset + 2]), d = Int(t[offset + 3])
            return littleEndian ? a | b << 8 | c << 16 | d << 24 : a << 24 | b << 16 | c << 8 | d
        }
        guard u16(2) == 42, let ifd = u32(4), let entryCount = u16(ifd) else { return nil }
        for k in 0..<entryCount {
            let entry = ifd + 2 + 12 * k
            guard let tag = u16(entry) else { return nil }  // directory runs past the end
            guard tag == 0x0112 else { continue }
            guard let type = u16(entry + 2), let count = u32(entry + 4), count >= 1 else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)  // SHORT, stored in the first half of the value field
            case 4: value = u32(entry + 8)  // LONG, tolerated
            default: value = nil
            }
            guard let value, (1...8).contains(value) else { return nil }
            return value
        }
        return nil
    }
}
