import StudioKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The ZIP container of a PyTorch checkpoint (see TorchCheckpoint.swift): STORED entries only, every
// offset and length checked against the file size, the central directory against the local
// headers, and each entry's CRC-32 when it is read.

/// A read-only view of a ZIP archive whose entries are all stored uncompressed.
struct StoredZip {
    struct Entry {
        let name: String
        /// Offset of the entry's bytes in the file.
        let dataOffset: Int
        let size: Int
        let crc32: UInt32
        /// Offsets of the local and central headers (used by tests that corrupt them).
        let localHeaderOffset: Int
        let centralHeaderOffset: Int
    }

    let bytes: [UInt8]
    let file: String
    private(set) var entries: [String: Entry] = [:]

    private func fail(_ detail: String) -> CheckpointError { CheckpointError(file: file, detail: "ZIP: " + detail) }

    private func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    private func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
    /// A ZIP64 field; refused beyond Int.max.
    private func u64(_ at: Int, _ what: String) throws -> Int {
        let v = UInt64(u32(at)) | UInt64(u32(at + 4)) << 32
        guard v <= UInt64(Int.max) else { throw fail("\(what) \(v) is out of range") }
        return Int(v)
    }
    /// `start ..< start + length` lies within `lo ..< hi` (overflow-safe).
    private static func fits(_ start: Int, _ length: Int, _ lo: Int, _ hi: Int) -> Bool {
        start >= lo && length >= 0 && start <= hi && length <= hi - start
    }

