import Crypto
import Foundation
import StudioKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content address of a reference image.
public enum ImageDigest {
    /// SHA-256 of `bytes` as 64 lowercase hexadecimal characters (`ReferenceRecord.sha256`).
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in SHA256.hash(data: bytes) { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reference images as files, content-addressed by SHA-256: `<root>/<sha[0..2]>/<sha>`.
///
/// The files hold the original bytes and are **not encrypted**: they are the user's own photos, kept so
/// a character can be re-measured or exported. The biometric data derived from them (embeddings,
/// landmarks, boxes, attributes) lives only in sealed blobs in `studio.sqlite`.
///
/// A file is written to a temporary name in its directory, fsynced, renamed into place and the directory
/// fsynced, so a reader sees the whole file or none. Identical content is stored once.
struct ImageFiles {
    let root: String

    /// Whether `s` is a lowercase hexadecimal SHA-256 (the only names used as paths).
    static func isDigest(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func digest(_ bytes: [UInt8]) -> String { ImageDigest.sha256Hex(bytes) }

    func path(for sha: String) -> String {
        precondition(ImageFiles.isDigest(sha), "not a SHA-256 digest: \(sha)")
        return root + "/" + sha.prefix(2) + "/" + sha
    }

    func exists(_ sha: String) -> Bool {
        var st = stat()
        return stat(path(for: sha), &st) == 0
    }

    /// Stores `bytes` under `sha` (already checked to be their digest) unless that file is there intact.
    func write(_ bytes: [UInt8], sha: String) throws {
        let final = path(for: sha)
        var st = stat()
        if stat(final, &st) == 0 && Int(st.st_size) == bytes.count,
           let existing = FileManager.default.contents(atPath: final), ImageFiles.digest([UInt8](existing)) == sha {
            return
        }
        let dir = root + "/" + sha.prefix(2)
        try makeDirectory(dir, mode: 0o700)
        let tmp = dir + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.io, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var written = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { p in
            while written < p.count {
                let n = posixWrite(fd, p.baseAddress! + written, p.count - written)
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                written += n
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        _ = posixClose(fd)
        if failure == 0 && rename(tmp, final) != 0 { failure = errno }
        if failure != 0 {
            unlink(tmp)
            throw StoreError(.io, "cannot store image \(final): \(String(cString: strerror(failure)))")
        }
        fsyncDirectory(dir)
    }

    /// The stored bytes, checked against their digest.
    func read(_ sha: String) throws -> [UInt8] {
        let p = path(for: sha)
        guard let data = FileManager.default.contents(atPath: p) else {
            throw StoreError(.io, "the reference image \(p) is missing; restore the character from its export")
        }
        let bytes = [UInt8](data)
        guard ImageFiles.digest(bytes) == sha else {
            throw StoreError(.corruptStore, "the reference image \(p) is damaged (its SHA-256 no longer matches); restore the character from its export")
        }
        return bytes
    }

    func remove(_ sha: String) {
        unlink(path(for: sha))
    }

    /// Every stored digest, and leftover temporary files (from a crash mid-write).
    func inventory() -> (digests: [String], temporaries: [String]) {
        var digests: [String] = [], temps: [String] = []
        let fm = FileManager.default
        guard let shards = try? fm.contentsOfDirectory(atPath: root) else { return ([], []) }
        for shard in shards where shard.utf8.count == 2 {
            guard let names = try? fm.contentsOfDirectory(atPath: root + "/" + shard) else { continue }
            for name in names {
                if ImageFiles.isDigest(name) && name.hasPrefix(shard) { digests.append(name) }
                else if name.hasPrefix(".tmp-") { temps.append(root + "/" + shard + "/" + name) }
            }
        }
        return (digests, temps)
    }
}
