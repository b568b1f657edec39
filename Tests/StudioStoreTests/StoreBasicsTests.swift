import Foundation
import StudioKit
import StudioStore
import XCTest

final class StoreBasicsTests: XCTestCase {
    let env = ["STUDIO_KEY_ACME": hexKey(0x11), "STUDIO_KEY_GLOBEX": hexKey(0x22)]

    func testDigestMatchesKnownVector() {
        XCTAssertEqual(ImageDigest.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testAddGetListRemoveRoundTrip() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        let (ada, adaImages) = sampleCharacter(name: "Ada", tenant: "acme", referenceCount: 3, seed: 1)
        let (bob, bobImages) = sampleCharacter(name: "Bob", tenant: "acme", referenceCount: 1, seed: 2)
        let (eve, eveImages) = sampleCharacter(name: "Eve", tenant: "globex", referenceCount: 2, seed: 3)
        try store.add(ada, images: adaImages)
        try store.add(bob, images: bobImages)
        try store.add(eve, images: eveImages)

        XCTAssertEqual(try store.character(named: "Ada", tenant: "acme"), ada)
        XCTAssertEqual(try store.character(named: "Eve", tenant: "globex"), eve)
        for (sha, bytes) in adaImages {
            XCTAssertEqual(try store.image(sha256: sha), bytes)
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(home)/images/\(sha.prefix(2))/\(sha)"))
        }

        XCTAssertEqual(try store.list(tenant: "acme"), [
            CharacterSummary(id: ada.id, tenant: "acme", name: "Ada", createdAt: ada.createdAt, referenceCount: 3),
            CharacterSummary(id: bob.id, tenant: "acme", name: "Bob", createdAt: bob.createdAt, referenceCount: 1),
        ])
        XCTAssertEqual(try store.list(tenant: nil).map { "\($0.tenant)/\($0.name)" }, ["acme/Ada", "acme/Bob", "globex/Eve"])
        XCTAssertEqual(try store.list(tenant: "nobody"), [])

        // A second instance (another process, in effect) reads the same data.
        let reopened = try SQLiteCharacterStore(home: home, environment: env)
        XCTAssertEqual(try reopened.character(named: "Bob", tenant: "acme"), bob)

        try store.remove(named: "Ada", tenant: "acme")
        XCTAssertEqual(try store.list(tenant: "acme").map(\.name), ["Bob"])
        assertStoreError(.unknownCharacter) { try store.character(named: "Ada", tenant: "acme") }
        for sha in adaImages.keys {
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(home)/images/\(sha.prefix(2))/\(sha)"), "image of a removed character kept")
            assertStoreError(.invalidInput) { try store.image(sha256: sha) }
        }
        XCTAssertEqual(try store.image(sha256: bob.references[0].sha256), bobImages[bob.references[0].sha256])
        XCTAssertEqual(try store.integrityCheck(), [])
    }

    func testDuplicateNameIsRejectedPerTenant() throws {
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        try store.add(ada, images: images)
        var again = ada
        again.id = "another-id"
        let e = assertStoreError(.duplicateName) { try store.add(again, images: images) }
        XCTAssertTrue(e?.message.contains("'Ada'") == true && e?.message.contains("'acme'") == true, e?.message ?? "")
        // The same name in another tenant is another character.
        again.tenant = "globex"
        try store.add(again, images: images)
        XCTAssertEqual(try store.list(tenant: nil).count, 2)
        // The same id twice in a tenant is refused too.
        var sameID = ada
        sameID.name = "Ada 2"
        assertStoreError(.invalidInput) { try store.add(sameID, images: images) }
    }

    func testUnknownCharacterNamesNameAndTenant() throws {
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        try store.add(ada, images: images)
        for tenant in ["acme", "globex", "nobody"] {
            let e = assertStoreError(.unknownCharacter) { try store.character(named: "Zed", tenant: tenant) }
            XCTAssertTrue(e?.message.contains("'Zed'") == true && e?.message.contains("'\(tenant)'") == true, e?.message ?? "")
            assertStoreError(.unknownCharacter) { try store.remove(named: "Zed", tenant: tenant) }
            assertStoreError(.unknownCharacter) { try store.export(named: "Zed", tenant: tenant) }
        }
    }

    func testInvalidInputIsRefusedBeforeAnythingIsWritten() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        var badTenant = ada; badTenant.tenant = "../etc"
        assertStoreError(.invalidInput) { try store.add(badTenant, images: images) }
        var noName = ada; noName.name = ""
        assertStoreError(.invalidInput) { try store.add(noName, images: images) }
        var nan = ada; nan.identity.values[3] = .nan
        assertStoreError(.invalidInput) { try store.add(nan, images: images) }
        // Image bytes that are not what the reference's SHA-256 says.
        var wrongBytes = images
        wrongBytes[ada.references[0].sha256] = [1, 2, 3]
        assertStoreError(.invalidInput) { try store.add(ada, images: wrongBytes) }
        // A reference without bytes (and not already stored).
        assertStoreError(.invalidInput) { try store.add(ada, images: [:]) }
        assertStoreError(.invalidInput) { try store.image(sha256: "../../etc/passwd") }
        assertStoreError(.invalidInput) { try store.nearest(to: FaceDescriptor([]), tenant: nil, top: 3) }
        XCTAssertEqual(try store.list(tenant: nil), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/images/" + ada.references[0].sha256.prefix(2)))
        // Identities of another size than the tenant's are refused.
        try store.add(ada, images: images)
        let (short, shortImages) = sampleCharacter(name: "Short", tenant: "acme", identity: FaceDescriptor([0.1, 0.2]))
        assertStoreError(.invalidInput) { try store.add(short, images: shortImages) }
        assertStoreError(.invalidInput) { try store.nearest(to: FaceDescriptor([0.1, 0.2]), tenant: "acme", top: 1) }
    }

    func testSharedImagesAreStoredOnceAndKeptWhileReferenced() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme", referenceCount: 2)
        var twin = ada
        twin.name = "Twin"; twin.id = "twin"
        try store.add(ada, images: images)
        try store.add(twin, images: [:]) // same images, already stored
        let sha = ada.references[0].sha256
        try store.remove(named: "Ada", tenant: "acme")
        XCTAssertEqual(try store.image(sha256: sha), images[sha], "an image still referenced was deleted")
        try store.remove(named: "Twin", tenant: "acme")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(home)/images/\(sha.prefix(2))/\(sha)"))
    }

