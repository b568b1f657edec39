import XCTest
import Foundation

/// `studio gen --backend local --model FOLDER`: a Stable Diffusion folder through the same verification
/// loop and run folder. On the tiny random pipeline (`Tests/Fixtures/diffusion/tiny-pipeline`) no face
/// can appear, and the run says so.
final class DiffusionGenCLITests: XCTestCase {
    static let tinyPipeline = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/diffusion/tiny-pipeline").path

    func studio(_ args: [String], home: String) throws -> CLI.Result { try CLI.run(args, env: ["STUDIO_HOME": home]) }

    func testTinyRandomPipelineWritesARunFolderAndReportsNoFace() throws {
        let home = try freshStudioHome("sd", calibration: true)
        XCTAssertEqual(try studio(["character", "create", "ada", "--seed", "1"], home: home).status, 0)
        let out = home + "/runs/sd"
        let r = try studio(["gen", "--character", "ada", "--prompt", "a portrait photo", "--model", Self.tinyPipeline,
                            "--steps", "3", "--scheduler", "euler-a", "--size", "64x64", "--seed", "9", "--max-attempts", "2",
                            "--out", out, "--json"], home: home)
        XCTAssertEqual(r.status, 1, "a shot without a face fails: " + r.stdout + r.stderr)
        let text = try String(contentsOfFile: out + "/report.json", encoding: .utf8)
        let rep = try CLI.document(text, schema: "studio.run-report/1", dataMaps: CLI.reportDataMaps)
        XCTAssertEqual((rep["request"] as! [String: Any])["backend"] as? String, "local:tiny-pipeline")
        XCTAssertEqual((rep["request"] as! [String: Any])["identity_injection"] as? Bool, false)
        XCTAssertEqual((rep["calibration"] as! [String: Any])["threshold"] as? Double, 0.6, "outputs are judged as photographs")
        let attempts = ((rep["shots"] as! [[String: Any]])[0]["attempts"] as! [[String: Any]])
        XCTAssertEqual(attempts.count, 2)
        for a in attempts {
            XCTAssertEqual((a["judgement"] as! [String: Any])["verdict"] as? String, "no_face")
            XCTAssertTrue((a["messages"] as! [String]).contains { $0.hasPrefix("no identity injection") })
            XCTAssertEqual((a["notes"] as! [String: Double])["steps"], 3)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/contact-sheet.png"))
    }

    func testBadModelFoldersAndOptionsExit2() throws {
        let home = try freshStudioHome("sd-bad", calibration: true)
        XCTAssertEqual(try studio(["character", "create", "ada", "--seed", "1"], home: home).status, 0)
        let missing = try studio(["gen", "--character", "ada", "--model", home + "/no-such-model"], home: home)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("model_index.json: the model file is missing"), missing.stderr)
        for bad in [["--scheduler", "plms"], ["--size", "64"], ["--steps", "0"], ["--backend", "replicate-flux-pulid"]] {
            let r = try studio(["gen", "--character", "ada", "--model", Self.tinyPipeline] + bad, home: home)
            XCTAssertEqual(r.status, 2, "\(bad): " + r.stderr)
        }
        let size = try studio(["gen", "--character", "ada", "--model", Self.tinyPipeline, "--size", "72x64", "--max-attempts", "1"], home: home)
        XCTAssertEqual(size.status, 2)
        XCTAssertTrue(size.stderr.contains("this model needs multiples of 16"), size.stderr)
    }
}
