import Foundation
import StudioKit
import StudioStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A damaged store is a typed error (`.corruptStore`, naming the file and saying to restore from an
/// export), never a crash or a silent wrong answer.
final class CorruptionTests: XCTestCase {
    let env = ["STUDIO_KEY_ACME": hexKey(0x33)]

    /// A closed store with `count` characters; returns its home and the records.
    func makeStore(count: Int) throws -> (String, [CharacterRecord]) {
        let home = makeTemporaryHome(self, name)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        var records: [CharacterRecord] = []
        try store.batch {
            for i in 0..<count {
                let (c, images) = sampleCharacter(name: "c\(i)", tenant: "acme", referenceCount: 2, seed: UInt64(i + 1))
                try store.add(c, images: images)
                records.append(c)
            }
        }
        return (home, records)
    }

    /// Opens the store and reads everything; the first error thrown must be `.corruptStore`.
    func assertCorrupt(_ home: String, names: [String], file: StaticString = #filePath, line: UInt = #line) {
        let e = assertStoreError(.corruptStore, file: file, line: line) { () throws -> Void in
            let store = try SQLiteCharacterStore(home: home, environment: env)
            _ = try store.list(tenant: nil)
            for n in names { _ = try store.character(named: n, tenant: "acme") }
            _ = try store.nearest(to: FaceDescriptor([Float](repeating: 0.5, count: 128)), tenant: "acme", top: 3)
            let findings = try store.integrityCheck()
            if !findings.isEmpty { throw StoreError(.corruptStore, "integrity_check: \(findings.prefix(3))") }
        }
        if let e { print("reported: \(e.message)") }
        if let e, !e.message.hasPrefix("integrity_check") {
            XCTAssertTrue(e.message.contains(home + "/studio.sqlite"), "message does not name the file: \(e.message)", file: file, line: line)
            XCTAssertTrue(e.message.contains("export"), "message does not say to restore from an export: \(e.message)", file: file, line: line)
        }
    }

    func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try h.seek(toOffset: UInt64(offset))
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    func testOverwrittenHeaderIsCorruptStore() throws {
        let (home, records) = try makeStore(count: 3)
        try overwrite(home + "/studio.sqlite", at: 0, with: randomBytes(100, seed: 1))
        assertCorrupt(home, names: records.map(\.name))
    }

    func testRandomBytesFileIsCorruptStore() throws {
        let home = makeTemporaryHome(self)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: home + "/studio.sqlite", contents: Data(randomBytes(65_536, seed: 2))))
        assertCorrupt(home, names: [])
        // Not a database at all: a text file.
        XCTAssertTrue(FileManager.default.createFile(atPath: home + "/studio.sqlite", contents: Data("hello, this is not sqlite\n".utf8)))
        assertCorrupt(home, names: [])
    }

    func testTruncatedFileIsCorruptStore() throws {
        let (home, records) = try makeStore(count: 60)
        let path = home + "/studio.sqlite"
        let size = try XCTUnwrap(fileBytes(path)).count
        XCTAssertGreaterThan(size, 16 * 4096)
        for keep in [size / 2, 4096 + 1000, 50] {
            XCTAssertEqual(truncate(path, off_t(keep)), 0)
            assertCorrupt(home, names: records.map(\.name))
        }
    }

    func testDamagedPagesInsideTheFileAreCorruptStore() throws {
        let (home, records) = try makeStore(count: 60)
        let path = home + "/studio.sqlite"
        let size = try XCTUnwrap(fileBytes(path)).count
        // Scribble over the middle pages (b-tree headers and cells).
        for page in stride(from: 2, to: size / 4096, by: 3) {
            try overwrite(path, at: page * 4096, with: randomBytes(64, seed: UInt64(page)))
        }
        assertCorrupt(home, names: records.map(\.name))
    }

    func testTamperedOrSwappedSealedBlobsAreCorruptStore() throws {
        let (home, records) = try makeStore(count: 2)
        do {
            // Swap the identities of two characters: each blob is bound to its own row.
            let db = try Database(path: home + "/studio.sqlite")
            try db.execute("""
                UPDATE characters SET identity = (SELECT identity FROM characters c2 WHERE c2.name = CASE characters.name WHEN 'c0' THEN 'c1' ELSE 'c0' END)
                """)
            db.close()
        }
        let store = try SQLiteCharacterStore(home: home, environment: env)
        let e = assertStoreError(.corruptStore) { try store.character(named: "c0", tenant: "acme") }
        XCTAssertTrue(e?.message.contains("'c0'") == true, e?.message ?? "")
        assertStoreError(.corruptStore) { try store.nearest(to: records[0].identity, tenant: "acme", top: 1) }

        // Flip one byte of a reference payload.
        let db = try Database(path: home + "/studio.sqlite")
        var payload: [UInt8] = []
        try db.query("SELECT payload FROM character_references WHERE ordinal = 1 LIMIT 1") { payload = $0.blob(0) }
        XCTAssertGreaterThan(payload.count, 100)
        payload[60] ^= 0x01
        try db.run("UPDATE character_references SET payload = ? WHERE ordinal = 1", [.blob(payload)])
        XCTAssertEqual(db.changes, 2)
        db.close()
        assertStoreError(.corruptStore) { try store.character(named: "c1", tenant: "acme") }
        XCTAssertEqual(try store.list(tenant: "acme").count, 2, "plaintext columns stay readable")
    }

    func testNewerSchemaIsRefused() throws {
        let (home, _) = try makeStore(count: 1)
        let db = try Database(path: home + "/studio.sqlite")
        try db.execute("PRAGMA user_version = 99")
        db.close()
        let e = assertStoreError(.io) { try SQLiteCharacterStore(home: home, environment: env) }
        XCTAssertTrue(e?.message.contains("newer") == true, e?.message ?? "")
    }
}
