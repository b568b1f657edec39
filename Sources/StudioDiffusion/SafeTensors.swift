import Foundation
import StudioKit

/// A safetensors file (the format of diffusers folders, single-file checkpoints, LoRA and IP-Adapter
/// files), memory-mapped and checked whole before any tensor is read.
///
/// Layout: an 8-byte little-endian header length `N`; `N` bytes of UTF-8 JSON beginning with `{`
/// (possibly padded with spaces) that map each tensor name to `{"dtype", "shape", "data_offsets":
/// [begin, end]}`, plus an optional `"__metadata__"` map of strings; then the data buffer, to which
/// the offsets are relative. As the reference implementation requires, the tensors must cover the
/// buffer exactly, in offset order, without gaps or overlaps, and each tensor's byte length must be
/// its element count times its element size; the header is at most 100,000,000 bytes.
public struct SafeTensors: Sendable {
    /// One tensor's place in the file.
    public struct Info: Sendable, Equatable {
        public let name: String
        public let dtype: SafeTensorDType
        public let shape: [Int]
        /// Offset of the first byte from the start of the file.
        public let offset: Int
        public let byteCount: Int
        public var count: Int { byteCount / dtype.size }
    }

    public static let maxHeaderBytes = 100_000_000

    public let file: MappedFile
    public let metadata: [String: String]
    /// Every tensor, in file order.
    public let tensors: [Info]
    private let index: [String: Int]

    /// Maps and checks `path`.
    public init(path: String) throws(SafeTensorsError) {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch {
            if case .missing = error { throw SafeTensorsError(file: path, kind: .missing) }
            throw SafeTensorsError(file: path, kind: .unreadable(error.description))
        }
        try self.init(mapped)
    }

    /// Checks an already mapped file.
    public init(_ mapped: MappedFile) throws(SafeTensorsError) {
        file = mapped
        let (tensors, metadata) = try SafeTensorsHeader.parse(mapped.bytes, file: mapped.path)
        self.tensors = tensors
        self.metadata = metadata
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    public func info(_ name: String) -> Info? { index[name].map { tensors[$0] } }

    /// The tensor's values as 32-bit floats (F32 as stored; F16, BF16 and F64 converted).
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let t = info(name) else { throw SafeTensorsError(file: file.path, kind: .unknownTensor(name)) }
        guard t.dtype.isFloatingPoint else {
            throw SafeTensorsError(file: file.path, kind: .entry(name, "holds \(t.dtype.rawValue) values, not floating point"))
        }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[t.offset..<(t.offset + t.byteCount)])
        return t.dtype.decodeFloats(raw, count: t.count)
    }

    /// `floats(name)` after checking that the tensor has exactly `shape`.
    public func floats(_ name: String, shape: [Int]) throws(SafeTensorsError) -> [Float] {
        guard let t = info(name) else { throw SafeTensorsError(file: file.path, kind: .unknownTensor(name)) }
        guard t.shape == shape else {
            throw SafeTensorsError(file: file.path, kind: .entry(name, "has shape \(t.shape), expected \(shape)"))
        }
        return try floats(name)
    }
}

/// Why a safetensors file was refused.
public struct SafeTensorsError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case missing
        case unreadable(String)
        /// The fixed part or the header is cut short, or the header length is out of bounds.
        case truncated(String)
        /// The header is not the JSON object the format requires.
        case header(String)
        /// One tensor's entry is wrong (dtype, shape, offsets, size).
        case entry(String, String)
        /// The tensors do not tile the data buffer exactly.
        case layout(String)
        case unknownTensor(String)
    }
    public let file: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case .missing: return "\(file): the weights file is missing"
        case .unreadable(let why): return why
        case .truncated(let why): return "\(file): not a valid safetensors file: \(why)"
        case .header(let why): return "\(file): not a valid safetensors file: the header \(why)"
        case .entry(let name, let why): return "\(file): tensor '\(name)' \(why)"
        case .layout(let why): return "\(file): not a valid safetensors file: \(why)"
        case .unknownTensor(let name): return "\(file): has no tensor named '\(name)'"
        }
    }
}
