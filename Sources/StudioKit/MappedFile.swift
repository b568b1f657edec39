#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory: pages are read from disk when first touched and shared
/// with the page cache, so a multi-gigabyte weight file costs resident memory only for what is used.
///
/// The mapping lives as long as this object. A file truncated by another process while mapped makes
/// reads past its new end fault (SIGBUS); weight files are not written while a model runs.
public final class MappedFile: @unchecked Sendable {
    /// The mapped bytes (`count` of them; a zero-length file maps nothing and has no base address).
    public let bytes: UnsafeRawBufferPointer
    public let path: String
    public var count: Int { bytes.count }

    /// Maps `path`, or says why not.
    public init(path: String) throws(MappedFileError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw errno == ENOENT ? .missing(path) : .cannotOpen(path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile(path) }
        let size = Int(info.st_size)
        if size == 0 { bytes = UnsafeRawBufferPointer(start: nil, count: 0); return }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .cannotMap(path, errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

public enum MappedFileError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case cannotOpen(String, errno: Int32)
    case notARegularFile(String)
    case cannotMap(String, errno: Int32)

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such file"
        case .cannotOpen(let p, let e): return "\(p): cannot open the file (\(String(cString: strerror(e))))"
        case .notARegularFile(let p): return "\(p): not a regular file"
        case .cannotMap(let p, let e): return "\(p): cannot map the file into memory (\(String(cString: strerror(e))))"
        }
    }
}
