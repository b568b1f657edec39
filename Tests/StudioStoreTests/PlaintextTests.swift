import Foundation
import StudioKit
import StudioStore
import XCTest

/// The store must never write embedding values in the clear: not in `studio.sqlite`, not in its
/// write-ahead log or shared-memory index, not in an export.
final class PlaintextTests: XCTestCase {
    /// 16-byte windows (4 little-endian Float32s) of each descriptor, at several offsets.
    func binaryNeedles(_ d: FaceDescriptor) -> [[UInt8]] {
        [0, 17, 40, 64, 99, 124].map { start in
            d.values[start..<(start + 4)].flatMap { v -> [UInt8] in
                let b = v.bitPattern.littleEndian
                return [UInt8(b & 0xff), UInt8(b >> 8 & 0xff), UInt8(b >> 16 & 0xff), UInt8(b >> 24)]
            }
        }
    }

    /// Decimal texts of several descriptor values as any encoder might print them: Swift's shortest
    /// `Float` text, the `Double` widening, and six fixed decimals.
    func textNeedles(_ d: FaceDescriptor) -> [[UInt8]] {
        [1, 33, 77, 127].flatMap { i -> [[UInt8]] in
            let v = d.values[i]
            return ["\(v)", "\(Double(v))", String(format: "%.6f", Double(v))].map { Array($0.utf8) }
        }
    }

    func find(_ needle: [UInt8], in hay: [UInt8]) -> Bool {
        guard needle.count <= hay.count, let first = needle.first else { return false }
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == first && Array(hay[i..<(i + needle.count)]) == needle { return true }
            i += 1
        }
        return false
    }

    func leaks(in path: String, _ needles: [[UInt8]]) -> [String] {
        guard let bytes = fileBytes(path) else { return [] }
        return needles.filter { find($0, in: bytes) }.map { n in
            n.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) ? String(decoding: n, as: UTF8.self) : n.map { String(format: "%02x", $0) }.joined()
        }
    }

    func testNoEmbeddingBytesOrTextInTheDatabaseFiles() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: ["STUDIO_KEY_ACME": hexKey(0x5a)])
        let (ada, images) = sampleCharacter(name: "Ada", tenant: "acme", referenceCount: 2, seed: 11)
        let descriptors = [ada.identity] + ada.references.map(\.face.descriptor)
        var needles = descriptors.flatMap { binaryNeedles($0) + textNeedles($0) }
        // Other sealed fields: a quality check's text and an attribute's region.
        needles += [Array("variance of Laplacian".utf8), Array("iris ring".utf8), Array("123.456".utf8)]

        // The search must be able to find what it looks for: plain JSON and raw floats contain every needle.
        let control = home + "-control.bin"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: control) }
        var plain = [UInt8](try JSONEncoder().encode(ada))
        for d in descriptors { for n in binaryNeedles(d) { plain += n } }
        for d in descriptors { for n in textNeedles(d) { plain += n + [0x20] } }
        XCTAssertTrue(FileManager.default.createFile(atPath: control, contents: Data(plain)))
        XCTAssertEqual(leaks(in: control, needles).count, needles.count, "the search misses needles it should find")

        try store.add(ada, images: images)
        let files = ["studio.sqlite", "studio.sqlite-wal", "studio.sqlite-shm"].map { home + "/" + $0 }
        XCTAssertGreaterThan(fileBytes(files[1])?.count ?? 0, 0, "expected the write-ahead log to hold the new rows")
        for f in files { XCTAssertEqual(leaks(in: f, needles), [], "plaintext in \(f) before checkpoint") }

        try store.checkpoint()
        XCTAssertGreaterThan(fileBytes(files[0])?.count ?? 0, 8192)
        for f in files { XCTAssertEqual(leaks(in: f, needles), [], "plaintext in \(f) after checkpoint") }

        // Search the index too, and an export.
        XCTAssertEqual(try store.nearest(to: ada.identity, tenant: "acme", top: 1).first?.name, "Ada")
        let export = try store.export(named: "Ada", tenant: "acme")
        let exportPath = home + "/ada.studio"
        XCTAssertTrue(FileManager.default.createFile(atPath: exportPath, contents: Data(export)))
        XCTAssertEqual(leaks(in: exportPath, needles), [], "plaintext in the export")

        try store.remove(named: "Ada", tenant: "acme")
        try store.checkpoint()
        for f in files { XCTAssertEqual(leaks(in: f, needles), [], "plaintext in \(f) after remove") }
    }
}
