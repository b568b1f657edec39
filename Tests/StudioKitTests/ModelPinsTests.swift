import XCTest
import Foundation
import StudioKit

/// `ModelCatalog` is the one source of each model's SHA-256 and size; the set-up script that fetches
/// the files and the README that states them must say the same.
final class ModelPinsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func text(_ relative: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// 22466066 -> "22,466,066", as the README writes sizes.
    static func grouped(_ n: Int) -> String {
        var digits = Array(String(n)), out = ""
        while digits.count > 3 { out = "," + String(digits.suffix(3)) + out; digits.removeLast(3) }
        return String(digits) + out
    }

    func testSetupScriptPinsEveryModelAsTheCatalogueDoes() throws {
        let setup = try text("scripts/setup.sh")
        for m in ModelCatalog.all {
            // The dlib models are one table line each; the generator is three variables.
            let line = setup.split(separator: "\n").first { $0.hasPrefix(m.file + " ") }
            if let line {
                let fields = line.split(separator: " ")
                XCTAssertEqual(fields.count, 3, String(line))
                XCTAssertEqual(String(fields[1]), m.sha256, m.file)
                XCTAssertEqual(Int(fields[2]), m.bytes, m.file)
            } else {
                XCTAssertTrue(setup.contains("GEN_FILE=\(m.file)\n"), "\(m.file) is not pinned in scripts/setup.sh")
                XCTAssertTrue(setup.contains("GEN_SHA256=\(m.sha256)\n"), m.file)
                XCTAssertTrue(setup.contains("GEN_BYTES=\(m.bytes)\n"), m.file)
            }
        }
    }

    func testReadmeStatesEveryModelsPinAndLicence() throws {
        let readme = try text("README.md")
        for m in ModelCatalog.all {
            let row = try XCTUnwrap(readme.split(separator: "\n").first { $0.hasPrefix("| `\(m.file)` |") }, "\(m.file) has no README row")
            XCTAssertTrue(row.contains("`\(m.sha256)`"), "README's SHA-256 for \(m.file)")
            let size = Self.grouped(m.bytes)
            XCTAssertTrue(row.contains("| \(size) |"), "README's size for \(m.file): \(size)")
            XCTAssertTrue(row.contains(m.licence.prefix(6)), "README's licence for \(m.file)")
        }
    }
}