    init(bytes: [UInt8], file: String, maxEntries: Int) throws {
        self.bytes = bytes
        self.file = file
        let size = bytes.count

        // End of central directory: the last record whose comment length reaches exactly to the end.
        guard size >= 22 else { throw fail("file of \(size) bytes is too short to be a ZIP archive") }
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while p >= lowest {
            if bytes[p] == 0x50 && bytes[p + 1] == 0x4B && bytes[p + 2] == 5 && bytes[p + 3] == 6 && p + 22 + u16(p + 20) == size {
                eocd = p; break
            }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (truncated, or not a ZIP archive)") }
        guard u16(eocd + 4) == 0 && u16(eocd + 6) == 0 else { throw fail("multi-disk archives are not supported") }
        var count = u16(eocd + 10)
        guard u16(eocd + 8) == count else { throw fail("entry counts disagree in the end record") }
        var cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        var cdLimit = eocd          // the central directory must end before this offset

        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // ZIP64: locator right before the end record, pointing at the ZIP64 end record.
            let loc = eocd - 20
            guard loc >= 0, u32(loc) == 0x0706_4B50 else { throw fail("ZIP64 values without a ZIP64 locator") }
            guard u32(loc + 4) == 0, u32(loc + 16) <= 1 else { throw fail("multi-disk ZIP64 archives are not supported") }
            let rec = try u64(loc + 8, "ZIP64 end record offset")
            guard Self.fits(rec, 56, 0, loc), u32(rec) == 0x0606_4B50 else { throw fail("ZIP64 end record is missing or out of bounds") }
            guard u32(rec + 16) == 0 && u32(rec + 20) == 0 else { throw fail("multi-disk ZIP64 archives are not supported") }
            let n64 = try u64(rec + 32, "ZIP64 entry count")
            guard try u64(rec + 24, "ZIP64 entry count") == n64 else { throw fail("ZIP64 entry counts disagree") }
            count = n64
            cdSize = try u64(rec + 40, "ZIP64 central directory size")
            cdOffset = try u64(rec + 48, "ZIP64 central directory offset")
            cdLimit = rec
        }
        guard count <= maxEntries else { throw fail("\(count) entries exceed the limit of \(maxEntries)") }
        guard Self.fits(cdOffset, cdSize, 0, cdLimit) else {
            throw fail("central directory (\(cdSize) bytes at \(cdOffset)) lies outside the file")
        }
        guard count <= cdSize / 46 else { throw fail("\(count) entries cannot fit in a central directory of \(cdSize) bytes") }

        var ranges: [(start: Int, end: Int, name: String)] = []
        var at = cdOffset
        let cdEnd = cdOffset + cdSize
        for index in 0..<count {
            guard Self.fits(at, 46, cdOffset, cdEnd), u32(at) == 0x0201_4B50 else {
                throw fail("central directory entry \(index) at \(at) is missing or malformed")
            }
            let flags = u16(at + 8), method = u16(at + 10)
            let crc = UInt32(u32(at + 16))
            var csize = u32(at + 20), usize = u32(at + 24)
            let nameLen = u16(at + 28), extraLen = u16(at + 30), commentLen = u16(at + 32)
            var disk = u16(at + 34)
            var local = u32(at + 42)
            let headerLen = 46 + nameLen + extraLen + commentLen
            guard Self.fits(at, headerLen, cdOffset, cdEnd) else { throw fail("central directory entry \(index) runs past the directory") }
            let nameBytes = Array(bytes[(at + 46)..<(at + 46 + nameLen)])
            let name = try Self.entryName(nameBytes, fail: fail)

            // ZIP64 extra field: the 64-bit values of those fields that hold 0xFFFFFFFF (0xFFFF for disk).
            var e = at + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(e), len = u16(e + 2)
                guard e + 4 + len <= extraEnd else { throw fail("\(name): extra field runs past its header") }
                if id == 0x0001 {
                    var q = e + 4
                    let end = q + len
                    func next(_ what: String) throws -> Int {
                        guard q + 8 <= end else { throw fail("\(name): ZIP64 extra field is too short for \(what)") }
                        defer { q += 8 }
                        return try u64(q, "\(name): \(what)")
                    }
                    if usize == 0xFFFF_FFFF { usize = try next("size") }
                    if csize == 0xFFFF_FFFF { csize = try next("compressed size") }
                    if local == 0xFFFF_FFFF { local = try next("header offset") }
                    if disk == 0xFFFF { guard q + 4 <= end else { throw fail("\(name): bad ZIP64 disk field") }; disk = u32(q) }
                }
                e += 4 + len
            }

            guard flags & 0x41 == 0 else { throw fail("\(name) is encrypted") }
            guard method == 0 else {
                let kind = method == 8 ? "DEFLATE" : method == 12 ? "BZIP2" : method == 14 ? "LZMA" : method == 93 ? "Zstandard" : "unknown"
                throw fail("\(name) is compressed (method \(method), \(kind)); only STORED entries are supported")
            }
            guard csize == usize else { throw fail("\(name): stored entry has compressed size \(csize) but size \(usize)") }
            guard disk == 0 else { throw fail("\(name) is on disk \(disk); multi-disk archives are not supported") }

            // Local header: same name and method; the data follows its name and extra field.
            guard Self.fits(local, 30, 0, cdOffset), u32(local) == 0x0403_4B50 else {
                throw fail("\(name): local header at \(local) is missing or out of bounds")
            }
            guard u16(local + 8) == 0 else { throw fail("\(name): local header says compressed (method \(u16(local + 8)))") }
            let lName = u16(local + 26), lExtra = u16(local + 28)
            guard Self.fits(local + 30, lName + lExtra, 0, cdOffset) else { throw fail("\(name): local header runs past the data area") }
            guard lName == nameLen, bytes[(local + 30)..<(local + 30 + lName)].elementsEqual(nameBytes) else {
                throw fail("\(name): local header names a different file")
            }
            let dataOffset = local + 30 + lName + lExtra
            guard Self.fits(dataOffset, usize, 0, cdOffset) else {
                throw fail("\(name): \(usize) bytes at \(dataOffset) run past the data area (file of \(size) bytes)")
            }
            guard entries[name] == nil else { throw fail("duplicate entry \(name)") }
            entries[name] = Entry(name: name, dataOffset: dataOffset, size: usize, crc32: crc,
                                  localHeaderOffset: local, centralHeaderOffset: at)
            ranges.append((local, dataOffset + usize, name))
            at += headerLen
        }
        // Entries may not overlap one another.
        ranges.sort { $0.start < $1.start }
        for k in ranges.indices.dropFirst() where ranges[k].start < ranges[k - 1].end {
            throw fail("entries \(ranges[k - 1].name) and \(ranges[k].name) overlap")
        }
    }

    /// An entry name, refused unless it is a plain relative path in valid UTF-8.
    static func entryName(_ raw: [UInt8], fail: (String) -> CheckpointError) throws -> String {
        let name = String(decoding: raw, as: UTF8.self)
        guard Array(name.utf8) == raw else { throw fail("an entry name is not valid UTF-8") }
        guard !raw.isEmpty, !raw.contains(0), !raw.contains(UInt8(ascii: "\\")), raw.first != UInt8(ascii: "/"),
              !name.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." }),
              !raw.contains(where: { $0 < 0x20 || $0 == 0x7F })
        else { throw fail("unsafe entry name '\(name.prefix(80))' (absolute, traversing or with control characters)") }
        return name
    }

    /// The bytes of an entry, after checking its CRC-32.
    func data(_ e: Entry) throws -> ArraySlice<UInt8> {
        let slice = bytes[e.dataOffset..<(e.dataOffset + e.size)]
        let crc = CRC32.checksum(slice)
        guard crc == e.crc32 else {
            throw fail("\(e.name): CRC-32 is \(hex(crc)), the directory says \(hex(e.crc32)) (the file is corrupt)")
        }
        return slice
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16); return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}

/// CRC-32 (ISO-HDLC, as ZIP uses), slicing-by-8.
enum CRC32 {
    /// Eight 256-entry tables, one after another.
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 { for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] } }
        return t
    }()

    static func checksum(_ data: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        data.withUnsafeBufferPointer { buf in
            table.withUnsafeBufferPointer { t in
                var i = 0
                let n = buf.count
                while i + 8 <= n {
                    let lo = crc ^ (UInt32(buf[i]) | UInt32(buf[i + 1]) << 8 | UInt32(buf[i + 2]) << 16 | UInt32(buf[i + 3]) << 24)
                    crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                        ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                        ^ t[3 * 256 + Int(buf[i + 4])] ^ t[2 * 256 + Int(buf[i + 5])]
                        ^ t[1 * 256 + Int(buf[i + 6])] ^ t[Int(buf[i + 7])]
                    i += 8
                }
                while i < n { crc = t[Int((crc ^ UInt32(buf[i])) & 0xFF)] ^ (crc >> 8); i += 1 }
            }
        }
        return ~crc
    }
    static func checksum(_ data: [UInt8]) -> UInt32 { checksum(data[...]) }
}
