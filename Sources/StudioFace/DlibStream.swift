#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A malformed, truncated or unexpected dlib model file.
public struct ModelFormatError: Error, CustomStringConvertible, Equatable {
    /// The file (or a label for in-memory bytes).
    public let file: String
    /// Byte offset where reading failed.
    public let offset: Int
    public let detail: String
    /// The file does not exist (or cannot be opened): nothing was read, the model is not installed.
    public var isMissing = false

    public init(file: String, offset: Int, detail: String) { self.file = file; self.offset = offset; self.detail = detail }

    /// A model file that is not there.
    public static func missing(_ file: String) -> ModelFormatError {
        var e = ModelFormatError(file: file, offset: 0, detail: "no such file")
        e.isMissing = true
        return e
    }

    public var description: String {
        isMissing ? "\(file): the model file is missing" : "\(file): not a valid dlib model (at byte \(offset)): \(detail)"
    }
}

/// A cursor over the bytes of a dlib serialized object (`dlib/serialize.h`).
///
/// Every read checks the remaining length, so truncated or hostile input raises
/// `ModelFormatError` instead of reading out of bounds.
struct DlibStream {
    let bytes: [UInt8]
    let file: String
    private(set) var offset = 0

    init(bytes: [UInt8], file: String) { self.bytes = bytes; self.file = file }

    var remaining: Int { bytes.count - offset }
    var atEnd: Bool { offset >= bytes.count }

    func fail(_ detail: String) -> ModelFormatError { ModelFormatError(file: file, offset: offset, detail: detail) }

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw fail("unexpected end of file") }
        defer { offset += 1 }
        return bytes[offset]
    }

    func peek() throws -> UInt8 {
        guard offset < bytes.count else { throw fail("unexpected end of file") }
        return bytes[offset]
    }

    /// dlib's integer format: a control byte (0x80 = negative, low 4 bits = byte count 1...8),
    /// then the little-endian magnitude.
    mutating func int(_ what: String = "integer") throws -> Int64 {
        let control = try byte()
        let size = Int(control & 0x0F)
        guard size >= 1 && size <= 8 && (control & 0x70) == 0 else {
            offset -= 1; throw fail("bad integer control byte 0x\(String(control, radix: 16)) reading \(what)")
        }
        guard remaining >= size else { throw fail("unexpected end of file reading \(what)") }
        var magnitude: UInt64 = 0
        for i in 0..<size { magnitude |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += size
        if control & 0x80 != 0 {
            guard magnitude <= UInt64(Int64.max) else { throw fail("integer out of range reading \(what)") }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw fail("integer out of range reading \(what)") }
        return Int64(magnitude)
    }

    /// A non-negative integer that must fit `limit` (sizes, counts, indices).
    mutating func count(_ what: String, limit: Int64 = Int64(Int32.max)) throws -> Int {
        let v = try int(what)
        guard v >= 0 && v <= limit else { throw fail("\(what) = \(v) is out of range") }
        return Int(v)
    }

    mutating func expectInt(_ expected: Set<Int64>, _ what: String) throws -> Int64 {
        let start = offset
        let v = try int(what)
        guard expected.contains(v) else {
            offset = start
            throw fail("unexpected \(what) \(v) (expected \(expected.sorted().map(String.init).joined(separator: " or ")))")
        }
        return v
    }

    mutating func bool(_ what: String = "bool") throws -> Bool {
        let b = try byte()
        switch b {
        case UInt8(ascii: "1"): return true
        case UInt8(ascii: "0"): return false
        default: offset -= 1; throw fail("bad bool byte 0x\(String(b, radix: 16)) reading \(what)")
        }
    }

    mutating func string(_ what: String = "string", maxLength: Int = 1 << 20) throws -> String {
        let n = try count("length of \(what)", limit: Int64(maxLength))
        guard remaining >= n else { throw fail("unexpected end of file reading \(what)") }
        defer { offset += n }
        return String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
    }

    /// Reads a version string and checks it is one of `accepted`.
    @discardableResult
    mutating func version(_ accepted: [String], _ what: String) throws -> String {
        let start = offset
        let v = try string("\(what) version", maxLength: 64)
        guard accepted.contains(v) else {
            offset = start
            throw fail("expected \(what) (\(accepted.joined(separator: "/"))), found '\(v.prefix(40))'")
        }
        return v
    }

    /// `float_details`: int64 mantissa and int16 exponent; value = mantissa * 2^exponent, with
    /// exponents 32000/32001/32002 meaning +inf/-inf/NaN. Converted the way dlib converts to `T`.
    private mutating func floatDetails(_ what: String) throws -> (mantissa: Int64, exponent: Int64) {
        guard try peek() & 0x70 == 0 else { throw fail("old ASCII float encoding is not supported (\(what))") }
        let m = try int("mantissa of \(what)")
        let e = try int("exponent of \(what)")
        guard e >= -32768 && e <= 32767 else { throw fail("float exponent out of range (\(what))") }
        return (m, e)
    }

    mutating func float(_ what: String = "float") throws -> Float {
        let (m, e) = try floatDetails(what)
        switch e {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        default: return ldexpf(Float(m), Int32(e))
        }
    }

    mutating func double(_ what: String = "double") throws -> Double {
        let (m, e) = try floatDetails(what)
        switch e {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        default: return ldexp(Double(m), Int32(e))
        }
    }

    /// `resizable_tensor`: version 2, four dimensions, then raw little-endian float32 values.
    mutating func tensor(_ what: String) throws -> (shape: [Int], values: [Float]) {
        _ = try expectInt([2], "\(what) tensor version")
        var dims: [Int] = []
        for d in ["num_samples", "k", "nr", "nc"] { dims.append(try count("\(what) \(d)")) }
        let (c1, o1) = dims[0].multipliedReportingOverflow(by: dims[1])
        let (c2, o2) = c1.multipliedReportingOverflow(by: dims[2])
        let (n, o3) = c2.multipliedReportingOverflow(by: dims[3])
        guard !o1 && !o2 && !o3 && n <= remaining / 4 else { throw fail("\(what) tensor of \(dims) does not fit in the file") }
        var values = [Float](repeating: 0, count: n)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n * 4)]))
            }
        }
        #if _endian(big)
        values = values.map { Float(bitPattern: $0.bitPattern.byteSwapped) }
        #endif
        offset += n * 4
        return (dims, values)
    }

    /// `alias_tensor`: version 1 and four dimensions (a view into a layer's params; no data).
    mutating func aliasTensor(_ what: String) throws -> [Int] {
        _ = try expectInt([1], "\(what) alias version")
        var dims: [Int] = []
        for d in ["num_samples", "k", "nr", "nc"] { dims.append(try count("\(what) \(d)")) }
        return dims
    }

    /// `matrix<float,0,1>` and friends: rows, columns (negative in the newer format), elements.
    mutating func floatMatrix(_ what: String) throws -> (rows: Int, cols: Int, values: [Float]) {
        var r = try int("\(what) rows"), c = try int("\(what) columns")
        if r < 0 || c < 0 { r = -r; c = -c }
        guard r >= 0 && c >= 0 && r <= 1 << 24 && c <= 1 << 24 else { throw fail("\(what) has bad size \(r)x\(c)") }
        let n = Int(r * c)
        // Each float takes at least 2 bytes (two 1-byte integers): reject impossible sizes early.
        guard n <= remaining / 2 else { throw fail("\(what) of \(r)x\(c) does not fit in the file") }
        var v = [Float](); v.reserveCapacity(n)
        for _ in 0..<n { v.append(try float(what)) }
        return (Int(r), Int(c), v)
    }
}
