import XCTest
import Foundation

/// `studio character create NAME --seed N`: fictional characters from the local generator, end to end.
final class CharacterCreateCLITests: XCTestCase {
    func freshHome() throws -> String { try freshStudioHome("create") }

    func studio(_ args: [String], home: String) throws -> CLI.Result {
        try CLI.run(args, env: ["STUDIO_HOME": home])
    }

    func json(_ r: CLI.Result, schema: String = "studio.character/1") throws -> [String: Any] {
        try CLI.document(r.stdout, schema: schema, dataMaps: ["metadata"])
    }

    func identity(_ rec: [String: Any]) -> [Double] { (rec["identity"] as! [String: Any])["values"] as! [Double] }

    func testCreateStoresKPassingReferencesAndShowsItsOrigin() throws {
        let home = try freshHome()
        let r = try studio(["character", "create", "ada", "--seed", "1", "--references", "4", "--json"], home: home)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rec = try json(r)
        let refs = rec["references"] as! [[String: Any]]
        XCTAssertEqual(refs.count, 4)
        for ref in refs {
            XCTAssertEqual(ref["width"] as? Int, 256)
            let checks = (ref["quality"] as! [String: Any])["checks"] as! [[String: Any]]
            XCTAssertEqual(Set(checks.map { $0["name"] as! String }),
                           ["resolution", "face_count", "face_size", "sharpness", "lighting", "exposure", "frontality", "roll"])
            for c in checks { XCTAssertNotEqual(c["verdict"] as? String, "fail", "\(ref["file_name"] ?? "") \(c)") }
        }
        let meta = rec["metadata"] as! [String: String]
        XCTAssertEqual(meta["origin"], "generated")
        XCTAssertEqual(meta["generator"], "gan-face-generate-1.1.1")
        XCTAssertEqual(meta["seed"], "1")
        XCTAssertEqual(meta["references_rendered"], "4")
        XCTAssertNotNil((rec["attributes"] as! [String: Any])["items"])

        // Stored as created; `show` prints the origin and the seed.
        let shown = try studio(["character", "show", "ada", "--json"], home: home)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(try json(shown)["identity"] as? [String: [Double]], rec["identity"] as? [String: [Double]])
        let text = try studio(["character", "show", "ada"], home: home)
        XCTAssertTrue(text.stdout.contains("origin: generated") && text.stdout.contains("seed: 1"), text.stdout)
        XCTAssertTrue(text.stdout.contains("reference 4: seed-1"), text.stdout)

        // The text form of create lists references, verdicts, attributes and the licence.
        let t = try studio(["character", "create", "bea", "--seed", "2"], home: home)
        XCTAssertEqual(t.status, 0, t.stderr)
        for needle in ["created bea", "reference 3", "attributes: ", "variations:", "non-commercial"] {
            XCTAssertTrue(t.stdout.contains(needle), "\(needle) in \(t.stdout)")
        }
        // At a glance: one line per reference with what did not pass spelled out, attributes on one line;
        // each check's measurement only with --verbose.
        let refLines = t.stdout.split(separator: "\n").filter { $0.hasPrefix("  reference ") }
        XCTAssertEqual(refLines.count, 3, t.stdout)
        for l in refLines { XCTAssertTrue(l.contains("checks pass") || l.contains("the other"), String(l)) }
        XCTAssertFalse(t.stdout.contains("pass  frontality"), t.stdout)
        XCTAssertLessThan(t.stdout.split(separator: "\n").count, 14, t.stdout)
        let v = try studio(["character", "show", "bea", "--verbose"], home: home)
        XCTAssertTrue(v.stdout.contains("pass  frontality") && v.stdout.contains("measured in"), v.stdout)
    }

