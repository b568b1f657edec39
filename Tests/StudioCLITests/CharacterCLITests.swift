import XCTest
import Foundation

/// End-to-end tests of characters on real photos: each test has its own STUDIO_HOME (models linked
/// from the installed ones), so stores never mix.
final class CharacterCLITests: XCTestCase {
    func freshHome() throws -> String { try freshStudioHome("char") }

    func studio(_ args: [String], home: String, env: [String: String] = [:]) throws -> CLI.Result {
        var e = env; e["STUDIO_HOME"] = home
        return try CLI.run(args, env: e)
    }

    func photo(_ n: String) throws -> String { try CLI.photo(n) }

    func johns(_ person: String, _ k: Int) throws -> String {
        let dir = CLI.home + "/testdata/johns/" + person
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        return dir + "/" + files[k]
    }

    func testAddShowVerifySearchExportImportRemove() throws {
        let home = try freshHome()
        let add = try studio(["character", "add", "obama", "--ref", try photo("obama.jpg"), "--ref", try photo("obama2.jpg"), "--json"], home: home)
        XCTAssertEqual(add.status, 0, add.stderr)
        let rec = try CLI.document(add.stdout, schema: "studio.character/1", dataMaps: ["metadata"])
        XCTAssertEqual((rec["references"] as! [Any]).count, 2)
        let attrs = (rec["attributes"] as! [String: Any])["items"] as! [String: Any]
        for k in ["eye_colour", "skin_tone", "hair_colour", "face_width_height_ratio", "eye_spacing_ratio"] {
            XCTAssertNotNil(attrs[k], "attribute \(k)")
            XCTAssertFalse(((attrs[k] as! [String: Any])["region"] as! String).isEmpty, "\(k) records its region")
        }
        let checks = ((rec["references"] as! [[String: Any]])[0]["quality"] as! [String: Any])["checks"] as! [[String: Any]]
        let texture = ((rec["references"] as! [[String: Any]])[0]["measures"] as? [String: Double])?["cheek_texture"]
        XCTAssertGreaterThan(texture ?? -1, 0, "the reference's cheek texture is kept for the plastic-skin detector")
        XCTAssertEqual(Set(checks.map { $0["name"] as! String }).isSuperset(of: ["resolution", "face_count", "face_size", "sharpness", "lighting", "frontality"]), true)

        let show = try studio(["character", "show", "obama"], home: home)
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("reference 2"), show.stdout)

