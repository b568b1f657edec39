#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading whole files (model weights, images) with a size limit and a reason when it fails.
public enum FileBytes {

    /// The file's bytes, or why they could not be read; never more than `limit` bytes are kept.
    public static func read(_ path: String, limit: Int = Int.max) -> Result<[UInt8], FileReadError> {
        guard let f = fopen(path, "rb") else { return .failure(.cannotOpen(errno: errno)) }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { out.append(contentsOf: buf[0..<n]) }
            if out.count > limit { return .failure(.tooLarge(limit: limit)) }
            if n < buf.count {
                if ferror(f) != 0 { return .failure(.readError(after: out.count)) }
                return .success(out)
            }
        }
    }
}

public enum FileReadError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(errno: Int32)
    case tooLarge(limit: Int)
    case readError(after: Int)
    public var description: String {
        switch self {
        case .cannotOpen(let e): return "cannot open the file (errno \(e))"
        case .tooLarge(let l): return "file exceeds the limit of \(l) bytes"
        case .readError(let n): return "read error after \(n) bytes"
        }
    }
}
