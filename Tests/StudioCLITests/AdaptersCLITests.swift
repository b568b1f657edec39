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
        let o = try CLI.document(list.stdout, schema: "studio.adapters-list/1")
        let names = (o["adapters"] as! [[String: Any]]).map { $0["name"] as! String }
        XCTAssertTrue(names.contains("replicate-instantid"), "\(names)")

        let info = try CLI.run(["adapters", "info", "replicate-instantid"])
        XCTAssertEqual(info.status, 0, info.stderr)
        for needle in ["ip_adapter_scale", "REPLICATE_API_TOKEN", "api.replicate.com", "negative prompt: yes"] {
            XCTAssertTrue(info.stdout.contains(needle), "\(needle) in \(info.stdout)")
        }
        XCTAssertEqual(try CLI.run(["adapters", "info", "no-such-adapter"]).status, 2)
        let manifest = try CLI.document(try CLI.run(["adapters", "info", "replicate-instantid", "--json"]).stdout,
                                        schema: "studio.adapter-info/1")
        XCTAssertNotNil((manifest["surface"] as? [String: Any])?["max_references"], "the manifest under the JSON convention")

        let check = try CLI.run(["adapters", "check", lib, "--json"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let checks = try XCTUnwrap(try CLI.document(check.stdout, schema: "studio.adapters-check/1")["checks"] as? [[String: Any]])
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

    /// Both fal adapters (which share AdapterSDK's FalQueue) are discovered, described and pass `check`.
    func testFalAdaptersListInfoAndCheck() throws {
        let list = try CLI.run(["adapters", "list", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let o = try CLI.document(list.stdout, schema: "studio.adapters-list/1")
        let names = (o["adapters"] as! [[String: Any]]).map { $0["name"] as! String }
        XCTAssertTrue(names.contains("fal-flux-pulid") && names.contains("fal-kling-i2v"), "\(names)")

        let info = try CLI.run(["adapters", "info", "fal-flux-pulid"])
        XCTAssertEqual(info.status, 0, info.stderr)
        for needle in ["id_weight", "FAL_KEY", "queue.fal.run", "true_cfg > 1", "outputs: image"] {
            XCTAssertTrue(info.stdout.contains(needle), "\(needle) in \(info.stdout)")
        }
        for name in ["FalFluxPuLID", "FalKlingI2V"] {
            let check = try CLI.run(["adapters", "check", try built(name), "--json"])
            XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
            let checks = try XCTUnwrap(try CLI.document(check.stdout, schema: "studio.adapters-check/1")["checks"] as? [[String: Any]])
            XCTAssertGreaterThanOrEqual(checks.count, 7)
            XCTAssertTrue(checks.allSatisfy { $0["pass"] as? Bool == true }, "\(name): \(checks)")
        }
    }
}

/// `studio gen --backend <adapter> --dry-run`: the translated request, secrets redacted.
final class AdapterDryRunCLITests: XCTestCase {
    /// Replicate's community models are run by version on POST /v1/predictions: each adapter's pin, or
    /// the user's --model-version.
    func testReplicateDryRunsPostAPinnedVersion() throws {
        let home = try freshStudioHome("dry-version")
        XCTAssertEqual(try CLI.run(["character", "create", "ada", "--seed", "1"], env: ["STUDIO_HOME": home]).status, 0)
        let env = ["STUDIO_HOME": home, "REPLICATE_API_TOKEN": "r8_dry"]
        for name in ["replicate-instantid", "replicate-flux-pulid", "replicate-photomaker"] {
            let r = try CLI.run(["gen", "--backend", name, "--character", "ada", "--prompt", "portrait", "--dry-run", "--json"], env: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            let doc = try CLI.document(r.stdout, schema: "studio.dry-run/1", dataMaps: ["headers"])
            let plan = try XCTUnwrap((doc["plans"] as? [[String: Any]])?.first)
            XCTAssertEqual(plan["method"] as? String, "POST"); XCTAssertEqual(plan["url"] as? String, "https://api.replicate.com/v1/predictions", name)
            let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(((plan["body"] as? String) ?? "").utf8)) as? [String: Any])
            let version = try XCTUnwrap(body["version"] as? String, name)
            XCTAssertNotNil(version.range(of: "^[0-9a-f]{64}$", options: .regularExpression), name)
            XCTAssertEqual(doc["model_version"] as? String, version)
        }
        let mine = String(repeating: "0123456789abcdef", count: 4)
        let r = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--dry-run", "--model-version", mine], env: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"version\":\"\(mine)\"") && r.stdout.contains("(--model-version)"), r.stdout)
        let bad = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--dry-run", "--model-version", "latest"], env: env)
        XCTAssertEqual(bad.status, 2); XCTAssertTrue(bad.stderr.contains("64 lower-case hex digits"), bad.stderr)
    }

    func testDryRunShowsTheRequestAndNeverTheSecret() throws {
        let home = try freshStudioHome("dry")
        XCTAssertEqual(try CLI.run(["character", "create", "ada", "--seed", "1"], env: ["STUDIO_HOME": home]).status, 0)
        let secret = "r8_dry_run_secret_\(UInt32.random(in: 1...UInt32.max))"
        let r = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--prompt", "portrait", "--negative", "blurry",
                             "--dry-run"], env: ["STUDIO_HOME": home, "REPLICATE_API_TOKEN": secret])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse((r.stdout + r.stderr).contains(secret), "the secret never appears")
        XCTAssertTrue(r.stdout.contains("Authorization: Bearer **** (from REPLICATE_API_TOKEN)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("POST https://api.replicate.com/v1/predictions"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\"version\":\"2e4785a4d80dadf580077b2244c8d7c05d8e3faac04a04c02d8e099dd2876789\""), r.stdout)
        XCTAssertTrue(r.stdout.contains("\"negative_prompt\":\"blurry"), r.stdout)
        XCTAssertTrue(r.stdout.contains("data:image/png;base64,<"), "image payloads are abbreviated")

        // From a credentials file: refused unless 0600.
        let file = home + "/credentials"
        try Data("REPLICATE_API_TOKEN=\(secret)\n".utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o644)
        let open = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--dry-run"], env: ["STUDIO_HOME": home])
        XCTAssertEqual(open.status, 2)
        XCTAssertTrue(open.stderr.contains("chmod 600"), open.stderr)
        XCTAssertFalse(open.stderr.contains(secret))
        chmod(file, 0o600)
        let ok = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--dry-run", "--json"], env: ["STUDIO_HOME": home])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertFalse(ok.stdout.contains(secret))
        XCTAssertTrue(ok.stdout.contains("****"), ok.stdout)

        // Without --dry-run studio sends: an emulator address off the loopback interface is refused before
        // anything is sent (so this test never reaches the network), and an unknown backend is bad input.
        let offLoopback = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada"],
                                      env: ["STUDIO_HOME": home, "STUDIO_EMULATOR": "http://192.0.2.1:8080"])
        XCTAssertEqual(offLoopback.status, 2)
        XCTAssertTrue(offLoopback.stderr.contains("loopback"), offLoopback.stderr)
        XCTAssertFalse(offLoopback.stderr.contains(secret))
        XCTAssertEqual(try CLI.run(["gen", "--backend", "nope", "--character", "ada", "--dry-run"], env: ["STUDIO_HOME": home]).status, 2)
    }
}