    func testSameSeedGivesTheSameIdentityInAnotherHome() throws {
        let a = try studio(["character", "create", "one", "--seed", "11", "--json"], home: try freshHome())
        let b = try studio(["character", "create", "two", "--seed", "11", "--json"], home: try freshHome())
        XCTAssertEqual(a.status, 0, a.stderr); XCTAssertEqual(b.status, 0, b.stderr)
        let ra = try json(a), rb = try json(b)
        XCTAssertEqual(identity(ra), identity(rb))
        XCTAssertEqual((ra["references"] as! [[String: Any]]).map { $0["sha256"] as! String },
                       (rb["references"] as! [[String: Any]]).map { $0["sha256"] as! String }, "byte-identical renders")
        XCTAssertNotEqual(ra["id"] as? String, rb["id"] as? String)
    }

    func testDifferentSeedsAreFartherThanTheThreshold() throws {
        let home = try freshHome()
        var ids: [[Double]] = []
        for seed in [1, 2, 4, 6] {
            let r = try studio(["character", "create", "c\(seed)", "--seed", "\(seed)", "--json"], home: home)
            XCTAssertEqual(r.status, 0, r.stderr)
            ids.append(identity(try json(r)))
        }
        for i in 0..<ids.count { for j in (i + 1)..<ids.count {
            let d = zip(ids[i], ids[j]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            XCTAssertGreaterThan(d, 0.508, "seeds \([1, 2, 4, 6][i]) and \([1, 2, 4, 6][j])")
        }}
        let list = try studio(["character", "list", "--json"], home: home)
        XCTAssertEqual((try CLI.document(list.stdout, schema: "studio.character-list/1")["characters"] as? [Any])?.count, 4)
    }

    func testRefusedSeedsAndNamesExit2() throws {
        let home = try freshHome()
        let noFace = try studio(["character", "create", "x", "--seed", "5"], home: home)
        XCTAssertEqual(noFace.status, 2)
        XCTAssertTrue(noFace.stderr.contains("seed 5") && noFace.stderr.contains("no detectable face")
                      && noFace.stderr.contains("--seed 6 passes the gate"), noFace.stderr)
        let turned = try studio(["character", "create", "x", "--seed", "8"], home: home)
        XCTAssertEqual(turned.status, 2)
        XCTAssertTrue(turned.stderr.contains("frontality") && turned.stderr.contains("another seed"), turned.stderr)
        XCTAssertEqual(try studio(["character", "list", "--json"], home: home).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       #"{"characters":[],"schema":"studio.character-list/1"}"#,
                       "nothing is stored for a refused seed")
        XCTAssertEqual(try studio(["character", "create", "x", "--seed", "1"], home: home).status, 0)
        let dup = try studio(["character", "create", "x", "--seed", "2"], home: home)
        XCTAssertEqual(dup.status, 2); XCTAssertTrue(dup.stderr.contains("already exists"), dup.stderr)
        let many = try studio(["character", "create", "y", "--seed", "2", "--references", "17"], home: home)
        XCTAssertEqual(many.status, 2); XCTAssertTrue(many.stderr.contains("--references"), many.stderr)
    }

    func testBenchGeneratedQualityReportsTheDistribution() throws {
        let r = try studio(["bench", "generated-quality", "--seeds", "10", "--variation-scale", "0.2", "--variation-seeds", "2",
                            "--per-seed", "2", "--json"], home: try freshHome())
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try json(r, schema: "studio.bench-generated-quality/1")
        XCTAssertEqual(o["seeds"] as? Int, 10)
        XCTAssertEqual(o["with_face"] as? Int, 9, "seed 5 has no face")
        XCTAssertEqual(o["failing_seeds"] as? [Int], [5, 8])
        let dist = o["distribution"] as! [String: [String: Double]]
        XCTAssertEqual(dist["resolution"]?["min"], 256)
        XCTAssertEqual(Set(dist.keys), ["resolution", "face_count", "face_size", "sharpness", "lighting", "exposure", "frontality", "roll"])
        XCTAssertEqual((o["samples"] as! [Any]).count, 10)
        let v = (o["variations"] as! [[String: Any]]).first
        XCTAssertEqual(v?["variations"] as? Int, 4)
    }
}
