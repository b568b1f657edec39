import XCTest
import Foundation
import AdapterSDK
@testable import StudioAdapterHost

/// Loads the built adapters through dlopen and the C vtable, as `studio` does.
final class AdapterTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// The built `lib<Name>Adapter.so` beside the test bundle.
    static func library(_ name: String, file: String? = nil) throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while dir.path != "/" {
            let p = dir.appendingPathComponent(file ?? "lib\(name)Adapter.so").path
            if FileManager.default.fileExists(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        XCTFail("lib\(name)Adapter.so not built (swift build builds every product)")
        throw XCTSkip("adapter not built")
    }

    static let goldenRequest = AdapterRequest(
        character: .init(name: "ada", attributes: ["eye_colour": "brown"], embedding: [Float](repeating: 0.01, count: 128), referenceCount: 1),
        prompt: "portrait of ada, head turned left", negativePrompt: "blurry, blue eyes, green eyes",
        negativePromptWeighted: "blurry, (blue eyes:1.5), (green eyes:1.5)", strictness: .init(level: 1, identityStrength: 0.85),
        seed: 42, width: 1024, height: 1024)
    static let png = AdapterImage(bytes: [0x89, 0x50, 0x4E, 0x47], mimeType: "image/png")

    func testGoldenRequestThroughTheCVTable() throws {
        let a = try LoadedAdapter(path: try Self.library("ReplicateInstantID"))
        XCTAssertEqual(a.manifest.name, "replicate-instantid")
        XCTAssertEqual(a.manifest.surface.auth.credential, "REPLICATE_API_TOKEN")
        let plans = try a.buildRequest(Self.goldenRequest, images: [Self.png])
        XCTAssertEqual(plans.count, 1)
        let golden = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/adapters/replicate-instantid.submit.json"))) as? [String: Any])
        let p = plans[0]
        XCTAssertEqual(p.purpose, golden["purpose"] as? String)
        XCTAssertEqual(p.method, golden["method"] as? String)
        XCTAssertEqual(p.url, golden["url"] as? String)
        XCTAssertEqual(p.headers, golden["headers"] as? [String: String])
        XCTAssertEqual(p.authenticated, golden["authenticated"] as? Bool)
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((p.jsonBody ?? "").utf8)) as? NSDictionary)
        XCTAssertEqual(body, golden["body"] as? NSDictionary)
        // No credential anywhere in what the adapter produced.
        XCTAssertFalse(AdapterJSON.encode(plans).lowercased().contains("authorization"))
    }

    func testResponsesMapToJobStatesAndTypedErrors() throws {
        let a = try LoadedAdapter(path: try Self.library("ReplicateInstantID"))
        func parse(_ status: Int, _ body: String, headers: [String: String] = [:]) throws -> JobUpdate {
            try a.parseResponse(AdapterResponse(purpose: "submit", status: status, headers: headers), body: Array(body.utf8))
        }
        func error(_ status: Int, _ body: String, headers: [String: String] = [:]) -> AdapterError? {
            do { _ = try parse(status, body, headers: headers); return nil } catch { return error as? AdapterError }
        }
        let running = try parse(201, #"{"id":"p1","status":"processing","urls":{"get":"https://api.replicate.com/v1/predictions/p1"}}"#)
        XCTAssertEqual(running, JobUpdate(state: "running", pollURL: "https://api.replicate.com/v1/predictions/p1", jobId: "p1"))
        // urls.cancel becomes the job's cancel plan, only on api.replicate.com and only a .../cancel route.
        let api = "https://api.replicate.com/v1/predictions/p1"
        let cancellable = try parse(201, #"{"id":"p1","status":"starting","urls":{"get":"\#(api)","cancel":"\#(api)/cancel"}}"#)
        XCTAssertEqual(cancellable.cancel, HTTPRequestPlan(purpose: "cancel", method: "POST", url: api + "/cancel"))
        for hostile in ["https://evil.example/v1/predictions/p1/cancel", "http://api.replicate.com/v1/predictions/p1/cancel", api + "/delete"] {
            XCTAssertNil(try parse(201, #"{"id":"p1","status":"starting","urls":{"get":"\#(api)","cancel":"\#(hostile)"}}"#).cancel, hostile)
        }
        let done = try parse(200, #"{"id":"p1","status":"succeeded","output":["https://replicate.delivery/x/out-0.png"]}"#)
        XCTAssertEqual(done.outputs, [.init(url: "https://replicate.delivery/x/out-0.png", kind: "image")])
        XCTAssertEqual(done.state, "succeeded")

        let throttled = error(429, #"{"detail":"Request was throttled. Expected available in 1 second."}"#)
        XCTAssertEqual(throttled?.code, "rate_limited"); XCTAssertEqual(throttled?.retryable, true); XCTAssertEqual(throttled?.retryAfterSeconds, 1)
        XCTAssertEqual(error(429, "{}", headers: ["retry-after": "7"])?.retryAfterSeconds, 7)
        XCTAssertEqual(error(429, #"{"detail":"Request was throttled. Your rate limit resets in ~30s."}"#)?.retryAfterSeconds, 30, "the docs' wording")
        XCTAssertEqual(error(401, #"{"title":"Unauthenticated","detail":"Invalid token"}"#)?.code, "auth")
        XCTAssertEqual(error(401, "{}")?.retryable, false)
        XCTAssertEqual(error(422, #"{"detail":"input.width: must be >= 512"}"#)?.code, "invalid_request")
        let server = error(503, "<html>bad gateway</html>")
        XCTAssertEqual(server?.code, "server"); XCTAssertEqual(server?.retryable, true)
        XCTAssertEqual(error(200, "not json")?.code, "malformed_response")
        XCTAssertEqual(error(200, #"{"id":"p1"}"#)?.code, "malformed_response")
        XCTAssertEqual(error(200, #"{"id":"p1","status":"failed","error":"No face detected in the image"}"#)?.code, "no_face")
        XCTAssertEqual(error(200, #"{"id":"p1","status":"teleported"}"#)?.code, "malformed_response")
        XCTAssertNotNil(error(200, String(repeating: "[", count: 10_000)), "hostile nesting is an error, not a crash")
    }

    func testBuildWithoutAnImageIsATypedError() throws {
        let a = try LoadedAdapter(path: try Self.library("ReplicateInstantID"))
        XCTAssertThrowsError(try a.buildRequest(Self.goldenRequest, images: [])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
        }
    }

    func testLoadErrorsNameTheFile() {
        func kind(_ path: String) -> AdapterLoadError.Kind? {
            do { _ = try LoadedAdapter(path: path); return nil } catch { return error.kind }
        }
        XCTAssertEqual(kind("/nonexistent/libNopeAdapter.so"), .open)
        let notLibrary = FileManager.default.temporaryDirectory.appendingPathComponent("libGarbageAdapter-\(UUID().uuidString).so").path
        _ = FileManager.default.createFile(atPath: notLibrary, contents: Data("not an ELF file".utf8))
        defer { try? FileManager.default.removeItem(atPath: notLibrary) }
        XCTAssertEqual(kind(notLibrary), .open)
        // A real shared library that is not an adapter.
        let libz = ["/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1"].first { FileManager.default.fileExists(atPath: $0) }
        if let libz { XCTAssertEqual(kind(libz), .noEntry) }
    }

    func testManifestAndPlanRules() {
        var m = ReplicateLikeManifest.make()
        XCTAssertEqual(ManifestValidator.problems(m), [])
        m.name = "Bad Name"; m.surface.mode = "carrier-pigeon"; m.surface.allowedHosts = ["*.example.com"]
        m.surface.auth.credential = "lower"; m.surface.strengthKnobs = [.init(name: "k", minimum: 1, maximum: 0, defaultValue: 2, mapping: "")]
        XCTAssertEqual(ManifestValidator.problems(m).count, 5, "\(ManifestValidator.problems(m))")
        let good = ReplicateLikeManifest.make()
        XCTAssertNil(ManifestValidator.problem(plan: .init(purpose: "submit", method: "POST", url: "https://api.replicate.com/v1/x"), manifest: good))
        XCTAssertNotNil(ManifestValidator.problem(plan: .init(purpose: "submit", method: "POST", url: "http://api.replicate.com/v1/x"), manifest: good))
        XCTAssertNotNil(ManifestValidator.problem(plan: .init(purpose: "submit", method: "POST", url: "https://evil.example/steal"), manifest: good))
        XCTAssertNotNil(ManifestValidator.problem(plan: .init(purpose: "submit", method: "POST", url: "https://api.replicate.com/v1/x",
                                                              headers: ["Authorization": "Bearer x"]), manifest: good))
    }

    func testDiscoveryOrder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("adapters-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for d in ["a", "b"] { try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true) }
        for f in ["a/libOneAdapter.so", "b/libOneAdapter.so", "b/libTwoAdapter.so", "b/libNotAnAdapterHere.so"] {
            _ = FileManager.default.createFile(atPath: root + "/" + f, contents: Data())
        }
        let dirs = AdapterDiscovery.searchPath(environment: ["STUDIO_ADAPTER_PATH": root + "/a"], home: root + "/home", executableDirectory: root + "/b")
        XCTAssertEqual(dirs, [root + "/a", root + "/home/adapters", root + "/b"])
        XCTAssertEqual(AdapterDiscovery.candidates(in: dirs), [root + "/a/libOneAdapter.so", root + "/b/libTwoAdapter.so"])
    }
}

enum ReplicateLikeManifest {
    static func make() -> AdapterManifest {
        AdapterManifest(name: "replicate-test", version: "1", provider: "replicate", model: "m", summary: "s",
                        surface: .init(referenceFields: ["image"], maxReferences: 1, negativePrompt: .init(supported: true),
                                       strengthKnobs: [.init(name: "k", minimum: 0, maximum: 1, defaultValue: 0.5, mapping: "as is")],
                                       mode: "poll", auth: .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"),
                                       allowedHosts: ["api.replicate.com"], outputs: ["image"]))
    }
}

/// Out-of-process mode: the same JSON over a child's stdio; a crashing adapter kills only its child.
final class OutOfProcessTests: XCTestCase {
    func studio() throws -> String {
        let p = URL(fileURLWithPath: try AdapterTests.library("ReplicateInstantID")).deletingLastPathComponent().appendingPathComponent("studio").path
        guard FileManager.default.isExecutableFile(atPath: p) else { XCTFail("studio not built beside the adapters"); throw XCTSkip("no studio") }
        return p
    }

    func testSameAnswersAsInProcess() throws {
        let lib = try AdapterTests.library("ReplicateInstantID")
        let inProcess = try LoadedAdapter(path: lib)
        let child = try OutOfProcessAdapter(path: lib, command: [try studio(), "adapters", "serve", lib])
        XCTAssertEqual(child.manifest, inProcess.manifest)
        XCTAssertEqual(try child.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png]),
                       try inProcess.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png]))
        XCTAssertThrowsError(try child.parseResponse(AdapterResponse(purpose: "submit", status: 429, headers: ["retry-after": "3"]), body: [])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "rate_limited"); XCTAssertEqual((e as? AdapterError)?.retryAfterSeconds, 3)
        }
    }

    func testACrashingAdapterCannotTakeTheHostDown() throws {
        let lib = try AdapterTests.library("CrashTest", file: "libCrashTestFixture.so")
        let child = try OutOfProcessAdapter(path: lib, command: [try studio(), "adapters", "serve", lib])
        XCTAssertEqual(child.manifest.name, "test-crash")
        XCTAssertEqual(try child.parseResponse(AdapterResponse(purpose: "submit", status: 200, headers: [:]), body: Array("{}".utf8)).state, "succeeded")
        XCTAssertThrowsError(try child.parseResponse(AdapterResponse(purpose: "crash", status: 200, headers: [:]), body: [])) { e in
            let err = e as? AdapterLoadError
            XCTAssertEqual(err?.kind, .crashed)
            XCTAssertTrue(err?.detail.contains("signal 11") ?? false, "\(e)")
            XCTAssertTrue(err?.detail.contains("host is unaffected") ?? false, "\(e)")
        }
        // The host is alive and the next call gets a fresh child.
        XCTAssertEqual(try child.parseResponse(AdapterResponse(purpose: "submit", status: 200, headers: [:]), body: Array("{}".utf8)).state, "succeeded")
        XCTAssertEqual(try child.buildRequest(AdapterTests.goldenRequest, images: []).count, 1)
    }
}

final class CredentialTests: XCTestCase {
    func testEnvironmentFirstThenA0600File() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        XCTAssertNil(try Credentials.value("FAL_KEY", environment: [:], home: home))
        XCTAssertEqual(try Credentials.value("FAL_KEY", environment: ["FAL_KEY": "env"], home: home), "env")
        let f = Credentials.file(home: home)
        try Data("# comment\nFAL_KEY = from-file\nOTHER=x\n".utf8).write(to: URL(fileURLWithPath: f))
        chmod(f, 0o600)
        XCTAssertEqual(try Credentials.value("FAL_KEY", environment: [:], home: home), "from-file")
        XCTAssertEqual(try Credentials.value("FAL_KEY", environment: ["FAL_KEY": "env"], home: home), "env")
        chmod(f, 0o640)
        XCTAssertThrowsError(try Credentials.value("FAL_KEY", environment: [:], home: home)) { e in
            XCTAssertTrue("\(e)".contains("chmod 600")); XCTAssertFalse("\(e)".contains("from-file"))
        }
    }

    func testAuthHeadersAndJWT() throws {
        XCTAssertEqual(Credentials.authHeader(.init(scheme: "bearer", credential: "A"), secret: "s").value, "Bearer s")
        XCTAssertEqual(Credentials.authHeader(.init(scheme: "key", credential: "A"), secret: "s").value, "Key s")
        XCTAssertEqual(Credentials.authHeader(.init(scheme: "header", credential: "A", header: "Api-Key"), secret: "s").name, "Api-Key")
        // HS256 JWT: header.payload.signature, payload {iss, exp = now + 1800, nbf = now - 5}, verifiable with the secret.
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let token = Credentials.jwt(issuer: "ak-1", secret: "sk-secret", now: now)
        let parts = token.split(separator: ".").map(String.init)
        XCTAssertEqual(parts.count, 3)
        func decode(_ s: String) -> Data {
            var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b.count % 4 != 0 { b += "=" }
            return Data(base64Encoded: b)!
        }
        let payload = try JSONSerialization.jsonObject(with: decode(parts[1])) as! [String: Any]
        XCTAssertEqual(payload["iss"] as? String, "ak-1")
        XCTAssertEqual(payload["exp"] as? Int, 1_800_001_800)
        XCTAssertEqual(payload["nbf"] as? Int, 1_799_999_995)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: decode(parts[0])) as! [String: String])["alg"], "HS256")
        XCTAssertNotEqual(Credentials.jwt(issuer: "ak-1", secret: "other", now: now), token, "the signature depends on the secret")
        XCTAssertEqual(Redaction.redact("Bearer sk-secret and sk-secret", secrets: ["sk-secret"]), "Bearer **** and ****")
    }
}

/// Every adapter's golden request against its provider's published contract (ProviderContracts):
/// the request the real provider would refuse is the one these tests refuse.
final class AdapterContractTests: XCTestCase {
    /// Library (module) names: lib<Name>Adapter.so.
    static let adapters = ["ReplicateInstantID", "ReplicateFluxPuLID", "ReplicatePhotoMaker", "FalFluxPuLID", "FalKlingI2V",
                           "StabilitySD3", "RunwayGen4", "KlingImage2Video", "ExampleC"]

    func testEveryGoldenRequestMeetsItsProvidersContract() throws {
        for name in Self.adapters {
            let a = try LoadedAdapter(path: try AdapterTests.library(name))
            let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png])
            try assertMeetsContract(plans[0], a.manifest)
        }
    }

    /// The findings' bad cases, fed to the adapters: what they send still meets the contract.
    func testBadCasesAreMendedBeforeSending() throws {
        let photomaker = try LoadedAdapter(path: try AdapterTests.library("ReplicatePhotoMaker"))
        for (prompt, negative) in [("portrait of ada", "blurry"), ("a man img and a woman img", "img, blurry"), ("img img", "img")] {
            var r = AdapterTests.goldenRequest
            r.prompt = prompt; r.negativePrompt = negative
            try assertMeetsContract(try photomaker.buildRequest(r, images: [AdapterTests.png])[0], photomaker.manifest)
        }
        // Runway counts promptText in UTF-16 units: 400 emoji are 400 characters but 800 units, and the
        // reinforcement phrases must stop at 1000 units.
        let runway = try LoadedAdapter(path: try AdapterTests.library("RunwayGen4"))
        var r = AdapterTests.goldenRequest
        r.prompt = String(repeating: "\u{1F600}", count: 400)
        let plan = try runway.buildRequest(r, images: [AdapterTests.png])[0]
        try assertMeetsContract(plan, runway.manifest)
        r.prompt = String(repeating: "\u{1F600}", count: 501)
        XCTAssertThrowsError(try runway.buildRequest(r, images: [AdapterTests.png])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
            XCTAssertTrue((e as? AdapterError)?.message.contains("UTF-16") == true)
        }
        // A reference whose data URI reaches 5 MB is refused by the adapter, before Runway refuses it.
        let big = AdapterImage(bytes: [UInt8](repeating: 7, count: 3_800_000), mimeType: "image/png")
        XCTAssertThrowsError(try runway.buildRequest(AdapterTests.goldenRequest, images: [big])) { e in
            XCTAssertTrue((e as? AdapterError)?.message.contains("under 5000000 bytes") == true, "\(e)")
        }
    }

    /// The models' real failure texts: no face is `no_face` (not retried); PhotoMaker's safety checker
    /// leaves a succeeded prediction with an empty output, which is a content filter (retryable).
    func testReplicateModelsRealFailureTexts() throws {
        let texts = ["Cannot find any face in the image! Please upload another person image",
                     "Face detector could not find a face in the pose image", "facexlib align face fail",
                     "No face detected, please upload an image with a face"]
        for name in Self.adapters where name.hasPrefix("Replicate") {
            let a = try LoadedAdapter(path: try AdapterTests.library(name))
            for t in texts {
                let body = #"{"id": "p1", "status": "failed", "error": "\#(t)"}"#
                XCTAssertThrowsError(try a.parseResponse(AdapterResponse(purpose: "poll", status: 200, headers: [:]), body: Array(body.utf8))) { e in
                    XCTAssertEqual((e as? AdapterError)?.code, "no_face", "\(name): \(t)")
                    XCTAssertEqual((e as? AdapterError)?.retryable, false)
                }
            }
            let empty = #"{"id": "p1", "status": "succeeded", "output": []}"#
            XCTAssertThrowsError(try a.parseResponse(AdapterResponse(purpose: "poll", status: 200, headers: [:]), body: Array(empty.utf8))) { e in
                XCTAssertEqual((e as? AdapterError)?.code, "content_filtered", name)
                XCTAssertEqual((e as? AdapterError)?.retryable, true)
            }
        }
    }

    /// Replicate's community models run by version: the models route would be refused.
    func testReplicateAdaptersSubmitAPinnedVersion() throws {
        for name in Self.adapters where name.hasPrefix("Replicate") {
            let a = try LoadedAdapter(path: try AdapterTests.library(name))
            let plan = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png])[0]
            XCTAssertEqual(plan.url, "https://api.replicate.com/v1/predictions", name)
            let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((plan.jsonBody ?? "").utf8)) as? [String: Any])
            let version = try XCTUnwrap(body["version"] as? String, name)
            XCTAssertEqual(version, a.manifest.modelVersion, name)
            XCTAssertNotNil(version.range(of: "^[0-9a-f]{64}$", options: .regularExpression), name)
            // The user's override wins; a malformed one is refused before anything is sent.
            var r = AdapterTests.goldenRequest
            r.modelVersion = String(repeating: "ab", count: 32)
            let overridden = try a.buildRequest(r, images: [AdapterTests.png])[0]
            XCTAssertTrue(overridden.jsonBody?.contains(String(repeating: "ab", count: 32)) == true, name)
            r.modelVersion = "latest"
            XCTAssertThrowsError(try a.buildRequest(r, images: [AdapterTests.png]), name) { e in
                XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
            }
        }
    }
}
