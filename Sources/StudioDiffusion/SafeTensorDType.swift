/// The element types a safetensors header names (`dtype`), with their sizes in bytes. Only the
/// floating-point ones are read as weights; the others are recognised so that a file holding, say,
/// an int64 `position_ids` buffer is valid and says what it holds.
public enum SafeTensorDType: String, Sendable, Equatable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }

    /// Whether `decodeFloats` reads it (the 8-bit float formats are not: no model here uses them).
    public var isFloatingPoint: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }

    /// `count` little-endian values of this type from `raw` (exactly `count * size` bytes, any
    /// alignment), as Float. F16 and BF16 convert exactly; F64 rounds to nearest.
    func decodeFloats(_ raw: UnsafeRawBufferPointer, count: Int) -> [Float] {
        precondition(raw.count == count * size && isFloatingPoint, "decodeFloats: \(raw.count) bytes for \(count) \(rawValue)")
        return [Float](unsafeUninitializedCapacity: count) { out, n in
            switch self {
            case .f32: for i in 0..<count { out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
            case .f16: for i in 0..<count { out[i] = HalfFloat.float(fromHalfBits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
            case .bf16: for i in 0..<count { out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16) }
            case .f64: for i in 0..<count { out[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
            default: break
            }
            n = count
        }
    }
}

/// IEEE 754 binary16 <-> binary32, by bits (the same on every platform, with or without a native
/// Float16 type).
public enum HalfFloat {
    /// The exact Float value of a half-precision bit pattern (subnormals, infinities and NaN included).
    public static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa * 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// The nearest half-precision bit pattern to `f` (ties to even; overflow to infinity; NaN stays NaN).
    public static func bits(from f: Float) -> UInt16 {
        let b = f.bitPattern
        let sign = UInt16((b >> 16) & 0x8000)
        if f.isNaN { return sign | 0x7E00 }
        let a = abs(f)
        if a >= 65520 { return sign | 0x7C00 }   // rounds past the largest half (65504)
        if a < 0x1p-14 {
            // Subnormal half: round a / 2^-24 to an integer, ties to even.
            return sign | UInt16((a * 0x1p24).rounded(.toNearestOrEven))
        }
        let exponent = Int((a.bitPattern >> 23) & 0xFF) - 127
        let mantissa = a.bitPattern & 0x7F_FFFF
        var half = UInt32(exponent + 15) << 10 | mantissa >> 13
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }   // may carry into the exponent: still right
        return sign | UInt16(half)
    }
}
