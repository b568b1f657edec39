import XCTest
import Foundation

/// `studio adapters list | info | check` against the package's built adapters.
final class AdaptersCLITests: XCTestCase {
    func built(_ name: String) throws -> String {
        let p = (CLI.binary as NSString).deletingLastPathComponent + "/lib\(name)Adapter.so"
        guard FileManager.default.fileExists(atPath: p) else { XCTFail("\(p) not built"); throw XCTSkip("not built") }
        return p
    }

    func testListInfoAndCheck() throws {
        let lib = try built("ReplicateInstantID")
        let list = try CLI.run(["adapters", "list", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        let names = (o["adapters"] as! [[String: Any]]).map { $0["name"] as! String }
        XCTAssertTrue(names.contains("replicate-instantid"), "\(names)")

        let info = try CLI.run(["adapters", "info", "replicate-instantid"])
        XCTAssertEqual(info.status, 0, info.stderr)
        for needle in ["ip_adapter_scale", "REPLICATE_API_TOKEN", "api.replicate.com", "negative prompt: yes"] {
            XCTAssertTrue(info.stdout.contains(needle), "\(needle) in \(info.stdout)")
        }
        XCTAssertEqual(try CLI.run(["adapters", "info", "no-such-adapter"]).status, 2)

        let check = try CLI.run(["adapters", "check", lib, "--json"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let checks = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])?["checks"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(checks.count, 7)
        XCTAssertTrue(checks.allSatisfy { $0["pass"] as? Bool == true }, "\(checks)")

        // Not an adapter: a clear error and exit 2, never a crash.
        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("libJunk\(UUID().uuidString.prefix(8))Adapter.so").path
        _ = FileManager.default.createFile(atPath: junk, contents: Data("junk".utf8))
        defer { try? FileManager.default.removeItem(atPath: junk) }
        let bad = try CLI.run(["adapters", "check", junk])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains(junk), bad.stderr)
        // STUDIO_ADAPTER_PATH is searched first; a broken library there is reported and skipped.
        let dir = (junk as NSString).deletingLastPathComponent
        let listed = try CLI.run(["adapters", "list"], env: ["STUDIO_ADAPTER_PATH": dir])
        XCTAssertEqual(listed.status, 0)
        XCTAssertTrue(listed.stderr.contains("skipped") && listed.stderr.contains("libJunk"), listed.stderr)
        XCTAssertTrue(listed.stdout.contains("replicate-instantid"), listed.stdout)
    }
}
