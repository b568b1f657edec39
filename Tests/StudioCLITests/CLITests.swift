import XCTest
import Foundation

/// End-to-end tests of the `studio` executable: output contracts, exit statuses, bad input.
final class CLITests: XCTestCase {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static let home = ProcessInfo.processInfo.environment["STUDIO_HOME"]
        ?? (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.studio"

    /// The built `studio` binary sits beside the test bundle.
    var binary: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("studio").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("studio").path
    }

    func run(_ args: [String], env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "studio \(args) must exit, not die from a signal")
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: r, as: UTF8.self))
    }

    func photo(_ name: String) throws -> String {
        let p = Self.home + "/testdata/face_recognition/" + name
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) missing: run scripts/setup.sh"); throw XCTSkip("no test data")
        }
        return p
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("studio-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    func testFacesJSONLineContract() throws {
        let img = try photo("obama.jpg")
        let r = try run(["faces", "--json", "--upsample", "0", img])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("{\"image\":\"\(img)\",\"width\":910,\"height\":1137,\"faces\":[{\"box\":["), String(lines[0].prefix(120)))
        let obj = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
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
        let s = try JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as! [String: Any]
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
        try Self.flatPNG(width: 64, height: 64).write(to: grey)
        let r = try run(["compare", "--upsample", "0", grey.path, try photo("obama.jpg")])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("no face"), r.stderr)
    }

    func testModelsReportAndMissingOrTruncatedModels() throws {
        let ok = try run(["models", "--json"])
        XCTAssertEqual(ok.status, 0, ok.stdout)
        let rows = try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["status"] as! String }, ["ok", "ok", "ok"])

        let empty = try tempDir()
        let missing = try run(["faces", "--upsample", "0", try photo("obama.jpg")], env: ["STUDIO_HOME": empty.path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("setup"), missing.stderr)
        let m = try run(["models"], env: ["STUDIO_HOME": empty.path])
        XCTAssertEqual(m.status, 1)
        XCTAssertTrue(m.stdout.contains("missing"))

        // A truncated detector: clear error naming the file, status 2, and `models` flags the checksum.
        let home = try tempDir()
        let models = home.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for f in ["dlib_face_recognition_resnet_model_v1.dat", "mmod_human_face_detector.dat", "shape_predictor_5_face_landmarks.dat"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: Self.home + "/models/" + f))
            try (f.hasPrefix("mmod") ? data.prefix(data.count / 2) : data).write(to: models.appendingPathComponent(f))
        }
        let bad = try run(["faces", "--upsample", "0", try photo("obama.jpg")], env: ["STUDIO_HOME": home.path])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("mmod_human_face_detector.dat"), bad.stderr)
        let mm = try run(["models"], env: ["STUDIO_HOME": home.path])
        XCTAssertEqual(mm.status, 1)
        XCTAssertTrue(mm.stdout.contains("checksum mismatch"))
    }

    /// A minimal valid greyscale PNG (stored zlib blocks), written by hand to keep the test independent.
    static func flatPNG(width: Int, height: Int) -> Data {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        func crc(_ b: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xffff_ffff
            for x in b { c ^= UInt32(x); for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 } }
            return ~c
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let td = Array(type.utf8) + data
            return be32(UInt32(data.count)) + td + be32(crc(td))
        }
        var raw: [UInt8] = []
        for _ in 0..<height { raw.append(0); raw += [UInt8](repeating: 128, count: width) }
        var z: [UInt8] = [0x78, 0x01, 0x01, UInt8(raw.count & 0xff), UInt8(raw.count >> 8),
                          UInt8(~raw.count & 0xff), UInt8((~raw.count >> 8) & 0xff)] + raw
        var a: UInt32 = 1, b: UInt32 = 0
        for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        z += be32(b << 16 | a)
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [8, 0, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", []))
    }
}
