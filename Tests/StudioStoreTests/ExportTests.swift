import Foundation
import StudioKit
import StudioStore
import XCTest

final class ExportTests: XCTestCase {
    let env = ["STUDIO_KEY_ACME": hexKey(0x44), "STUDIO_KEY_GLOBEX": hexKey(0x45)]

    func makeExport() throws -> (SQLiteCharacterStore, CharacterRecord, [String: [UInt8]], [UInt8]) {
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self, name), environment: env)
        let (ada, images) = sampleCharacter(name: "Ada Lovelace", tenant: "acme", referenceCount: 3, seed: 21)
        try store.add(ada, images: images)
        return (store, ada, images, try store.export(named: "Ada Lovelace", tenant: "acme"))
    }

    func header(of export: [UInt8]) throws -> [String: Any] {
        let line = export.prefix(while: { $0 != 0x0A })
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
    }

    func testRoundTripInAFreshStoreGivesAnEqualRecordAndIdenticalImages() throws {
        let (_, ada, images, export) = try makeExport()
        let h = try header(of: export)
        XCTAssertEqual(h["format"] as? String, "studio-character")
        XCTAssertEqual(h["version"] as? Int, 1)
        XCTAssertEqual(h["tenant"] as? String, "acme")
        XCTAssertEqual(h["name"] as? String, "Ada Lovelace")
        XCTAssertEqual((h["created_at"] as? NSNumber)?.int64Value, ada.createdAt)

        let other = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        XCTAssertEqual(try other.importCharacter(export, tenant: nil), ada)
        XCTAssertEqual(try other.character(named: "Ada Lovelace", tenant: "acme"), ada)
        for (sha, bytes) in images { XCTAssertEqual(try other.image(sha256: sha), bytes) }
        XCTAssertEqual(try other.nearest(to: ada.identity, tenant: "acme", top: 1).first?.name, "Ada Lovelace")
        // Importing twice is a duplicate name.
        assertStoreError(.duplicateName) { try other.importCharacter(export, tenant: nil) }
    }

    func testRoundTripAfterRemoveAndIntoAnotherTenant() throws {
        let (store, ada, images, export) = try makeExport()
        try store.remove(named: "Ada Lovelace", tenant: "acme")
        XCTAssertEqual(try store.importCharacter(export, tenant: nil), ada)
        XCTAssertEqual(try store.character(named: "Ada Lovelace", tenant: "acme"), ada)

        let moved = try store.importCharacter(export, tenant: "globex")
        var expected = ada
        expected.tenant = "globex"
        XCTAssertEqual(moved, expected)
        XCTAssertEqual(try store.character(named: "Ada Lovelace", tenant: "globex"), expected)
        for (sha, bytes) in images { XCTAssertEqual(try store.image(sha256: sha), bytes) }
    }

    func testGarbageAndMalformedFilesAreInvalidInput() throws {
        let (store, _, _, export) = try makeExport()
        try store.remove(named: "Ada Lovelace", tenant: "acme")
        let body = Array(export.drop(while: { $0 != 0x0A }))
        var cases: [(String, [UInt8])] = [
            ("empty", []),
            ("random bytes", randomBytes(5000, seed: 3)),
            ("random bytes with a newline", randomBytes(100, seed: 4) + [0x0A] + randomBytes(100, seed: 5)),
            ("malformed JSON header", Array("{\"format\": \"studio-character\", \"version\": ".utf8) + body),
            ("JSON of another shape", Array("[1, 2, 3]".utf8) + body),
            ("header only", Array(export.prefix(while: { $0 != 0x0A })) + [0x0A]),
            ("truncated body", Array(export.dropLast(40))),
        ]
        func rewrite(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
            var h = try header(of: export)
            edit(&h)
            return [UInt8](try JSONSerialization.data(withJSONObject: h, options: [.sortedKeys])) + body
        }
        cases.append(("another format", try rewrite { $0["format"] = "something-else" }))
        cases.append(("renamed in the header", try rewrite { $0["name"] = "Mallory" }))
        cases.append(("another creation time", try rewrite { $0["created_at"] = 5 }))
        var flipped = export
        flipped[flipped.count - 100] ^= 0x20
        cases.append(("one body byte flipped", flipped))
        for (label, bytes) in cases {
            let e = assertStoreError(.invalidInput) { try store.importCharacter(bytes, tenant: nil) }
            XCTAssertNotNil(e, label)
        }
        let v2 = try rewrite { $0["version"] = 2 }
        let e = assertStoreError(.invalidInput) { try store.importCharacter(v2, tenant: nil) }
        XCTAssertTrue(e?.message.contains("version 2") == true, e?.message ?? "")
        XCTAssertEqual(try store.list(tenant: nil), [], "a failed import left something behind")
    }

    func testWrongOrMissingKeyIsTyped() throws {
        let (_, _, _, export) = try makeExport()
        // A store whose key for 'acme' is another one.
        let wrong = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: ["STUDIO_KEY_ACME": hexKey(0x77)])
        let e = assertStoreError(.wrongKey) { try wrong.importCharacter(export, tenant: nil) }
        XCTAssertTrue(e?.message.contains("'acme'") == true && e?.message.contains("STUDIO_KEY_ACME") == true, e?.message ?? "")
        // No key at all for the export's tenant (and none may be invented to open it).
        let home = makeTemporaryHome(self)
        let none = try SQLiteCharacterStore(home: home, environment: [:])
        assertStoreError(.missingKey) { try none.importCharacter(export, tenant: "globex") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/keys/acme.key"))
        XCTAssertEqual(try wrong.list(tenant: nil), [])
        XCTAssertEqual(try none.list(tenant: nil), [])
    }
}
