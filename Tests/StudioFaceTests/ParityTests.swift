import XCTest
import Foundation
import StudioKit
import StudioFace
import StudioImage

/// Agreement with dlib 19.24 on real photos, against numbers the oracle (tools/oracle) wrote into
/// Tests/Fixtures (regenerate with tools/make-fixtures.sh).
final class ParityTests: XCTestCase {
    func testFacesMatchDlibOnEveryFixtureImage() throws {
        let pipeline = TestData.pipeline
        let lines = try TestData.jsonLines("dlib-faces.jsonl")
        XCTAssertGreaterThanOrEqual(lines.count, 7, "fixture should cover the photos and the johns chips")
        var worstIoU = 1.0, worstLandmark = 0.0, worstDescriptor: Float = 0, worstChip = 0.0
        var faceCount = 0
        for line in lines {
            let rel = line["image"] as! String
            let upsample = (line["upsample"] as? NSNumber)?.intValue ?? 1
            let image = try ImageIO.load(path: try TestData.testImage(rel))
            XCTAssertEqual(image.width, (line["width"] as! NSNumber).intValue, rel)
            XCTAssertEqual(image.height, (line["height"] as! NSNumber).intValue, rel)
            let expected = line["faces"] as! [[String: Any]]
            let aligned = pipeline.align(image, upsample: upsample)
            XCTAssertEqual(aligned.count, expected.count, "\(rel): face count")
            guard aligned.count == expected.count else { continue }
            let descriptors = pipeline.recognizer.descriptors(aligned.map(\.chip))
            for (i, e) in expected.enumerated() {
                faceCount += 1
                let box = (e["box"] as! [Any]).ints
                let eRect = Rect(left: box[0], top: box[1], right: box[2], bottom: box[3])
                let got = aligned[i]
                let iou = got.detection.rect.iou(eRect)
                worstIoU = min(worstIoU, iou)
                // The issue asks for IoU >= 0.98; the port reproduces dlib's boxes exactly, so require that.
                XCTAssertGreaterThanOrEqual(iou, 0.98, "\(rel) face \(i): box \(got.detection.rect) vs dlib \(eRect)")
                XCTAssertEqual(got.detection.rect, eRect, "\(rel) face \(i)")
                XCTAssertEqual(got.detection.confidence, (e["confidence"] as! NSNumber).doubleValue, accuracy: 1e-5, "\(rel) face \(i)")
                let lms = (e["landmarks"] as! [[Any]]).map { $0.floats }
                for (k, p) in lms.enumerated() {
                    let d = max(abs(got.landmarks[k].x - Double(p[0])), abs(got.landmarks[k].y - Double(p[1])))
                    worstLandmark = max(worstLandmark, d)
                    XCTAssertLessThanOrEqual(d, 0.5, "\(rel) face \(i) landmark \(k)")
                }
                let eDesc = (e["descriptor"] as! [Any]).floats
                let maxDiff = zip(descriptors[i].values, eDesc).map { abs($0 - $1) }.max()!
                worstDescriptor = max(worstDescriptor, maxDiff)
                XCTAssertLessThanOrEqual(maxDiff, 1e-4, "\(rel) face \(i): descriptor max abs diff")
                // Chip pixels against the oracle's chip.
                let chipName = rel.replacingOccurrences(of: "/", with: "__").replacingOccurrences(of: ".jpg", with: "")
                    .replacingOccurrences(of: ".png", with: "") + "_\(i).png"
                let chipPath = TestData.fixtures + "/dlib-chips/" + chipName
                if FileManager.default.fileExists(atPath: chipPath) {
                    let ref = try ImageIO.load(path: chipPath)
                    XCTAssertEqual(ref.width, 150); XCTAssertEqual(ref.height, 150)
                    let mean = zip(got.chip.pixels, ref.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(ref.pixels.count)
                    worstChip = max(worstChip, mean)
                    XCTAssertLessThanOrEqual(mean, 1.0, "\(rel) face \(i): chip mean abs difference in grey levels")
                }
            }
        }
        XCTAssertGreaterThan(faceCount, 0)
        print("parity: \(faceCount) faces; worst IoU \(worstIoU), landmark \(worstLandmark) px, descriptor \(worstDescriptor), chip \(worstChip) grey levels")
    }

    func testAlignedJohnsDescriptorsMatchDlibAndSeparateIdentities() throws {
        let rec = TestData.pipeline.recognizer
        let lines = try TestData.jsonLines("dlib-johns-aligned.jsonl")
        XCTAssertEqual(lines.count, 55, "5 people x 11 chips")
        var ours: [(person: String, d: FaceDescriptor)] = []
        var worst: Float = 0
        for line in lines {
            let rel = line["image"] as! String
            let chip = try ImageIO.load(path: try TestData.testImage(rel))
            let d = rec.descriptor(chip)
            let e = (line["descriptor"] as! [Any]).floats
            let diff = zip(d.values, e).map { abs($0 - $1) }.max()!
            worst = max(worst, diff)
            XCTAssertLessThanOrEqual(diff, 1e-4, rel)
            ours.append((rel.split(separator: "/").dropLast().joined(separator: "/"), d))
        }
        var maxSame = 0.0, minDiff = Double.infinity
        for i in 0..<ours.count { for j in (i + 1)..<ours.count {
            let dist = ours[i].d.distance(to: ours[j].d)
            if ours[i].person == ours[j].person {
                maxSame = max(maxSame, dist)
                XCTAssertLessThan(dist, 0.6, "\(ours[i].person) pair \(i),\(j)")
            } else {
                minDiff = min(minDiff, dist)
                XCTAssertGreaterThan(dist, 0.6, "\(ours[i].person) vs \(ours[j].person)")
            }
        }}
        // dlib's figures on the same set: same-person max 0.561, different-person min 0.662.
        XCTAssertEqual(maxSame, 0.561, accuracy: 0.01)
        XCTAssertEqual(minDiff, 0.662, accuracy: 0.01)
        print("johns: worst descriptor diff \(worst); same-person max \(maxSame), different-person min \(minDiff)")
    }
}