    func testCollectGarbageRemovesOnlyUnreferencedFiles() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme")
        try store.add(ada, images: images)
        // What a crash between writing images and committing leaves: an orphan and a temporary file.
        let orphan = randomBytes(100, seed: 99)
        let orphanSHA = sha256Hex(orphan)
        try FileManager.default.createDirectory(atPath: "\(home)/images/\(orphanSHA.prefix(2))", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(home)/images/\(orphanSHA.prefix(2))/\(orphanSHA)", contents: Data(orphan)))
        let shard = "\(home)/images/\(ada.references[0].sha256.prefix(2))"
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(shard)/.tmp-123-456", contents: Data([1, 2, 3])))
        XCTAssertEqual(try store.collectGarbage(), 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(home)/images/\(orphanSHA.prefix(2))/\(orphanSHA)"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(shard)/.tmp-123-456"))
        for (sha, bytes) in images { XCTAssertEqual(try store.image(sha256: sha), bytes) }
        XCTAssertEqual(try store.collectGarbage(), 0)
    }

    func testBatchCommitsOnceAndKeepsEachAddAtomic() throws {
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        let (a, ai) = sampleCharacter(name: "A", tenant: "acme", seed: 1)
        let (b, bi) = sampleCharacter(name: "B", tenant: "acme", seed: 2)
        var duplicate = a
        duplicate.id = "dup"
        try store.batch {
            try store.add(a, images: ai)
            assertStoreError(.duplicateName) { try store.add(duplicate, images: ai) }
            try store.add(b, images: bi)
        }
        XCTAssertEqual(try store.list(tenant: "acme").map(\.name), ["A", "B"])

        // A batch that throws leaves nothing, including in the search index.
        XCTAssertEqual(try store.nearest(to: a.identity, tenant: "acme", top: 5).map(\.name).first, "A")
        struct Abort: Error {}
        let (c, ci) = sampleCharacter(name: "C", tenant: "acme", seed: 3)
        XCTAssertThrowsError(try store.batch {
            try store.add(c, images: ci)
            throw Abort()
        })
        XCTAssertEqual(try store.list(tenant: "acme").map(\.name), ["A", "B"])
        XCTAssertEqual(try store.nearest(to: c.identity, tenant: "acme", top: 5).map(\.name).sorted(), ["A", "B"])
        XCTAssertEqual(try store.integrityCheck(), [])
    }

    func testSyntheticCharactersAreDeterministic() throws {
        XCTAssertEqual(SyntheticCharacters.record(index: 7, tenant: "t", seed: 3), SyntheticCharacters.record(index: 7, tenant: "t", seed: 3))
        XCTAssertNotEqual(SyntheticCharacters.identity(index: 7, seed: 3), SyntheticCharacters.identity(index: 8, seed: 3))
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        try store.addSynthetic(count: 50, tenant: "acme", seed: 9)
        XCTAssertEqual(try store.list(tenant: "acme").count, 50)
        XCTAssertEqual(try store.character(named: SyntheticCharacters.name(index: 17, seed: 9), tenant: "acme"),
                       SyntheticCharacters.record(index: 17, tenant: "acme", seed: 9))
    }

    func testDamagedOrMissingImageFilesAreReportedAndRepairedByAddingAgain() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme", referenceCount: 2)
        try store.add(ada, images: images)
        let damaged = ada.references[0].sha256, missing = ada.references[1].sha256
        var bytes = try XCTUnwrap(images[damaged])
        bytes[100] ^= 0xff
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(home)/images/\(damaged.prefix(2))/\(damaged)", contents: Data(bytes)))
        try FileManager.default.removeItem(atPath: "\(home)/images/\(missing.prefix(2))/\(missing)")
        assertStoreError(.corruptStore) { try store.image(sha256: damaged) }
        assertStoreError(.io) { try store.image(sha256: missing) }
        // A character using the same images, added with their bytes, writes intact copies.
        var twin = ada
        twin.name = "Twin"; twin.id = "twin"
        try store.add(twin, images: images)
        XCTAssertEqual(try store.image(sha256: damaged), images[damaged])
        XCTAssertEqual(try store.image(sha256: missing), images[missing])
    }
}
