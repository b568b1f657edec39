import XCTest
import Foundation

/// Every document kind in `JSONSchema` is described in docs/json.md.
final class JSONConventionTests: XCTestCase {
    func testEverySchemaIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("Sources/studio/JSONConvention.swift"), encoding: .utf8)
        let docs = try String(contentsOf: root.appendingPathComponent("docs/json.md"), encoding: .utf8)
        let ids = source.matches(of: /"(studio\.[a-z-]+\/[0-9]+)"/).map { String($0.output.1) }
        XCTAssertGreaterThanOrEqual(ids.count, 20)
        for id in ids { XCTAssertTrue(docs.contains("`\(id)`"), "\(id) is not described in docs/json.md") }
    }
}
