import Foundation
import StudioKit
import StudioStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class KeyTests: XCTestCase {
    func testEnvironmentVariableName() {
        XCTAssertEqual(TenantKeys.environmentVariable(for: "acme"), "STUDIO_KEY_ACME")
        XCTAssertEqual(TenantKeys.environmentVariable(for: "my-tenant.v2"), "STUDIO_KEY_MY_TENANT_V2")
    }

    func testWrongKeyIsRefusedAndTheStoreFileIsUntouched() throws {
        let home = makeTemporaryHome(self)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        do {
            let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_ACME": hexKey(0x11)])
            try store.add(ada, images: images)
        } // closed: the WAL is checkpointed into studio.sqlite and removed
        let dbPath = home + "/studio.sqlite"
        let before = try XCTUnwrap(fileBytes(dbPath))
        let imagesBefore = try FileManager.default.subpathsOfDirectory(atPath: home + "/images").sorted()

        let wrongHex = hexKey(0x99)
        do {
            let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_ACME": wrongHex])
            let e = assertStoreError(.wrongKey) { try store.character(named: "Ada", tenant: "acme") }
            XCTAssertEqual(e?.message, "the key for tenant 'acme' does not match this store (from STUDIO_KEY_ACME)")
            XCTAssertFalse(e?.message.contains(wrongHex) ?? true)
            assertStoreError(.wrongKey) { try store.remove(named: "Ada", tenant: "acme") }
            let (other, otherImages) = sampleCharacter(name: "Other", tenant: "acme", seed: 5)
            assertStoreError(.wrongKey) { try store.add(other, images: otherImages) }
            assertStoreError(.wrongKey) { try store.nearest(to: ada.identity, tenant: "acme", top: 3) }
            assertStoreError(.wrongKey) { try store.nearest(to: ada.identity, tenant: nil, top: 3) }
            assertStoreError(.wrongKey) { try store.export(named: "Ada", tenant: "acme") }
            // Names are plaintext: listing needs no key.
            XCTAssertEqual(try store.list(tenant: "acme").map(\.name), ["Ada"])
        }
        XCTAssertEqual(fileBytes(dbPath), before, "studio.sqlite changed after wrong-key attempts")
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: home + "/images").sorted(), imagesBefore)

        // The right key still works.
        let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_ACME": hexKey(0x11)])
        XCTAssertEqual(try store.character(named: "Ada", tenant: "acme"), ada)
    }

    func testKeyFileIsCreatedPrivateAndUsedAgain() throws {
        let home = makeTemporaryHome(self)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        try SQLiteCharacterStore(home: home, environment: [:]).add(ada, images: images)
        let keyPath = home + "/keys/acme.key"
        XCTAssertEqual(fileBytes(keyPath)?.count, 32)
        XCTAssertEqual(fileMode(keyPath), 0o600)
        XCTAssertEqual(fileMode(home + "/keys"), 0o700)
        XCTAssertEqual(try SQLiteCharacterStore(home: home, environment: [:]).character(named: "Ada", tenant: "acme"), ada)
        // The same bytes given as base64 in the environment open the tenant too.
        let b64 = Data(try XCTUnwrap(fileBytes(keyPath))).base64EncodedString()
        XCTAssertEqual(try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_ACME": b64]).character(named: "Ada", tenant: "acme"), ada)
    }

    func testMissingKeyForATenantWithDataIsAnErrorNotANewKey() throws {
        let home = makeTemporaryHome(self)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        try SQLiteCharacterStore(home: home, environment: [:]).add(ada, images: images)
        let keyPath = home + "/keys/acme.key"
        XCTAssertEqual(unlink(keyPath), 0)

        let store = try SQLiteCharacterStore(home: home, environment: [:])
        let e = assertStoreError(.missingKey) { try store.character(named: "Ada", tenant: "acme") }
        XCTAssertTrue(e?.message.contains("STUDIO_KEY_ACME") == true && e?.message.contains("acme.key") == true, e?.message ?? "")
        let (other, otherImages) = sampleCharacter(name: "Other", tenant: "acme", seed: 4)
        assertStoreError(.missingKey) { try store.add(other, images: otherImages) }
        assertStoreError(.missingKey) { try store.remove(named: "Ada", tenant: "acme") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: keyPath), "a new key was made for a tenant with data")
        XCTAssertEqual(try store.list(tenant: "acme").map(\.name), ["Ada"])
        // A new tenant still gets its key.
        let (g, gi) = sampleCharacter(name: "G", tenant: "globex", seed: 6)
        try store.add(g, images: gi)
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/keys/globex.key"))
    }

    func testKeyFileReadableByOthersIsRefused() throws {
        let home = makeTemporaryHome(self)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        try SQLiteCharacterStore(home: home, environment: [:]).add(ada, images: images)
        let keyPath = home + "/keys/acme.key"
        XCTAssertEqual(chmod(keyPath, 0o644), 0)
        let store = try SQLiteCharacterStore(home: home, environment: [:])
        let e = assertStoreError(.invalidInput) { try store.character(named: "Ada", tenant: "acme") }
        XCTAssertTrue(e?.message.contains("chmod 600") == true, e?.message ?? "")
        XCTAssertEqual(chmod(keyPath, 0o600), 0)
        XCTAssertEqual(try store.character(named: "Ada", tenant: "acme"), ada)
    }

    func testMalformedKeysAreClearErrorsThatDoNotEchoTheValue() throws {
        let home = makeTemporaryHome(self)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        for bad in ["abc", String(repeating: "g", count: 64), String(repeating: "a", count: 62), Data(count: 16).base64EncodedString()] {
            let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_ACME": bad])
            let e = assertStoreError(.invalidInput) { try store.add(ada, images: images) }
            XCTAssertTrue(e?.message.contains("STUDIO_KEY_ACME") == true, e?.message ?? "")
            XCTAssertFalse(e?.message.contains(bad) ?? true, "the key value leaked into: \(e?.message ?? "")")
        }
        // A key file of the wrong length.
        try FileManager.default.createDirectory(atPath: home + "/keys", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: home + "/keys/acme.key", contents: Data(count: 16), attributes: [.posixPermissions: 0o600]))
        assertStoreError(.invalidInput) { try SQLiteCharacterStore(home: home, environment: [:]).add(ada, images: images) }
        XCTAssertEqual(try SQLiteCharacterStore(home: home, environment: [:]).list(tenant: nil), [])
    }
}
