import StudioKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A reader for PyTorch's zip checkpoint format (`torch.save`, `_use_new_zipfile_serialization`),
// written so that nothing in the file is trusted and nothing in it is ever executed.
//
// Layout of such a file (a ZIP archive whose entries are all STORED, i.e. not compressed):
//   <prefix>/data.pkl     the pickled object (protocol 2), usually a dict of state dicts
//   <prefix>/data/<key>   one raw little-endian storage per key, referenced from the pickle by
//                         persistent ids ('storage', torch.FloatStorage, key, location, numel)
//   <prefix>/byteorder    "little" (absent in old files, which are little-endian)
//   <prefix>/version, <prefix>/.data/serialization_id   (not needed)
//
// The ZIP reader accepts only STORED entries, checks every offset and length against the file
// size, the central directory against the local headers, and each entry's CRC-32 when it is read.
// The pickle is interpreted by a small VM that understands only the opcodes a state dict uses and
// only three kinds of global (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the
// storage types); it builds plain values and never calls anything.

/// A file that is not a readable PyTorch checkpoint: malformed, truncated, hostile or unsupported.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or a label for in-memory bytes).
    public let file: String
    /// What was wrong.
    public let detail: String
    public init(file: String, detail: String) { self.file = file; self.detail = detail }
    public var description: String { "\(file): not a readable PyTorch checkpoint: \(detail)" }
}

/// One tensor of a checkpoint, with its values copied out of its storage in row-major order.
public struct TorchTensor: Sendable, Equatable {
    public enum DType: String, Sendable {
        /// `torch.FloatStorage`
        case float32
        /// `torch.LongStorage` (e.g. BatchNorm's `num_batches_tracked`)
        case int64
        var byteSize: Int { self == .float32 ? 4 : 8 }
    }
    /// The dotted name (nested dict keys joined with ".").
    public let name: String
    public let dtype: DType
    /// Sizes, outermost first; `[]` for a 0-dimensional tensor.
    public let shape: [Int]
    /// Strides in elements, as stored in the checkpoint (always contiguous for an accepted tensor).
    public let strides: [Int]
    /// Offset of the first element in the storage, in elements.
    public let storageOffset: Int
    /// The storage's key (its entry `data/<key>` in the archive).
    public let storageKey: String
    /// float32 tensors: the elements, row-major. Empty for other types.
    public let values: [Float]
    /// int64 tensors: the elements, row-major. Empty for other types.
    public let integers: [Int64]

    /// Number of elements (1 for a 0-dimensional tensor).
    public var count: Int { shape.reduce(1, *) }
}

public enum TorchCheckpoint {
    /// Caps on what a checkpoint may ask for; anything beyond them is refused before allocating.
    public struct Limits: Sendable {
        public var maxFileBytes = 1 << 31
        public var maxEntries = 65_536
        public var maxPickleBytes = 16 << 20
        /// Pickle objects (tuples, lists, dicts, storages, tensors) the VM may create.
        public var maxObjects = 1 << 20
        public var maxStackDepth = 1 << 16
        public var maxMemoEntries = 1 << 20
        public var maxTensors = 1 << 16
        public var maxDimensions = 8
        /// Depth of nested dicts walked to collect tensors.
        public var maxDictNesting = 8
        public init() {}
    }

    /// Reads a checkpoint file and returns its tensors by dotted name.
    ///
    /// Nested dicts are flattened: `{"netG_state_dict": {"main.0.weight": t}}` gives
    /// `"netG_state_dict.main.0.weight"`. Values that are not tensors or dicts (ints, strings,
    /// lists) are skipped.
    public static func load(contentsOf path: String, limits: Limits = Limits()) throws -> [String: TorchTensor] {
        try load(bytes: readFile(path, limit: limits.maxFileBytes), file: path, limits: limits)
    }

