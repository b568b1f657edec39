import XCTest
import Foundation

/// `studio gen --backend local`: the verification loop end to end on the real generator and models.
final class GenCLITests: XCTestCase {
    /// A fresh STUDIO_HOME sharing the installed models and, when present, the generated-face calibration.
    func freshHome() throws -> String { try freshStudioHome("gen", calibration: true) }

    func studio(_ args: [String], home: String) throws -> CLI.Result { try CLI.run(args, env: ["STUDIO_HOME": home]) }

    func report(_ folder: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: folder + "/report.json", encoding: .utf8)
        return try CLI.document(text, schema: "studio.run-report/1", dataMaps: CLI.reportDataMaps)
    }

    func isPNG(_ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let d = FileManager.default.contents(atPath: path) ?? Data()
        XCTAssertGreaterThan(d.count, 100, path, file: file, line: line)
        XCTAssertEqual(Array(d.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], path, file: file, line: line)
    }

    func shots(_ r: [String: Any]) -> [[String: Any]] { r["shots"] as! [[String: Any]] }
    func attempts(_ shot: [String: Any]) -> [[String: Any]] { shot["attempts"] as! [[String: Any]] }
    func judgement(_ a: [String: Any]) -> [String: Any] { a["judgement"] as! [String: Any] }

    func testFictionalCharacterPassesAndTheRunFolderIsComplete() throws {
        let home = try freshHome()
        XCTAssertEqual(try studio(["character", "create", "ada", "--seed", "1"], home: home).status, 0)
        let out = home + "/runs/first"
        let r = try studio(["gen", "--backend", "local", "--character", "ada", "--prompt", "head turned left, warmer tones, in a red hat",
                            "--negative", "blurry", "--count", "2", "--seed", "5", "--out", out, "--json"], home: home)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let top = try CLI.document(r.stdout, schema: "studio.gen/1", dataMaps: CLI.reportDataMaps)
        XCTAssertEqual(top["run"] as? String, out)
        for f in ["shot-01.png", "shot-02.png", "attempts/shot-01-attempt-1.png", "contact-sheet.png", "scores.png"] { isPNG(out + "/" + f) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial"), "the partial folder was renamed into place")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/frames.png"), "no video, no frame plot")

        let rep = try report(out)
        let summary = rep["summary"] as! [String: Any]
        XCTAssertEqual(summary["all_passed"] as? Bool, true)
        XCTAssertEqual(summary["passed"] as? Int, 2)
        let cal = rep["calibration"] as! [String: Any]
        XCTAssertGreaterThanOrEqual(cal["pairs"] as! Int, 1000)
        let threshold = cal["threshold"] as! Double
        XCTAssertLessThan(threshold, 0.6)
        XCTAssertEqual((rep["ladder"] as! [[String: Any]])[0]["identity_strength"] as? Double, 0.75)
        XCTAssertEqual((rep["character"] as! [String: Any])["origin"] as? String, "generated")
        for shot in shots(rep) {
            XCTAssertEqual(shot["status"] as? String, "passed")
            let last = attempts(shot).last!
            let j = judgement(last)
            XCTAssertEqual(j["verdict"] as? String, "pass")
            XCTAssertLessThan(j["distance"] as! Double, threshold)
            XCTAssertNotNil((j["selection"] as? [String: Any])?["anchored"], "a created character is searched near its anchor")
            XCTAssertTrue((last["negative_prompt"] as! String).hasPrefix("blurry"))
            let messages = last["messages"] as! [String]
            XCTAssertTrue(messages.contains { $0.contains("ignored") && $0.contains("\"red\"") && $0.contains("\"hat\"") }, "\(messages)")
            XCTAssertTrue(messages.contains { $0.contains("head turned left") && $0.contains("yaw") }, "\(messages)")
            let notes = last["notes"] as! [String: Double]
            XCTAssertLessThan(notes["projection.yaw"]!, 0, "turned left: towards negative yaw")
            XCTAssertGreaterThan(notes["projection.warmth"]!, 0)
        }

        // Seeded: the same request gives the same distances.
        let again = home + "/runs/again"
        XCTAssertEqual(try studio(["gen", "--character", "ada", "--prompt", "head turned left, warmer tones, in a red hat", "--negative", "blurry",
                                   "--count", "2", "--seed", "5", "--out", again], home: home).status, 0)
        let d1 = shots(rep).map { attempts($0).map { judgement($0)["distance"] as! Double } }
        let d2 = shots(try report(again)).map { attempts($0).map { judgement($0)["distance"] as! Double } }
        XCTAssertEqual(d1, d2)
        XCTAssertEqual(FileManager.default.contents(atPath: out + "/shot-01.png"), FileManager.default.contents(atPath: again + "/shot-01.png"))
    }

    /// Without identity injection the first draw is a stranger that also drifts in measurable attributes;
    /// the retry targets exactly those modes, with their suppressors in its negatives.
    func testFirstAttemptDriftIsRetriedWithItsSuppressors() throws {
        let home = try freshHome()
        XCTAssertEqual(try studio(["character", "create", "ada", "--seed", "1"], home: home).status, 0)
        let out = home + "/runs/drift"
        let r = try studio(["gen", "--character", "ada", "--prompt", "portrait", "--seed", "3", "--max-attempts", "2",
                            "--no-identity-injection", "--out", out], home: home)
        XCTAssertEqual(r.status, 1, "a stranger is not the character: " + r.stdout)
        let a = attempts(shots(try report(out))[0])
        XCTAssertEqual(a.count, 2)
        let diagnosed = (judgement(a[0])["findings"] as! [[String: Any]]).map { $0["mode_id"] as! String }
        let attributeModes = diagnosed.filter { $0 != "identity_drift" }
        XCTAssertFalse(attributeModes.isEmpty, "attempt 1 drifts in a measurable attribute: \(diagnosed)")
        XCTAssertEqual(a[0]["targeted_modes"] as? [String], [])
        let targeted = a[1]["targeted_modes"] as! [String]
        XCTAssertEqual(Set(targeted), Set(diagnosed), "attempt 2 targets what attempt 1 showed")
        let suppressors = a[1]["targeted_suppressors"] as! [String: [String]]
        let negative = a[1]["negative_prompt"] as! String
        for mode in attributeModes {
            let fragments = try XCTUnwrap(suppressors[mode], "\(mode) has a suppressor in the retry")
            XCTAssertFalse(fragments.isEmpty)
            for f in fragments { XCTAssertTrue(negative.contains(f), "\(f) in \(negative)") }
        }
        let s1 = a[0]["strictness"] as! [String: Any], s2 = a[1]["strictness"] as! [String: Any]
        XCTAssertGreaterThan(s2["identity_strength"] as! Double, s1["identity_strength"] as! Double)
        XCTAssertTrue(r.stderr.contains("targeting"), "attempt lines are status, on stderr: \(r.stderr)")

        // Every measured mode has a level, and the modes above 1 are exactly the diagnosed ones; the
        // drift plot exists and the report names it.
        for attempt in a {
            let j = judgement(attempt)
            let levels = try XCTUnwrap(j["drift_levels"] as? [String: Double])
            XCTAssertGreaterThan(levels.count, 8, "levels for the measured modes, drifting or not: \(levels)")
            let found = Set((j["findings"] as! [[String: Any]]).map { $0["mode_id"] as! String })
            XCTAssertEqual(Set(levels.filter { $0.value > 1 }.keys), found, "levels above 1 are the findings")
        }
        XCTAssertEqual(try report(out)["drift_plot"] as? String, "drift.png")
        isPNG(out + "/drift.png")
    }

    /// A real-photo character: the generator has no latent for it, so the backend searches the whole latent
    /// space and the output must beat the lookalike threshold; it cannot, and says so with the best distance.
    func testRealPhotoCharacterIsNotReachedAndSaysSo() throws {
        let home = try freshHome()
        let add = try studio(["character", "add", "obama", "--ref", try CLI.photo("obama.jpg"), "--ref", try CLI.photo("obama2.jpg")], home: home)
        XCTAssertEqual(add.status, 0, add.stderr)
        let out = home + "/runs/obama"
        let r = try studio(["gen", "--character", "obama", "--prompt", "portrait", "--seed", "1", "--max-attempts", "1", "--out", out], home: home)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let shot = shots(try report(out))[0]
        XCTAssertEqual(shot["status"] as? String, "failed")
        let best = try XCTUnwrap(shot["best_distance"] as? Double)
        let j = judgement(attempts(shot)[0])
        let used = j["threshold"] as! Double
        XCTAssertNotNil((j["selection"] as? [String: Any])?["unanchored"])
        XCTAssertLessThan(used, 0.5, "a whole-space search is judged against the lookalike threshold")
        XCTAssertGreaterThan(best, used, "no false pass")
        let summary = shot["summary"] as! String
        XCTAssertTrue(summary.contains("best distance") && summary.contains("did not reach"), summary)
        XCTAssertTrue(r.stdout.contains("best distance"), r.stdout)
    }

    /// `bench gen` reports where attempt time goes: the backend's generate (the latent search) and the
    /// final verification of each output, with the verification's share.
    func testBenchGenReportsTheVerificationShare() throws {
        let home = try freshHome()
        let r = try studio(["bench", "gen", "--characters", "1", "--prompts", "1", "--no-ablation", "--json"], home: home)
        XCTAssertEqual(r.status, 0, r.stderr)
        let top = try CLI.document(r.stdout, schema: "studio.bench-gen/1")
        let arm = try XCTUnwrap((top["arms"] as? [[String: Any]])?.first)
        let g = try XCTUnwrap(arm["generate_seconds"] as? Double), v = try XCTUnwrap(arm["verify_seconds"] as? Double)
        XCTAssertGreaterThan(g, 0); XCTAssertGreaterThan(v, 0)
        XCTAssertEqual(try XCTUnwrap(arm["verification_share"] as? Double), v / (g + v), accuracy: 1e-9)
    }

    func testBadInputExits2() throws {
        let home = try freshHome()
        XCTAssertEqual(try studio(["character", "create", "ada", "--seed", "1"], home: home).status, 0)
        let unknown = try studio(["gen", "--character", "nobody"], home: home)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("nobody"), unknown.stderr)
        let backend = try studio(["gen", "--backend", "no-such-backend", "--character", "ada"], home: home)
        XCTAssertEqual(backend.status, 2)
        XCTAssertTrue(backend.stderr.contains("no-such-backend"), backend.stderr)
        // A real adapter without its credential: said plainly, exit 2, and no run folder is started.
        let adapter = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--out", home + "/runs/nocred"],
                                  env: ["STUDIO_HOME": home, "REPLICATE_API_TOKEN": "", "STUDIO_EMULATOR": ""])
        XCTAssertEqual(adapter.status, 2)
        XCTAssertTrue(adapter.stderr.contains("REPLICATE_API_TOKEN"), adapter.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/runs/nocred.partial"))
        let taken = home + "/taken"
        try FileManager.default.createDirectory(atPath: taken, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: taken + "/mine.txt"))
        let exists = try studio(["gen", "--character", "ada", "--out", taken], home: home)
        XCTAssertEqual(exists.status, 2)
        XCTAssertTrue(exists.stderr.contains("already exists"), exists.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: taken), ["mine.txt"], "an existing folder is left alone")
        // Usage errors the argument parser catches are bad input too (2, not its 64), with its message.
        for args in [["gen", "--character", "ada", "--count", "0"], ["gen", "--prompt", "x"], ["faces", "--upsample", "9", "x.jpg"],
                     ["character", "add", "", "--ref", "a.jpg"], ["gen", "--no-such-flag"]] {
            let r = try studio(args, home: home)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args): says why")
        }
        let help = try studio(["gen", "--help"], home: home)
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--max-jobs"), help.stdout)
        let vocab = try studio(["gen", "--vocabulary"], home: home)
        XCTAssertEqual(vocab.status, 0)
        XCTAssertTrue(vocab.stdout.contains("yaw") && vocab.stdout.contains("ignored"), vocab.stdout)
    }
}
