import Foundation

/// Writes safetensors files: tensors in the order given, the header's keys sorted, the header padded
/// with spaces to a multiple of 8 bytes (as the reference implementation pads it).
public enum SafeTensorsWriter {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: SafeTensorDType
        public var shape: [Int]
        /// Little-endian element bytes: `shape` product times `dtype.size` of them.
        public var bytes: [UInt8]

        public init(name: String, dtype: SafeTensorDType, shape: [Int], bytes: [UInt8]) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }

        /// Float values stored as F32, F16 (rounded to nearest even) or BF16 (rounded to nearest even).
        public init(name: String, shape: [Int], floats: [Float], as dtype: SafeTensorDType = .f32) {
            precondition(floats.count == shape.reduce(1, *), "SafeTensorsWriter: \(floats.count) values for shape \(shape)")
            var out: [UInt8] = []
            out.reserveCapacity(floats.count * dtype.size)
            for f in floats {
                switch dtype {
                case .f32: withUnsafeBytes(of: f.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                case .f16: withUnsafeBytes(of: HalfFloat.bits(from: f).littleEndian) { out.append(contentsOf: $0) }
                case .bf16: withUnsafeBytes(of: SafeTensorsWriter.bfloat16Bits(f).littleEndian) { out.append(contentsOf: $0) }
                default: preconditionFailure("SafeTensorsWriter: floats are stored as F32, F16 or BF16, not \(dtype.rawValue)")
                }
            }
            self.init(name: name, dtype: dtype, shape: shape, bytes: out)
        }
    }

    /// The whole file.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:]) -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            header[t.name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]] as [String: Any]
            offset += t.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8]((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8))
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        for t in tensors { out += t.bytes }
        return out
    }

    /// BF16: the upper half of the float's bits, rounded to nearest even (NaN kept quiet).
    static func bfloat16Bits(_ f: Float) -> UInt16 {
        if f.isNaN { return UInt16(f.bitPattern >> 16) | 0x0040 }
        let b = f.bitPattern
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}
