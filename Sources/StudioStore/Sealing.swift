import Crypto
import Foundation
import StudioKit

/// AES-256-GCM sealing of the store's biometric data.
///
/// A sealed blob is `nonce (12 bytes) | ciphertext | tag (16 bytes)` (swift-crypto's "combined" form);
/// the nonce is random for every seal. The associated data names the row the blob belongs to (tenant,
/// character id, row kind, and for references the ordinal), so a blob copied into another row, another
/// character or another tenant fails authentication instead of decoding as someone else's face.
enum Sealing {
    /// Seals `plaintext` under `key`, bound to `context`.
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, context: SealContext) throws -> [UInt8] {
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(), authenticating: context.bytes)
            guard let combined = box.combined else { throw StoreError(.io, "AES-GCM produced no combined form") }
            return [UInt8](combined)
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(.io, "encryption failed (\(context.kind))")
        }
    }

    /// Opens a sealed blob; nil when it does not authenticate under `key` and `context` (wrong key,
    /// modified bytes, or a blob that belongs to another row).
    static func open(_ sealed: [UInt8], key: SymmetricKey, context: SealContext) -> [UInt8]? {
        sealed.withUnsafeBytes { openData($0, key: key, context: context) }.map { [UInt8]($0) }
    }

    /// `open` without copies of the sealed bytes (for the index load).
    static func openData(_ sealed: UnsafeRawBufferPointer, key: SymmetricKey, context: SealContext) -> Data? {
        guard sealed.count >= 28, let box = try? AES.GCM.SealedBox(combined: sealed),
              let plain = try? AES.GCM.open(box, using: key, authenticating: context.bytes) else { return nil }
        return plain
    }
}

/// What a sealed blob is bound to (its AES-GCM associated data).
struct SealContext {
    let kind: String
    let bytes: [UInt8]

    private init(_ parts: [String]) {
        kind = parts[1]
        // NUL-separated: no part can contain NUL (tenants, ids and kinds are validated), so the
        // encoding is unambiguous.
        var b: [UInt8] = []
        b.reserveCapacity(parts.reduce(parts.count) { $0 + $1.utf8.count })
        for (i, p) in parts.enumerated() {
            if i > 0 { b.append(0) }
            b.append(contentsOf: p.utf8)
        }
        bytes = b
    }

    static func keyCheck(tenant: String) -> SealContext { SealContext(["studio.v1", "key-check", tenant]) }
    static func identity(tenant: String, id: String) -> SealContext { SealContext(["studio.v1", "identity", tenant, id]) }
    static func record(tenant: String, id: String) -> SealContext { SealContext(["studio.v1", "record", tenant, id]) }
    static func reference(tenant: String, id: String, ordinal: Int) -> SealContext {
        SealContext(["studio.v1", "reference", tenant, id, String(ordinal)])
    }
    static func exportKeyCheck(tenant: String) -> SealContext { SealContext(["studio.export.v1", "key-check", tenant]) }
    static func exportBody(header: [UInt8]) -> SealContext {
        SealContext(["studio.export.v1", "body", String(decoding: header, as: UTF8.self)])
    }
}

/// The constant sealed as a tenant's key check value.
let keyCheckPlaintext: [UInt8] = Array("studio key check v1".utf8)
