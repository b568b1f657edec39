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