    /// Reads a checkpoint held in memory (`file` labels errors).
    public static func load(bytes: [UInt8], file: String = "<memory>", limits: Limits = Limits()) throws -> [String: TorchTensor] {
        let fail = { (detail: String) in CheckpointError(file: file, detail: detail) }
        guard bytes.count <= limits.maxFileBytes else { throw fail("file of \(bytes.count) bytes exceeds the limit of \(limits.maxFileBytes)") }
        let zip = try StoredZip(bytes: bytes, file: file, maxEntries: limits.maxEntries)

        // The archive's folder: the one entry "<prefix>/data.pkl" with a single-component prefix.
        let pickles = zip.entries.keys.filter { name in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }
        guard pickles.count == 1, let pickleName = pickles.first else {
            throw fail(pickles.isEmpty ? "no <archive>/data.pkl entry (is this a zip-format torch.save file?)"
                                       : "more than one data.pkl entry (\(pickles.sorted().joined(separator: ", ")))")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))     // "<archive>/"
        if let order = zip.entries[prefix + "byteorder"] {
            let text = try zip.data(order)
            guard Array(text) == Array("little".utf8) else {
                throw fail("byteorder is '\(String(decoding: text.prefix(16), as: UTF8.self))'; only 'little' is supported")
            }
        }
        let pickleEntry = zip.entries[pickleName]!
        guard pickleEntry.size <= limits.maxPickleBytes else {
            throw fail("data.pkl of \(pickleEntry.size) bytes exceeds the limit of \(limits.maxPickleBytes)")
        }
        var vm = PickleVM(bytes: Array(try zip.data(pickleEntry)), file: file, limits: limits)
        let root = try vm.run()
        let found = try vm.collectTensors(root)

        var out: [String: TorchTensor] = [:]
        var storages: [String: (dtype: TorchTensor.DType, numel: Int)] = [:]
        for (name, t) in found {
            let s = t.storage
            if let seen = storages[s.key], seen.dtype != s.dtype || seen.numel != s.numel {
                throw fail("storage \(s.key) is declared twice with different types or sizes")
            }
            storages[s.key] = (s.dtype, s.numel)
            out[name] = try materialize(name: name, t, zip: zip, prefix: prefix, fail: fail)
        }
        return out
    }

    /// Checks a tensor's geometry against its storage and copies its elements out.
    private static func materialize(name: String, _ t: PickleVM.TensorRef, zip: StoredZip, prefix: String,
                                    fail: (String) -> CheckpointError) throws -> TorchTensor {
        let s = t.storage
        guard let entry = zip.entries[prefix + "data/" + s.key] else {
            throw fail("tensor \(name): its storage \(prefix)data/\(s.key) is missing")
        }
        let (bytesNeeded, o1) = s.numel.multipliedReportingOverflow(by: s.dtype.byteSize)
        guard !o1, entry.size == bytesNeeded else {
            throw fail("tensor \(name): storage \(s.key) holds \(entry.size) bytes, but \(s.numel) elements of \(s.dtype.rawValue) need \(s.numel &* s.dtype.byteSize)")
        }
        guard t.shape.count == t.strides.count else {
            throw fail("tensor \(name): \(t.shape.count) sizes but \(t.strides.count) strides")
        }
        var count = 1
        for d in t.shape {
            guard d >= 0 else { throw fail("tensor \(name): negative size in \(t.shape)") }
            let (c, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw fail("tensor \(name): size \(t.shape) overflows") }
            count = c
        }
        guard t.offset >= 0 else { throw fail("tensor \(name): negative storage offset \(t.offset)") }
        if count > 0 {
            // Contiguous (row-major) strides are required; a dimension of size 1 may have any stride.
            var expected = 1
            for k in stride(from: t.shape.count - 1, through: 0, by: -1) {
                if t.shape[k] != 1 && t.strides[k] != expected {
                    throw fail("tensor \(name): strides \(t.strides) for size \(t.shape) are not contiguous (unsupported)")
                }
                expected *= t.shape[k]
            }
            let (end, o2) = t.offset.addingReportingOverflow(count)
            guard !o2, end <= s.numel else {
                throw fail("tensor \(name): elements \(t.offset)..<\(t.offset &+ count) lie outside its storage of \(s.numel)")
            }
        }
        let raw = try zip.data(entry)
        var values: [Float] = [], integers: [Int64] = []
        raw.withUnsafeBytes { src in
            let base = t.offset * s.dtype.byteSize
            switch s.dtype {
            case .float32:
                values = [Float](unsafeUninitializedCapacity: count) { buf, n in
                    for i in 0..<count { buf[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self))) }
                    n = count
                }
            case .int64:
                integers = (0..<count).map { i in Int64(littleEndian: src.loadUnaligned(fromByteOffset: base + 8 * i, as: Int64.self)) }
            }
        }
        return TorchTensor(name: name, dtype: s.dtype, shape: t.shape, strides: t.strides, storageOffset: t.offset,
                           storageKey: s.key, values: values, integers: integers)
    }

    /// Reads a whole file, refusing one larger than `limit` bytes.
    static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        switch FileBytes.read(path, limit: limit) {
        case .success(let b): return b
        case .failure(.cannotOpen(let e)):
            throw CheckpointError(file: path, detail: "cannot open the file (errno \(e)): the model is not installed")
        case .failure(let f): throw CheckpointError(file: path, detail: f.description)
        }
    }
}

