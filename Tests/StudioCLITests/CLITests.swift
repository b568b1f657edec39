import XCTest
import Foundation

/// End-to-end tests of the `studio` executable: output contracts, exit statuses, bad input.
final class CLITests: XCTestCase {
    func run(_ args: [String], env: [String: String] = [:]) throws -> CLI.Result { try CLI.run(args, env: env) }
    func photo(_ name: String) throws -> String { try CLI.photo(name) }
    var binary: String { CLI.binary }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("studio-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    func testVersionNamesTheCommitTheABIAndTheModels() throws {
        let v = try run(["--version"])
        XCTAssertEqual(v.status, 0, v.stderr)
        let lines = v.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, v.stdout)
        let first = try XCTUnwrap(lines.first)
        XCTAssertTrue(first.hasPrefix("studio "), first)
        // Built from this checkout: the commit git names, 12 hex digits.
        let commit = try XCTUnwrap(first.range(of: #"commit [0-9a-f]{12}"#, options: .regularExpression), "the commit is named: \(first)")
        XCTAssertEqual(first[commit].count, 19)
        XCTAssertEqual(lines[1], "adapter ABI 1")
        XCTAssertTrue(lines[2].hasPrefix("models: all 4 in "), lines[2])
        let empty = try tempDir()
        let bare = try run(["--version"], env: ["STUDIO_HOME": empty.path])
        XCTAssertEqual(bare.status, 0)
        XCTAssertTrue(bare.stdout.contains("models: 0 of 4") && bare.stdout.contains("missing mmod_human_face_detector.dat"), bare.stdout)
    }

    func testFacesJSONLineContract() throws {
        let img = try photo("obama.jpg")
        let r = try run(["faces", "--json", "--upsample", "0", img])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("{\"schema\":\"studio.faces/1\",\"image\":\"\(img)\",\"width\":910,\"height\":1137,"
                                          + "\"detection\":{\"width\":910,\"height\":1137,\"upsample\":0,\"scale\":1.0,\"limit\":\"none\"},\"faces\":[{\"box\":["),
                      String(lines[0].prefix(200)))
        let obj = try CLI.document(lines[0], schema: "studio.faces/1")
        let faces = obj["faces"] as! [[String: Any]]
        XCTAssertEqual(faces.count, 1)
        XCTAssertEqual((faces[0]["box"] as! [Int]), [375, 154, 611, 390])   // dlib's box for this photo
        XCTAssertEqual((faces[0]["landmarks"] as! [[Int]]).count, 5)
        XCTAssertEqual((faces[0]["descriptor"] as! [Double]).count, 128)
        XCTAssertGreaterThan(faces[0]["confidence"] as! Double, 0)
    }

    func testCompareVerdictsAndExitStatus() throws {
        let same = try run(["compare", "--json", "--upsample", "0", try photo("obama.jpg"), try photo("obama2.jpg")])
        XCTAssertEqual(same.status, 0, same.stderr)
        let s = try CLI.document(same.stdout, schema: "studio.compare/1")
        XCTAssertEqual(s["same_person"] as? Bool, true)
        XCTAssertLessThan(s["distance"] as! Double, 0.6)

        let diff = try run(["compare", "--upsample", "0", try photo("obama.jpg"), try photo("biden.jpg")])
        XCTAssertEqual(diff.status, 1, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("different people"), diff.stdout)
    }

    func testCorruptImageIsAClearErrorWithStatus2() throws {
        let d = try tempDir()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try photo("obama.jpg")))
        let truncated = d.appendingPathComponent("cut.jpg"); try bytes.prefix(bytes.count / 3).write(to: truncated)
        let text = d.appendingPathComponent("notes.png"); try Data("hello".utf8).write(to: text)
        for f in [truncated.path, text.path, d.appendingPathComponent("missing.jpg").path] {
            let r = try run(["faces", "--upsample", "0", f])
            XCTAssertEqual(r.status, 2, "\(f): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains((f as NSString).lastPathComponent), r.stderr)
        }
    }

    func testNoFaceIsStatus2ForCompare() throws {
        let d = try tempDir()
        // A flat grey PNG has no face.
        let grey = d.appendingPathComponent("grey.png")
        let r0 = try run(["faces", "--json", "--upsample", "0", try photo("obama.jpg")])
        XCTAssertEqual(r0.status, 0)
        try CLI.flatPNG(width: 64, height: 64).write(to: grey)
        let r = try run(["compare", "--upsample", "0", grey.path, try photo("obama.jpg")])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("no face"), r.stderr)
    }

    /// The photo calibration on johns, with its distributions drawn: a PNG whose two curves and the
    /// threshold line are in their colours.
    func testCalibrationPlotIsWritten() throws {
        let dir = try tempDir()
        let png = dir.appendingPathComponent("calibration.png").path
        let r = try run(["bench", "calibrate", "--plot", png, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "--json stays one JSON object")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertGreaterThan(bytes.count, 5_000, "a drawn plot, not an empty image")
    }

    func testModelsReportAndMissingOrTruncatedModels() throws {
        let ok = try run(["models", "--json"])
        XCTAssertEqual(ok.status, 0, ok.stdout)
        let rows = try XCTUnwrap(try CLI.document(ok.stdout, schema: "studio.models/1")["models"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["status"] as! String }, ["ok", "ok", "ok", "ok"])
        XCTAssertTrue((rows.last?["licence"] as? String ?? "").contains("non-commercial"), "the generator's licence is stated")

        let empty = try tempDir()
        let missing = try run(["faces", "--upsample", "0", try photo("obama.jpg")], env: ["STUDIO_HOME": empty.path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("setup"), missing.stderr)
        XCTAssertTrue(missing.stderr.contains("is missing") && !missing.stderr.contains("not a valid dlib model"), "a missing model is called missing: \(missing.stderr)")
        let m = try run(["models"], env: ["STUDIO_HOME": empty.path])
        XCTAssertEqual(m.status, 1)
        XCTAssertTrue(m.stdout.contains("missing"))

        // A truncated detector: clear error naming the file, status 2, and `models` flags the checksum.
        let home = try tempDir()
        let models = home.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for f in ["dlib_face_recognition_resnet_model_v1.dat", "mmod_human_face_detector.dat", "shape_predictor_5_face_landmarks.dat"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: CLI.home + "/models/" + f))
            try (f.hasPrefix("mmod") ? data.prefix(data.count / 2) : data).write(to: models.appendingPathComponent(f))
        }
        let bad = try run(["faces", "--upsample", "0", try photo("obama.jpg")], env: ["STUDIO_HOME": home.path])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("mmod_human_face_detector.dat"), bad.stderr)
        let mm = try run(["models"], env: ["STUDIO_HOME": home.path])
        XCTAssertEqual(mm.status, 1)
        XCTAssertTrue(mm.stdout.contains("checksum mismatch"))
    }
}