        // Same person passes (a third photo), a different person fails; the sheet is written.
        let sheet = home + "/sheet.png"
        let ok = try studio(["verify", "--character", "obama", "--upsample", "0", "--sheet", sheet, try photo("obama3.jpg")], home: home)
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: sheet))
        let bad = try studio(["verify", "--character", "obama", "--upsample", "0", "--json", try photo("biden.jpg")], home: home)
        XCTAssertEqual(bad.status, 1, bad.stderr)
        let v = try CLI.document(bad.stdout, schema: "studio.verify/1")
        XCTAssertEqual(v["all_pass"] as? Bool, false)

        // Search finds obama first for an obama photo.
        _ = try studio(["character", "add", "biden", "--ref", try photo("biden.jpg")], home: home)
        let search = try studio(["character", "search", try photo("obama3.jpg"), "--json"], home: home)
        XCTAssertEqual(search.status, 0, search.stderr)
        let hits = try XCTUnwrap(try CLI.document(search.stdout, schema: "studio.character-search/1")["matches"] as? [[String: Any]])
        XCTAssertEqual(hits.first?["name"] as? String, "obama")

        // Export, remove, import: the same record comes back.
        let file = home + "/obama.studio"
        XCTAssertEqual(try studio(["character", "export", "obama", file], home: home).status, 0)
        let before = try studio(["character", "show", "obama", "--json"], home: home).stdout
        XCTAssertEqual(try studio(["character", "rm", "obama"], home: home).status, 0)
        XCTAssertEqual(try studio(["character", "show", "obama"], home: home).status, 2)
        let imp = try studio(["character", "import", file], home: home)
        XCTAssertEqual(imp.status, 0, imp.stderr)
        XCTAssertEqual(try studio(["character", "show", "obama", "--json"], home: home).stdout, before)
    }

    func testMixedIdentityReferencesAreRefused() throws {
        let home = try freshHome()
        let r = try studio(["character", "add", "mixed", "--ref", try photo("obama.jpg"), "--ref", try photo("obama2.jpg"),
                            "--ref", try photo("biden.jpg")], home: home)
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("biden.jpg") && r.stderr.contains("different person"), r.stderr)
        XCTAssertEqual(try studio(["character", "list", "--json"], home: home).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       #"{"characters":[],"schema":"studio.character-list/1"}"#)
    }

    func testJohnsChipsWithLowQualityAllowed() throws {
        let home = try freshHome()
        let refused = try studio(["character", "add", "salley", "--ref", try johns("John_Salley", 0)], home: home)
        XCTAssertEqual(refused.status, 2, "a 150x150 chip fails the resolution check")
        XCTAssertTrue(refused.stderr.contains("resolution"), refused.stderr)
        let add = try studio(["character", "add", "salley", "--allow-low-quality", "--upsample", "1",
                              "--ref", try johns("John_Salley", 0), "--ref", try johns("John_Salley", 1), "--ref", try johns("John_Salley", 2)], home: home)
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertEqual(try studio(["verify", "--character", "salley", try johns("John_Salley", 5)], home: home).status, 0)
        XCTAssertEqual(try studio(["verify", "--character", "salley", try johns("John_Simm", 5)], home: home).status, 1)
    }

    func testBadInputEverywhereIsStatus2() throws {
        let home = try freshHome()
        XCTAssertEqual(try studio(["character", "add", "o", "--ref", try photo("obama.jpg")], home: home).status, 0)
        let dup = try studio(["character", "add", "o", "--ref", try photo("obama2.jpg")], home: home)
        XCTAssertEqual(dup.status, 2); XCTAssertTrue(dup.stderr.contains("already"), dup.stderr)
        let unknown = try studio(["verify", "--character", "nobody", try photo("obama.jpg")], home: home)
        XCTAssertEqual(unknown.status, 2); XCTAssertTrue(unknown.stderr.contains("nobody"), unknown.stderr)
        let grey = home + "/grey.png"
        try CLI.flatPNG(width: 600, height: 600).write(to: URL(fileURLWithPath: grey))
        let noFace = try studio(["character", "add", "g", "--ref", grey], home: home)
        XCTAssertEqual(noFace.status, 2); XCTAssertTrue(noFace.stderr.contains("no face"), noFace.stderr)
        let corrupt = home + "/cut.jpg"
        try Data(try Data(contentsOf: URL(fileURLWithPath: try photo("obama.jpg"))).prefix(5000)).write(to: URL(fileURLWithPath: corrupt))
        XCTAssertEqual(try studio(["character", "add", "c", "--ref", corrupt], home: home).status, 2)

        // A wrong key: clear error, and the store still works with the right key afterwards.
        let wrong = try studio(["character", "show", "o"], home: home, env: ["STUDIO_KEY_DEFAULT": String(repeating: "7", count: 64)])
        XCTAssertEqual(wrong.status, 2); XCTAssertTrue(wrong.stderr.contains("key"), wrong.stderr)
        XCTAssertEqual(try studio(["character", "show", "o"], home: home).status, 0)

        // A corrupt store file.
        let db = home + "/studio.sqlite"
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: URL(fileURLWithPath: db))
        let c = try studio(["character", "list"], home: home)
        XCTAssertEqual(c.status, 2); XCTAssertTrue(c.stderr.contains("studio.sqlite"), c.stderr)
    }

    func testStoreFileHoldsNoPlaintextEmbeddings() throws {
        let home = try freshHome()
        let add = try studio(["character", "add", "o", "--ref", try photo("obama.jpg"), "--ref", try photo("obama2.jpg"), "--json"], home: home)
        XCTAssertEqual(add.status, 0, add.stderr)
        let rec = try JSONSerialization.jsonObject(with: Data(add.stdout.utf8)) as! [String: Any]
        var vectors: [[Double]] = [((rec["identity"] as! [String: Any])["values"] as! [Double])]
        for r in rec["references"] as! [[String: Any]] {
            vectors.append(((r["face"] as! [String: Any])["descriptor"] as! [String: Any])["values"] as! [Double])
        }
        var bytes = [UInt8]()
        for f in ["studio.sqlite", "studio.sqlite-wal", "studio.sqlite-shm"] {
            if let d = FileManager.default.contents(atPath: home + "/" + f) { bytes += [UInt8](d) }
        }
        XCTAssertGreaterThan(bytes.count, 0)
        let haystack = Data(bytes)
        for v in vectors {
            for start in stride(from: 0, to: 124, by: 16) {
                var needle = [UInt8]()
                for k in start..<(start + 4) { withUnsafeBytes(of: Float(v[k]).bitPattern.littleEndian) { needle += $0 } }
                XCTAssertNil(haystack.range(of: Data(needle)), "float bytes of component \(start) found in the store")
                let text = "\(Float(v[start]))"
                XCTAssertNil(haystack.range(of: Data(text.utf8)), "decimal \(text) found in the store")
            }
        }
    }

    func testKillDuringAddLeavesCharacterWholeOrAbsent() throws {
        let home = try freshHome()
        let refs = [try photo("obama.jpg"), try photo("obama2.jpg"), try photo("obama3.jpg")]
        var outcomes: [String] = []
        for (k, delay) in [0.15, 0.5, 0.9, 1.3, 1.8, 2.4, 3.2].enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["character", "add", "k\(k)"] + refs.flatMap { ["--ref", $0] }
            var env = ProcessInfo.processInfo.environment; env["STUDIO_HOME"] = home
            p.environment = env
            p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            let killed = p.terminationReason == .uncaughtSignal
            let show = try studio(["character", "show", "k\(k)", "--json"], home: home)
            if show.status == 0 {
                let rec = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as! [String: Any]
                XCTAssertEqual((rec["references"] as! [Any]).count, 3, "k\(k) present but incomplete")
                outcomes.append(killed ? "killed-after-commit" : "completed")
            } else {
                XCTAssertEqual(show.status, 2, show.stderr)
                XCTAssertTrue(show.stderr.contains("k\(k)"), show.stderr)
                outcomes.append("absent")
            }
            // The store stays usable.
            XCTAssertEqual(try studio(["character", "list"], home: home).status, 0)
        }
        XCTAssertTrue(outcomes.contains("absent"), "at least one kill should land before the commit: \(outcomes)")
        print("kill during add: \(outcomes)")
    }
}