// MARK: - ZIP (STORED entries only)

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

// MARK: - Restricted pickle VM

/// Interprets a pickle (protocol 2) that describes a state dict, and nothing else.
///
/// Values are plain data; containers live in `objects` and are referenced by index, so no value is
/// recursive (a hostile pickle cannot build a structure whose destruction overflows the stack) and
/// dicts are shared between the stack and the memo as Python shares them.
struct PickleVM {
    enum StorageType: Equatable { case float, long }

    enum Value: Equatable {
        case none, bool(Bool), int(Int64), string(String)
        case global(Global)
        /// Index into `objects`.
        case object(Int)
    }

    enum Global: Equatable {
        case orderedDict, rebuildTensorV2, storage(TorchTensor.DType)
        var name: String {
            switch self {
            case .orderedDict: return "collections.OrderedDict"
            case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
            case .storage(let t): return t == .float32 ? "torch.FloatStorage" : "torch.LongStorage"
            }
        }
    }

    struct StorageRef: Equatable { let key: String; let dtype: TorchTensor.DType; let numel: Int; let location: String }
    struct TensorRef: Equatable { let storage: StorageRef; let offset: Int; let shape: [Int]; let strides: [Int] }

    enum Object {
        case tuple([Value])
        case list([Value])
        case dict(keys: [String], values: [String: Value])
        case storage(StorageRef)
        case tensor(TensorRef)
    }

    /// The globals a state dict may name: (module, name) -> value. Everything else is refused.
    static let allowedGlobals: [String: Global] = [
        "collections\nOrderedDict": .orderedDict,
        "torch._utils\n_rebuild_tensor_v2": .rebuildTensorV2,
        "torch\nFloatStorage": .storage(.float32),
        "torch\nLongStorage": .storage(.int64),
    ]

