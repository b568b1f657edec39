import XCTest
import Foundation
import StudioKit
import StudioImage

/// `studio faces` on an image far above the detector's working size stays within the memory bound.
final class FacesMemoryCLITests: XCTestCase {
    /// The case: a small PNG that decodes to 9999x9999 (just under the 100-megapixel limit),
    /// at the default upsample of 1. Before the bound it took 18.4 GB; the goal is under 1.5 GB for
    /// any accepted image, measured as the child's own peak resident set (`wait4`).
    func testA9999PixelSquarePNGIsDetectedUnder1Point5GB() throws {
        let photo = try ImageIO.load(path: try CLI.photo("obama.jpg"))
        var canvas = RGBImage(width: 9999, height: 9999)
        for i in canvas.pixels.indices { canvas.pixels[i] = 96 }
        canvas.paste(photo.resizedBilinear(width: photo.width * 2, height: photo.height * 2), x: 4000, y: 5000)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("faces-memory-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("large.png").path
        try ImageIO.writePNG(canvas, to: png)
        canvas = RGBImage(width: 0, height: 0)

        let out = dir.appendingPathComponent("out.json").path, err = dir.appendingPathComponent("err.txt").path
        let run = try ChildProcess.run(CLI.binary, ["faces", "--json", png], stdout: out, stderr: err)
        let stderr = try String(contentsOfFile: err, encoding: .utf8)
        XCTAssertEqual(run.status, 0, stderr)
        XCTAssertLessThan(run.peakResidentBytes, 1_500_000_000, "peak resident \(run.peakResidentBytes) bytes")
        XCTAssertTrue(stderr.contains("above the detector's working size"), stderr)
        let line = try XCTUnwrap(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").first)
        let doc = try CLI.document(line, schema: "studio.faces/1")
        let detection = try XCTUnwrap(doc["detection"] as? [String: Any])
        XCTAssertEqual(detection["limit"] as? String, "working_size")
        let faces = try XCTUnwrap(doc["faces"] as? [[String: Any]])
        XCTAssertEqual(faces.count, 1, "the pasted face, found on the reduced copy")
        let box = try XCTUnwrap(faces.first?["box"] as? [Int])
        XCTAssertTrue(box[0] > 4000 && box[1] > 5000 && box[2] < 4000 + photo.width * 2 && box[3] < 5000 + photo.height * 2, "\(box)")
    }
}
