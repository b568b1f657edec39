import Foundation
import StudioKit
import StudioStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `add` and `remove` survive SIGKILL at any moment: a child process (this test binary, running only
/// `testCrashChildWorker`) adds and removes characters in a loop until it is killed; the store is then
/// reopened and every character must be complete or absent, in commit order, with its images intact.
final class CrashConsistencyTests: XCTestCase {
    static let tenant = "crash"
    static let keyHex = hexKey(0x66)

    /// Character `index` of `round`: 1 to 3 references, each with its own image, plus one image shared
    /// by every character (stored once).
    static func character(round: Int, index: Int) -> (CharacterRecord, [String: [UInt8]]) {
        let seed = UInt64(round * 1_000_000 + index + 1)
        var (c, images) = sampleCharacter(name: "r\(round)-\(index)", tenant: tenant, referenceCount: index % 3 + 1, seed: seed,
                                          identity: SyntheticCharacters.identity(index: index, seed: UInt64(round)))
        let shared = randomBytes(20_000, seed: 424_242)
        let sha = sha256Hex(shared)
        var extra = c.references[0]
        extra.sha256 = sha
        extra.fileName = "shared.jpg"
        c.references.append(extra)
        images[sha] = shared
        return (c, images)
    }

    /// Index `j` is removed (by the child) right after index `j + 2` is added.
    static func isRemovedLater(_ j: Int) -> Bool { j % 5 == 2 }

    /// The child: adds characters (and removes some) until killed. Skipped unless started by the parent.
    func testCrashChildWorker() throws {
        let env = ProcessInfo.processInfo.environment
        guard let home = env["STUDIO_STORE_CRASH_HOME"], let round = env["STUDIO_STORE_CRASH_ROUND"].flatMap(Int.init) else {
            throw XCTSkip("runs only as the child process of testAddAndRemoveSurviveSIGKILL")
        }
        let store = try SQLiteCharacterStore(home: home) // key from STUDIO_KEY_CRASH in the environment
        let deadline = Date().addingTimeInterval(60)
        for i in 0..<100_000 where Date() < deadline {
            let (c, images) = CrashConsistencyTests.character(round: round, index: i)
            try store.add(c, images: images)
            if i >= 2 && CrashConsistencyTests.isRemovedLater(i - 2) {
                try store.remove(named: "r\(round)-\(i - 2)", tenant: CrashConsistencyTests.tenant)
            }
            if i == 0 { XCTAssertTrue(FileManager.default.createFile(atPath: home + "/ready-\(round)", contents: Data())) }
        }
    }

    func testAddAndRemoveSurviveSIGKILL() throws {
        #if !os(Linux)
        throw XCTSkip("the child is started as the Linux XCTest binary")
        #else
        let home = makeTemporaryHome(self)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 2024)
        var total = 0
        for round in 0..<4 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["StudioStoreTests.CrashConsistencyTests/testCrashChildWorker"]
            var env = ProcessInfo.processInfo.environment
            env["STUDIO_STORE_CRASH_HOME"] = home
            env["STUDIO_STORE_CRASH_ROUND"] = String(round)
            env["STUDIO_KEY_CRASH"] = CrashConsistencyTests.keyHex
            child.environment = env
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Wait until its first add committed, then kill it at a pseudo-random moment.
            let started = Date()
            while !FileManager.default.fileExists(atPath: home + "/ready-\(round)") {
                guard child.isRunning, Date().timeIntervalSince(started) < 120 else {
                    child.terminate()
                    XCTFail("child round \(round) exited (status \(child.terminationStatus)) or never got ready")
                    return
                }
                usleep(5_000)
            }
            usleep(UInt32(20_000 + rng.next() % 400_000))
            XCTAssertEqual(kill(child.processIdentifier, SIGKILL), 0)
            child.waitUntilExit()
            XCTAssertEqual(child.terminationReason, .uncaughtSignal, "round \(round): the child ended before the kill")
            total += try verify(home: home, round: round)
        }
        XCTAssertGreaterThan(total, 4, "the children committed too little for the test to mean anything")
        print("crash consistency: \(total) characters present after 4 SIGKILLs")

        // Leftovers of interrupted adds and removes are only unreferenced files: collecting them keeps
        // every character intact.
        let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_CRASH": CrashConsistencyTests.keyHex])
        try store.collectGarbage()
        for s in try store.list(tenant: CrashConsistencyTests.tenant) {
            for ref in try store.character(named: s.name, tenant: s.tenant).references { _ = try store.image(sha256: ref.sha256) }
        }
        XCTAssertEqual(try store.integrityCheck(), [])
        #endif
    }

    /// Checks the store after round `round` was killed; returns how many characters are present.
    func verify(home: String, round: Int) throws -> Int {
        let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_CRASH": CrashConsistencyTests.keyHex])
        XCTAssertEqual(try store.integrityCheck(), [], "round \(round)")
        let summaries = try store.list(tenant: CrashConsistencyTests.tenant)
        var present: [Int: Set<Int>] = [:]
        for s in summaries {
            let parts = s.name.dropFirst().split(separator: "-").compactMap { Int($0) }
            guard parts.count == 2 else { XCTFail("unexpected character \(s.name)"); continue }
            present[parts[0], default: []].insert(parts[1])
            // Complete: equal to what was added, every image readable with its digest.
            let (expected, images) = CrashConsistencyTests.character(round: parts[0], index: parts[1])
            let got = try store.character(named: s.name, tenant: s.tenant)
            XCTAssertEqual(got, expected, "round \(round): \(s.name) differs from what was added")
            XCTAssertEqual(s.referenceCount, expected.references.count)
            for ref in got.references { XCTAssertEqual(try store.image(sha256: ref.sha256), images[ref.sha256]) }
        }
        // In commit order: what is present is a prefix of the child's operations.
        for r in 0...round {
            let indices = present[r] ?? []
            guard let last = indices.max() else { XCTFail("round \(r): nothing committed"); continue }
            for j in 0...last {
                let removed = CrashConsistencyTests.isRemovedLater(j)
                if !removed || last < j + 2 {
                    XCTAssertTrue(indices.contains(j), "round \(r): r\(r)-\(j) missing though r\(r)-\(last) is present")
                } else if last > j + 2 {
                    XCTAssertFalse(indices.contains(j), "round \(r): r\(r)-\(j) present though it was removed before r\(r)-\(last) was added")
                }
            }
        }
        return summaries.count
    }
}
