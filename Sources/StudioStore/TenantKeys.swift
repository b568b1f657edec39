import Crypto
import Foundation
import StudioKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where each tenant's 256-bit data key comes from.
///
/// In order:
/// 1. the environment variable `STUDIO_KEY_<TENANT>` (tenant upper-cased, every character that is not
///    an ASCII letter or digit replaced by `_`): 64 hexadecimal characters or the base64 of 32 bytes;
/// 2. the key file `<keys>/<tenant>.key`: exactly 32 raw bytes, readable by its owner only.
///
/// `createKey` makes a key file with 32 random bytes (mode 0600 in a 0700 directory, written to a
/// temporary name, fsynced, then linked into place so a concurrent creator's key is never replaced).
/// The store calls it only for a tenant that has no data yet: a tenant with data and no key is an error
/// (`.missingKey`), never a fresh key.
///
/// Key bytes never appear in errors or logs; messages name only the variable or file they came from.
public struct TenantKeys: Sendable {
    public let directory: String
    private let environment: [String: String]

    /// - Parameters:
    ///   - directory: the key directory (`$STUDIO_HOME/keys`).
    ///   - environment: where `STUDIO_KEY_*` are read (the process environment by default).
    public init(directory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.environment = environment
    }

    /// A key and where it came from (for messages).
    public struct Resolved {
        public let key: SymmetricKey
        /// e.g. "STUDIO_KEY_ACME" or "key file /home/me/.studio/keys/acme.key".
        public let source: String
    }

    /// `STUDIO_KEY_<TENANT>` for `tenant`.
    public static func environmentVariable(for tenant: String) -> String {
        "STUDIO_KEY_" + String(tenant.uppercased().unicodeScalars.map { s -> Character in
            s.isASCII && (("A"..."Z").contains(s) || ("0"..."9").contains(s)) ? Character(s) : "_"
        })
    }

    /// The key file of `tenant`.
    public func keyFile(for tenant: String) -> String { directory + "/" + tenant + ".key" }

    /// Both places a key is looked for, for messages: "STUDIO_KEY_X / /home/.../keys/x.key".
    public func describeSources(for tenant: String) -> String {
        "\(TenantKeys.environmentVariable(for: tenant)) / \(keyFile(for: tenant))"
    }

    /// The tenant's key from the environment or its key file; nil when neither exists.
    /// Throws for a malformed variable, a malformed key file, or a key file others can read.
    public func existingKey(for tenant: String) throws -> Resolved? {
        let variable = TenantKeys.environmentVariable(for: tenant)
        if let value = environment[variable] {
            return Resolved(key: try TenantKeys.parse(value, variable: variable), source: variable)
        }
        let path = keyFile(for: tenant)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError(.io, "cannot read key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { _ = posixClose(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw StoreError(.io, "cannot stat key file \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & 0o170000) == 0o100000 else {
            throw StoreError(.invalidInput, "key file \(path) is not a regular file")
        }
        let mode = st.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw StoreError(.invalidInput,
                             "key file \(path) has mode \(String(mode, radix: 8)), which lets other users read or replace it; "
                             + "run `chmod 600 \(path)` (studio refuses to use it until then)")
        }
        var bytes = [UInt8](repeating: 0, count: 33)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 33) }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        guard n == 32 else {
            if n < 0 { throw StoreError(.io, "cannot read key file \(path): \(String(cString: strerror(errno)))") }
            throw StoreError(.invalidInput, "key file \(path) must hold exactly 32 bytes (it holds \(n == 33 ? "more than 32" : String(n)))")
        }
        return Resolved(key: SymmetricKey(data: bytes[0..<32]), source: "key file \(path)")
    }

    /// Creates the tenant's key file with 32 random bytes and returns the key. When a file appeared
    /// meanwhile (another process), that file's key is returned instead.
    public func createKey(for tenant: String) throws -> Resolved {
        try makeDirectory(directory, mode: 0o700)
        let path = keyFile(for: tenant)
        let key = SymmetricKey(size: .bits256)
        var bytes = key.withUnsafeBytes { [UInt8]($0) }
        defer { for i in bytes.indices { bytes[i] = 0 } }
        let tmp = directory + "/." + tenant + ".key.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw StoreError(.io, "cannot create key file in \(directory): \(String(cString: strerror(errno)))") }
        var ok = fchmod(fd, 0o600) == 0
        ok = ok && bytes.withUnsafeBytes { write(fd, $0.baseAddress, 32) } == 32
        ok = ok && fsync(fd) == 0
        let writeErrno = errno
        _ = posixClose(fd)
        guard ok else {
            unlink(tmp)
            throw StoreError(.io, "cannot write key file \(path): \(String(cString: strerror(writeErrno)))")
        }
        // link() fails with EEXIST instead of replacing a key another process just created.
        let linked = link(tmp, path)
        let linkErrno = errno
        unlink(tmp)
        if linked != 0 {
            if linkErrno == EEXIST, let other = try existingKey(for: tenant) { return other }
            throw StoreError(.io, "cannot create key file \(path): \(String(cString: strerror(linkErrno)))")
        }
        fsyncDirectory(directory)
        return Resolved(key: key, source: "key file \(path) (created)")
    }

    /// Parses a key given as 64 hexadecimal characters or as the base64 of 32 bytes.
    static func parse(_ raw: String, variable: String) throws -> SymmetricKey {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if value.utf8.count == 64, let bytes = hexBytes(value) {
            return SymmetricKey(data: bytes)
        }
        if let data = Data(base64Encoded: value), data.count == 32 {
            return SymmetricKey(data: data)
        }
        // Never echo the value: it may be a real key with a typo.
        throw StoreError(.invalidInput,
                         "\(variable) must be 64 hexadecimal characters or the base64 of 32 bytes "
                         + "(it has \(value.count) characters and is neither)")
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count / 2)
        var high: UInt8?
        for c in s.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return high == nil ? out : nil
    }
}

// MARK: - File helpers shared by the store

/// `close(2)` under a name that does not clash with methods called `close`.
@inline(__always) func posixClose(_ fd: Int32) -> Int32 { close(fd) }
/// `write(2)` under a name that does not clash with methods called `write`.
@inline(__always) func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

/// `mkdir -p` with `mode` for the directories it creates.
func makeDirectory(_ path: String, mode: mode_t) throws {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
        guard isDir.boolValue else { throw StoreError(.io, "\(path) exists and is not a directory") }
        return
    }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != path { try makeDirectory(parent, mode: mode) }
    if mkdir(path, mode) != 0 && errno != EEXIST {
        throw StoreError(.io, "cannot create directory \(path): \(String(cString: strerror(errno)))")
    }
}

/// Makes a rename or link inside `directory` durable.
func fsyncDirectory(_ directory: String) {
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 { _ = fsync(fd); _ = posixClose(fd) }
}