    let bytes: [UInt8]
    let file: String
    let limits: TorchCheckpoint.Limits
    private var pos = 0
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]
    private(set) var objects: [Object] = []

    init(bytes: [UInt8], file: String, limits: TorchCheckpoint.Limits) {
        self.bytes = bytes; self.file = file; self.limits = limits
    }

    private var opStart = 0
    private func fail(_ detail: String) -> CheckpointError {
        CheckpointError(file: file, detail: "data.pkl at byte \(opStart): \(detail)")
    }

    // MARK: reading

    private mutating func byte() throws -> UInt8 {
        guard pos < bytes.count else { throw fail("unexpected end of the pickle") }
        defer { pos += 1 }
        return bytes[pos]
    }
    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - pos else { throw fail("unexpected end of the pickle (\(n) bytes wanted, \(bytes.count - pos) left)") }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }
    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }
    private mutating func utf8(_ n: Int) throws -> String {
        let raw = try take(n)
        let s = String(decoding: raw, as: UTF8.self)
        guard s.utf8.elementsEqual(raw) else { throw fail("string is not valid UTF-8") }
        return s
    }
    /// A newline-terminated ASCII identifier (GLOBAL's module and name).
    private mutating func line() throws -> String {
        var out: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            guard b >= 0x21 && b < 0x7F, out.count < 256 else { throw fail("GLOBAL: bad module or name") }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: stack

    private mutating func push(_ v: Value) throws {
        guard stack.count < limits.maxStackDepth else { throw fail("stack deeper than \(limits.maxStackDepth)") }
        stack.append(v)
    }
    /// Pops one value above the innermost mark.
    private mutating func pop(_ op: String) throws -> Value {
        guard stack.count > (marks.last ?? 0) else { throw fail("\(op): stack underflow") }
        return stack.removeLast()
    }
    private func top(_ op: String) throws -> Value {
        guard stack.count > (marks.last ?? 0) else { throw fail("\(op): stack underflow") }
        return stack[stack.count - 1]
    }
    /// The values pushed since the innermost MARK, and the mark removed.
    private mutating func popMark(_ op: String) throws -> [Value] {
        guard let m = marks.popLast() else { throw fail("\(op) without MARK") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }
    private mutating func new(_ o: Object) throws -> Value {
        guard objects.count < limits.maxObjects else { throw fail("more than \(limits.maxObjects) objects") }
        objects.append(o)
        return .object(objects.count - 1)
    }
    private mutating func tuple(_ items: [Value]) throws -> Value { try new(.tuple(items)) }

    private func tupleItems(_ v: Value, _ what: String) throws -> [Value] {
        guard case .object(let i) = v, case .tuple(let items) = objects[i] else { throw fail("\(what) is not a tuple") }
        return items
    }
    private func dictIndex(_ v: Value, _ op: String) throws -> Int {
        guard case .object(let i) = v, case .dict = objects[i] else { throw fail("\(op) on something that is not a dict") }
        return i
    }
    private func intValue(_ v: Value, _ what: String, min: Int64 = 0, max: Int64 = Int64(Int32.max)) throws -> Int {
        guard case .int(let x) = v, x >= min, x <= max else { throw fail("\(what) must be an integer in \(min)...\(max)") }
        return Int(x)
    }
    private func intTuple(_ v: Value, _ what: String) throws -> [Int] {
        let items = try tupleItems(v, what)
        guard items.count <= limits.maxDimensions else { throw fail("\(what) has \(items.count) dimensions (limit \(limits.maxDimensions))") }
        return try items.map { try intValue($0, what, min: 0, max: Int64(Int32.max)) }
    }

    private mutating func setItem(dict: Int, key: Value, value: Value) throws {
        let k: String
        switch key {
        case .string(let s): k = s
        case .int(let i): k = String(i)
        default: throw fail("SETITEM: dict keys must be strings or integers")
        }
        guard case .dict(var keys, var values) = objects[dict] else { throw fail("SETITEM on something that is not a dict") }
        objects[dict] = .tuple([])     // release the arrays so they are mutated in place
        if values.updateValue(value, forKey: k) == nil { keys.append(k) }
        objects[dict] = .dict(keys: keys, values: values)
    }

    // MARK: run

    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
        0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
        0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
        0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
        0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4",
        0x43: "SHORT_BINBYTES", 0x42: "BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
        0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
        0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
        0x98: "READONLY_BUFFER",
    ]

    /// Runs the pickle to its STOP and returns the one value it leaves.
    mutating func run() throws -> Value {
        pos = 0
        while true {
            opStart = pos
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let v = try byte()
                guard v == 2 else { throw fail("pickle protocol \(v) is not supported (only 2, as torch.save writes)") }
            case 0x2E: // STOP
                guard marks.isEmpty, stack.count == 1 else { throw fail("STOP with \(stack.count) values and \(marks.count) marks on the stack") }
                guard pos == bytes.count else { throw fail("\(bytes.count - pos) bytes after STOP") }
                return stack[0]
            case 0x28: // MARK
                guard marks.count < limits.maxStackDepth else { throw fail("too many MARKs") }
                marks.append(stack.count)
            case 0x7D: // EMPTY_DICT
                try push(try new(.dict(keys: [], values: [:])))
            case 0x5D: // EMPTY_LIST
                try push(try new(.list([])))
            case 0x29: // EMPTY_TUPLE
                try push(try tuple([]))
            case 0x74: // TUPLE
                let items = try popMark("TUPLE")
                try push(try tuple(items))
            case 0x85, 0x86, 0x87: // TUPLE1..3
                let n = Int(op - 0x84)
                var items: [Value] = []
                for _ in 0..<n { items.insert(try pop(Self.opcodeNames[op]!), at: 0) }
                try push(try tuple(items))
            case 0x58: // BINUNICODE
                let n = try uint(4)
                guard n <= UInt64(bytes.count - pos) else { throw fail("BINUNICODE of \(n) bytes runs past the pickle") }
                try push(.string(try utf8(Int(n))))
            case 0x8C: // SHORT_BINUNICODE
                try push(.string(try utf8(Int(try byte()))))
            case 0x4A: // BININT (signed 32-bit)
                try push(.int(Int64(Int32(bitPattern: UInt32(try uint(4))))))
            case 0x4B: // BININT1
                try push(.int(Int64(try byte())))
            case 0x4D: // BININT2
                try push(.int(Int64(try uint(2))))
            case 0x8A: // LONG1: n-byte little-endian two's complement
                let n = Int(try byte())
                guard n <= 8 else { throw fail("LONG1 of \(n) bytes is out of range") }
                var v = try uint(n)
                if n > 0 && n < 8 && v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
                try push(.int(Int64(bitPattern: v)))
            case 0x88: try push(.bool(true))   // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x4E: try push(.none)         // NONE
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                guard let g = Self.allowedGlobals[module + "\n" + name] else {
                    throw fail("forbidden GLOBAL '\(module) \(name)' (only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.FloatStorage/LongStorage are allowed)")
                }
                try push(.global(g))
            case 0x71: // BINPUT
                try put(Int(try byte()))
            case 0x72: // LONG_BINPUT
                try put(Int(try uint(4)))
            case 0x68: // BINGET
                try get(Int(try byte()))
            case 0x6A: // LONG_BINGET
                try get(Int(try uint(4)))
            case 0x51: // BINPERSID
                let pid = try tupleItems(try pop("BINPERSID"), "persistent id")
                try push(try persistentStorage(pid))
            case 0x52: // REDUCE
                let args = try pop("REDUCE"), callable = try pop("REDUCE")
                try push(try reduce(callable, args))
            case 0x73: // SETITEM
                let value = try pop("SETITEM"), key = try pop("SETITEM")
                try setItem(dict: try dictIndex(try top("SETITEM"), "SETITEM"), key: key, value: value)
            case 0x75: // SETITEMS
                let items = try popMark("SETITEMS")
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
                let d = try dictIndex(try top("SETITEMS"), "SETITEMS")
                for k in stride(from: 0, to: items.count, by: 2) { try setItem(dict: d, key: items[k], value: items[k + 1]) }
            case 0x61: // APPEND
                let value = try pop("APPEND")
                try append(to: try top("APPEND"), [value])
            case 0x65: // APPENDS
                let items = try popMark("APPENDS")
                try append(to: try top("APPENDS"), items)
            case 0x62: // BUILD: only an OrderedDict's state (its _metadata attribute), which is dropped.
                let state = try pop("BUILD")
                _ = try dictIndex(try top("BUILD"), "BUILD")
                guard case .object(let s) = state, case .dict = objects[s] else { throw fail("BUILD: state is not a dict") }
            default:
                let name = Self.opcodeNames[op].map { "opcode \($0)" } ?? "unknown opcode"
                throw fail("\(name) (0x\(String(op, radix: 16))) is not allowed in a state dict")
            }
            guard stack.count <= limits.maxStackDepth else { throw fail("stack deeper than \(limits.maxStackDepth)") }
        }
    }

    private mutating func put(_ index: Int) throws {
        let v = try top("PUT")
        guard memo[index] != nil || memo.count < limits.maxMemoEntries else { throw fail("more than \(limits.maxMemoEntries) memo entries") }
        memo[index] = v
    }
    private mutating func get(_ index: Int) throws {
        guard let v = memo[index] else { throw fail("GET of memo entry \(index), which was never stored") }
        try push(v)
    }
    private mutating func append(to target: Value, _ items: [Value]) throws {
        guard case .object(let i) = target, case .list(var list) = objects[i] else { throw fail("APPEND to something that is not a list") }
        objects[i] = .tuple([])
        list.append(contentsOf: items)
        objects[i] = .list(list)
    }

    /// BINPERSID's tuple: ('storage', storage type, key, location, numel).
    private mutating func persistentStorage(_ pid: [Value]) throws -> Value {
        guard pid.count == 5, pid[0] == .string("storage") else { throw fail("persistent id is not ('storage', type, key, location, numel)") }
        guard case .global(.storage(let dtype)) = pid[1] else { throw fail("persistent id names an unsupported storage type") }
        guard case .string(let key) = pid[2], !key.isEmpty, key.count <= 64,
              key.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F })
        else { throw fail("persistent id has a bad storage key") }
        guard case .string(let location) = pid[3] else { throw fail("persistent id has a bad location") }
        let numel = try intValue(pid[4], "storage size", min: 0, max: Int64(Int.max / 8))
        return try new(.storage(StorageRef(key: key, dtype: dtype, numel: numel, location: location)))
    }

    /// REDUCE of the two allowed callables; building values only, never calling anything.
    private mutating func reduce(_ callable: Value, _ argsValue: Value) throws -> Value {
        guard case .global(let g) = callable else { throw fail("REDUCE of something that is not an allowed global") }
        let args = try tupleItems(argsValue, "REDUCE arguments")
        switch g {
        case .orderedDict:
            guard args.isEmpty else { throw fail("REDUCE: OrderedDict with arguments") }
            return try new(.dict(keys: [], values: [:]))
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count == 6 || args.count == 7 else { throw fail("_rebuild_tensor_v2 with \(args.count) arguments") }
            guard case .object(let si) = args[0], case .storage(let storage) = objects[si] else {
                throw fail("_rebuild_tensor_v2: first argument is not a storage")
            }
            let offset = try intValue(args[1], "storage offset", min: 0, max: Int64(Int.max / 8))
            let shape = try intTuple(args[2], "tensor size"), strides = try intTuple(args[3], "tensor stride")
            guard case .bool = args[4] else { throw fail("_rebuild_tensor_v2: requires_grad is not a bool") }
            guard case .object(let hi) = args[5], case .dict(let hooks, _) = objects[hi], hooks.isEmpty else {
                throw fail("_rebuild_tensor_v2: backward hooks must be an empty OrderedDict")
            }
            if args.count == 7 && args[6] != .none {
                guard case .object(let mi) = args[6], case .dict = objects[mi] else { throw fail("_rebuild_tensor_v2: bad metadata") }
            }
            return try new(.tensor(TensorRef(storage: storage, offset: offset, shape: shape, strides: strides)))
        case .storage:
            throw fail("REDUCE of \(g.name): storages may appear only in persistent ids")
        }
    }

    /// The tensors in the root dict and the dicts nested in it, by dotted name.
    func collectTensors(_ root: Value) throws -> [(String, TensorRef)] {
        guard case .object(let r) = root, case .dict = objects[r] else { throw fail("the pickled object is not a dict") }
        var out: [(String, TensorRef)] = []
        var names = Set<String>()
        var visiting = Set<Int>()
        func walk(_ index: Int, _ prefix: String, _ depth: Int) throws {
            guard depth <= limits.maxDictNesting else { throw fail("dicts nested deeper than \(limits.maxDictNesting)") }
            guard visiting.insert(index).inserted else { throw fail("a dict contains itself") }
            defer { visiting.remove(index) }
            guard case .dict(let keys, let values) = objects[index] else { return }
            for k in keys {
                guard case .object(let i) = values[k]! else { continue }
                switch objects[i] {
                case .tensor(let t):
                    let name = prefix + k
                    guard names.insert(name).inserted else { throw fail("two tensors are named \(name)") }
                    guard out.count < limits.maxTensors else { throw fail("more than \(limits.maxTensors) tensors") }
                    out.append((name, t))
                case .dict:
                    try walk(i, prefix + k + ".", depth + 1)
                default:
                    continue
                }
            }
        }
        try walk(r, "", 0)
        return out
    }
}
