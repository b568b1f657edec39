import Foundation
import StudioKit
import StudioStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A fresh `$STUDIO_HOME` under the temporary directory, removed when the test ends.
func makeTemporaryHome(_ test: XCTestCase, _ label: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.path
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let path = "\(base)/studio-store-\(safe)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.removeItem(atPath: path)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// 32 bytes as 64 hexadecimal characters.
func hexKey(_ byte: UInt8) -> String { String(repeating: String(format: "%02x", byte), count: 32) }

func sha256Hex(_ bytes: [UInt8]) -> String { ImageDigest.sha256Hex(bytes) }

/// Deterministic pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var out = [UInt8](); out.reserveCapacity(count)
    while out.count < count {
        var v = rng.next()
        for _ in 0..<8 where out.count < count { out.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
    }
    return out
}

/// A distinctive descriptor: values no other test data produces, easy to search for in raw files.
func distinctiveDescriptor(offset: Float) -> FaceDescriptor {
    FaceDescriptor((0..<128).map { i in offset + Float(i) * 0.000_731_9 - 0.046_813 })
}

/// A complete character with `referenceCount` references (each with its own image bytes).
func sampleCharacter(name: String, tenant: String, id: String? = nil, referenceCount: Int = 2, seed: UInt64 = 1,
                     identity: FaceDescriptor? = nil) -> (CharacterRecord, [String: [UInt8]]) {
    var images: [String: [UInt8]] = [:]
    var refs: [ReferenceRecord] = []
    for r in 0..<referenceCount {
        let bytes = randomBytes(3000 + r * 17, seed: seed &* 1000 &+ UInt64(r))
        let sha = sha256Hex(bytes)
        images[sha] = bytes
        let face = DetectedFace(box: Rect(left: 10 + r, top: 20, right: 110 + r, bottom: 120), confidence: 1.25 + Double(r),
                                landmarks: [Point(x: 30, y: 40), Point(x: 31, y: 41), Point(x: 70, y: 40), Point(x: 69, y: 41), Point(x: 50, y: 80)],
                                descriptor: distinctiveDescriptor(offset: 0.1 * Float(r + 1) + Float(seed % 97) * 0.001))
        let quality = QualityReport(checks: [
            QualityCheck(name: "sharpness", value: 123.456, threshold: 100, rule: ">=", verdict: .pass, detail: "variance of Laplacian 123.456"),
            QualityCheck(name: "face_size", value: 101, threshold: 80, rule: ">=", verdict: .warn, detail: "101 px"),
        ], weight: 0.875)
        let attrs = FaceAttributes(items: [
            "eye_colour": AttributeMeasurement(values: [41.25, 12.5, 20.75], components: ["L*", "a*", "b*"], label: "brown", region: "iris ring"),
            "face_width_height_ratio": AttributeMeasurement(values: [0.8125], components: ["ratio"], label: "oval", region: "landmarks"),
        ])
        refs.append(ReferenceRecord(sha256: sha, fileName: "ref-\(r).jpg", width: 640, height: 480, face: face, quality: quality, attributes: attrs))
    }
    let record = CharacterRecord(
        id: id ?? "id-\(tenant)-\(name)", tenant: tenant, name: name, createdAt: 1_712_345_678,
        identity: identity ?? distinctiveDescriptor(offset: 0.731_953_1 + Float(seed % 89) * 0.01),
        references: refs,
        attributes: FaceAttributes(items: ["skin_tone": AttributeMeasurement(values: [62.5, 9.25, 17.125], components: ["L*", "a*", "b*"], label: "type II", region: "cheeks")]),
        metadata: ["origin": "photos"])
    return (record, images)
}

/// Asserts that `body` throws a `StoreError` of `kind`; returns it.
@discardableResult
func assertStoreError<T>(_ kind: StoreError.Kind, file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> T) -> StoreError? {
    do {
        _ = try body()
        XCTFail("expected StoreError .\(kind), got success", file: file, line: line)
    } catch let e as StoreError {
        XCTAssertEqual(e.kind, kind, "message: \(e.message)", file: file, line: line)
        return e
    } catch {
        XCTFail("expected StoreError .\(kind), got \(error)", file: file, line: line)
    }
    return nil
}

func fileBytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

func fileMode(_ path: String) -> Int {
    var st = stat()
    guard stat(path, &st) == 0 else { return -1 }
    return Int(st.st_mode & 0o777)
}
