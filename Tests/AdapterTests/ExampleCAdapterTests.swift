import XCTest
import Foundation
import CStudioAdapter
import AdapterSDK
@testable import StudioAdapterHost
#if canImport(Glibc)
import Glibc
#endif

/// adapters/example-c: an adapter written in C with json-c (fal-ai/ip-adapter-face-id on fal's queue
/// API), loaded through dlopen and the C vtable exactly like the Swift ones.
final class ExampleCAdapterTests: XCTestCase {
    static let submitURL = "https://queue.fal.run/fal-ai/ip-adapter-face-id"
    static let requestURL = "https://queue.fal.run/fal-ai/ip-adapter-face-id/requests/764cabcf-b745-4b3e-ae38-1200304cf45b"

    func adapter() throws -> LoadedAdapter { try LoadedAdapter(path: try AdapterTests.library("ExampleC")) }

    func testManifestIsValidAndDeclaresTheFalSurface() throws {
        let a = try adapter()
        let m = a.manifest, s = m.surface
        XCTAssertEqual(ManifestValidator.problems(m), [])
        XCTAssertEqual(m.name, "example-c")
        XCTAssertEqual(m.provider, "fal")
        XCTAssertEqual(m.model, "fal-ai/ip-adapter-face-id")
        XCTAssertEqual(s.referenceFields, ["face_image_url"])
        XCTAssertEqual(s.maxReferences, 1)
        XCTAssertEqual(s.negativePrompt, .init(supported: true, weighting: "plain"))
        XCTAssertEqual(s.strengthKnobs, [], "ip-adapter-face-id on fal has no identity-strength field")
        XCTAssertEqual(s.mode, "poll")
        XCTAssertEqual(s.auth, .init(scheme: "key", credential: "FAL_KEY"))
        XCTAssertEqual(s.allowedHosts, ["queue.fal.run", "fal.media", "v2.fal.media", "v3.fal.media", "v3b.fal.media"])
        XCTAssertEqual(s.outputs, ["image"])
        XCTAssertNil(s.promptTrigger)
    }

    func testGoldenSubmitRequest() throws {
        let a = try adapter()
        let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png])
        XCTAssertEqual(plans.count, 1)
        let golden = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: AdapterTests.fixtures + "/adapters/example-c.submit.json"))) as? [String: Any])
        let p = plans[0]
        XCTAssertEqual(p.purpose, golden["purpose"] as? String)
        XCTAssertEqual(p.method, golden["method"] as? String)
        XCTAssertEqual(p.url, golden["url"] as? String)
        XCTAssertEqual(p.headers, golden["headers"] as? [String: String])
        XCTAssertEqual(p.authenticated, golden["authenticated"] as? Bool)
        XCTAssertNil(p.multipart)
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((p.jsonBody ?? "").utf8)) as? NSDictionary)
        XCTAssertEqual(body, golden["body"] as? NSDictionary)
        XCTAssertFalse(AdapterJSON.encode(plans).lowercased().contains("authorization"))
        XCTAssertFalse(AdapterJSON.encode(plans).contains("FAL_KEY"))
    }

    /// The adapter's own base64 against Foundation's, for every tail length (0, 1 and 2 padding bytes)
    /// and every byte value; the seed is kept in a positive 32-bit int; text survives as UTF-8.
    func testDataURLSeedAndTextRoundTrip() throws {
        let a = try adapter()
        func body(_ r: AdapterRequest, _ image: AdapterImage) throws -> [String: Any] {
            let p = try XCTUnwrap(a.buildRequest(r, images: [image]).first)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data((p.jsonBody ?? "").utf8)) as? [String: Any])
        }
        var generator = SystemRandomNumberGenerator()
        for n in [1, 2, 3, 4, 5, 6, 7, 256, 1000] {
            let bytes = n == 256 ? (0..<256).map { UInt8($0) } : (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let image = AdapterImage(bytes: bytes, mimeType: n % 2 == 0 ? "image/jpeg" : "image/png")
            XCTAssertEqual(try body(AdapterTests.goldenRequest, image)["face_image_url"] as? String, image.dataURL, "\(n) bytes")
        }
        var r = AdapterTests.goldenRequest
        r.seed = UInt64.max
        r.prompt = "portrait d'Adèle, 東京, \"quoted\" \\ back\nslash 😀"
        r.negativePrompt = "blurry\t</script>"
        let b = try body(r, AdapterTests.png)
        XCTAssertEqual((b["seed"] as? NSNumber)?.uint64Value, UInt64.max % 2_147_483_647)
        XCTAssertEqual(b["prompt"] as? String, r.prompt)
        XCTAssertEqual(b["negative_prompt"] as? String, r.negativePrompt)
        XCTAssertEqual(b["num_samples"] as? Int, 1)
        // Extra references are ignored (the model takes one face); the first one is sent.
        let second = AdapterImage(bytes: [1, 2, 3], mimeType: "image/png")
        XCTAssertEqual(try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png, second]).count, 1)
        XCTAssertEqual(try body(AdapterTests.goldenRequest, AdapterTests.png)["face_image_url"] as? String, AdapterTests.png.dataURL)
    }

    func testBuildFailuresAreTypedErrors() throws {
        let a = try adapter()
        func code(_ r: AdapterRequest, _ images: [AdapterImage]) -> String? {
            do { _ = try a.buildRequest(r, images: images); return nil } catch { return (error as? AdapterError)?.code }
        }
        XCTAssertEqual(code(AdapterTests.goldenRequest, []), "invalid_request")
        XCTAssertEqual(code(AdapterTests.goldenRequest, [AdapterImage(bytes: [1], mimeType: "image/gif")]), "invalid_request")
        XCTAssertEqual(code(AdapterTests.goldenRequest, [AdapterImage(bytes: [], mimeType: "image/png")]), "invalid_request")
        var r = AdapterTests.goldenRequest
        r.width = 0
        XCTAssertEqual(code(r, [AdapterTests.png]), "invalid_request")
        r = AdapterTests.goldenRequest
        r.height = 100_000
        XCTAssertEqual(code(r, [AdapterTests.png]), "invalid_request")
    }

    func testQueueLifecycle() throws {
        let a = try adapter()
        func parse(_ purpose: String, _ status: Int, _ body: String) throws -> JobUpdate {
            try a.parseResponse(AdapterResponse(purpose: purpose, status: status, headers: ["content-type": "application/json"]), body: Array(body.utf8))
        }
        let id = "764cabcf-b745-4b3e-ae38-1200304cf45b", base = Self.requestURL
        let submitted = try parse("submit", 200, #"{"request_id":"\#(id)","response_url":"\#(base)","status_url":"\#(base)/status","cancel_url":"\#(base)/cancel"}"#)
        XCTAssertEqual(submitted, JobUpdate(state: "queued", pollURL: base + "/status", jobId: id))
        let queued = try parse("poll", 202, #"{"status":"IN_QUEUE","queue_position":3,"response_url":"\#(base)"}"#)
        XCTAssertEqual(queued, JobUpdate(state: "queued", pollURL: base + "/status"))
        let running = try parse("poll", 202, #"{"status":"IN_PROGRESS","response_url":"\#(base)","logs":[]}"#)
        XCTAssertEqual(running, JobUpdate(state: "running", pollURL: base + "/status"))
        // COMPLETED: the job is done but the result is one more GET away: running, polling the response URL.
        let completed = try parse("poll", 200, #"{"status":"COMPLETED","response_url":"\#(base)","logs":null}"#)
        XCTAssertEqual(completed, JobUpdate(state: "running", pollURL: base))
        let result = try parse("poll", 200, #"{"image":{"url":"https://fal.media/files/koala/abc.png","width":1024,"height":1024,"content_type":"image/png"},"seed":42}"#)
        XCTAssertEqual(result, JobUpdate(state: "succeeded", outputs: [.init(url: "https://fal.media/files/koala/abc.png", kind: "image")]))
        let list = try parse("poll", 200, #"{"images":[{"url":"https://fal.media/files/a.png"},{"url":"https://fal.media/files/b.png"}],"seed":1}"#)
        XCTAssertEqual(list.outputs.map(\.url), ["https://fal.media/files/a.png", "https://fal.media/files/b.png"])
        XCTAssertEqual(list.state, "succeeded")
    }

    func testErrorMapping() throws {
        let a = try adapter()
        func error(_ status: Int, _ body: String, purpose: String = "submit", headers: [String: String] = [:]) -> AdapterError? {
            do { _ = try a.parseResponse(AdapterResponse(purpose: purpose, status: status, headers: headers), body: Array(body.utf8)); return nil }
            catch { return error as? AdapterError }
        }
        let detail = #"{"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"},{"loc":["body","width"],"msg":"ensure this value is less than or equal to 2048","type":"value_error"}]}"#
        let auth = error(401, #"{"detail":"Authentication is required to access this resource."}"#)
        XCTAssertEqual(auth?.code, "auth"); XCTAssertEqual(auth?.retryable, false)
        XCTAssertTrue(auth?.message.contains("Authentication is required") ?? false, auth?.message ?? "")
        XCTAssertEqual(error(403, "{}")?.code, "auth")
        let invalid = error(422, detail)
        XCTAssertEqual(invalid?.code, "invalid_request"); XCTAssertEqual(invalid?.retryable, false)
        XCTAssertTrue(invalid?.message.contains("field required; ensure this value is less than or equal to 2048") ?? false, invalid?.message ?? "")
        XCTAssertEqual(error(422, #"{"detail":[{"msg":"No face detected in the image"}]}"#, purpose: "poll")?.code, "no_face")

        let throttled = error(429, detail, headers: ["retry-after": "7"])
        XCTAssertEqual(throttled?.code, "rate_limited"); XCTAssertEqual(throttled?.retryable, true); XCTAssertEqual(throttled?.retryAfterSeconds, 7)
        let bare = error(429, "{}")
        XCTAssertEqual(bare?.code, "rate_limited"); XCTAssertEqual(bare?.retryable, true); XCTAssertNil(bare?.retryAfterSeconds)
        XCTAssertNil(error(429, "{}", headers: ["retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"])?.retryAfterSeconds, "HTTP-dates are not used")
        XCTAssertNil(error(429, "{}", headers: ["retry-after": "-3"])?.retryAfterSeconds)

        let server = error(500, "<html>internal error</html>")
        XCTAssertEqual(server?.code, "server"); XCTAssertEqual(server?.retryable, true)
        XCTAssertEqual(error(503, "{}", headers: ["retry-after": "2"])?.retryAfterSeconds, 2)
        XCTAssertEqual(error(503, "{}", headers: ["x-fal-retryable": "false"])?.retryable, false)
        XCTAssertEqual(error(302, "{}")?.code, "server")

        // Malformed 2xx bodies.
        XCTAssertEqual(error(200, "not json")?.code, "malformed_response")
        XCTAssertEqual(error(200, "")?.code, "malformed_response")
        XCTAssertEqual(error(200, "[1,2]")?.code, "malformed_response")
        XCTAssertEqual(error(200, #"{"a":1} trailing"#)?.code, "malformed_response")
        XCTAssertEqual(error(200, #"{"request_id":"r1"}"#)?.code, "malformed_response", "submit answer without status_url")
        XCTAssertEqual(error(200, #"{"request_id":"r1","status_url":"https://evil.example/r1/status"}"#)?.code, "malformed_response",
                       "a poll URL off the queue host is refused")
        XCTAssertEqual(error(200, #"{"status":"TELEPORTED","response_url":"\#(Self.requestURL)"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(error(200, #"{"status":"COMPLETED"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(error(200, #"{"seed":42}"#, purpose: "poll")?.code, "malformed_response", "result without image")
        XCTAssertEqual(error(200, #"{"image":{"url":"javascript:alert(1)"}}"#, purpose: "poll")?.code, "malformed_response")
        do { // Invalid UTF-8 inside an otherwise good submit answer: refused, never passed on to the host's decoder.
            let bytes = Array(#"{"request_id":"r"#.utf8) + [0xFF] + Array(#"","status_url":"\#(Self.requestURL)/status"}"#.utf8)
            _ = try a.parseResponse(AdapterResponse(purpose: "submit", status: 200, headers: [:]), body: bytes)
            XCTFail("invalid UTF-8 accepted")
        } catch { XCTAssertEqual((error as? AdapterError)?.code, "malformed_response", "\(error)") }
        XCTAssertEqual(error(200, "{}", purpose: "cancel")?.code, "unsupported")

        // Hostile input: typed errors, never a crash.
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertEqual(error(200, deep)?.code, "malformed_response")
        XCTAssertEqual(error(200, String(repeating: #"{"a":"#, count: 50_000), purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(error(401, deep)?.code, "auth")
        let huge = error(400, #"{"detail":""# + String(repeating: "é", count: 1_000_000) + #""}"#)
        XCTAssertEqual(huge?.code, "invalid_request")
        XCTAssertLessThanOrEqual(huge?.message.utf8.count ?? .max, 1024, "provider text is bounded in the message")
        do {
            _ = try a.parseResponse(AdapterResponse(purpose: "submit", status: 200, headers: [:]), body: [0x7B, 0x7D, 0x00, 0x7B])
            XCTFail("a NUL inside the body is not JSON")
        } catch { XCTAssertEqual((error as? AdapterError)?.code, "malformed_response") }
    }

    /// The raw C entry and vtable, as no Swift wrapper would call them: another ABI version is refused,
    /// and NULL pointers get typed errors.
    func testRawEntryRefusesOtherABIVersionsAndSurvivesNulls() throws {
        let path = try AdapterTests.library("ExampleC")
        let handle = try XCTUnwrap(dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let entry = unsafeBitCast(try XCTUnwrap(dlsym(handle, "studio_adapter_v1")), to: studio_adapter_entry_v1.self)
        XCTAssertNil(entry(2), "ABI 2 is refused")
        XCTAssertNil(entry(0), "ABI 0 is refused")
        XCTAssertNil(entry(UInt32.max))
        let table = try XCTUnwrap(entry(studio_adapter_abi_version()))
        XCTAssertEqual(table.pointee.abi_version, 1)
        XCTAssertEqual(table.pointee.struct_size, studio_adapter_vtable_v1_size())
        // Only the entry point is exported (the base64 helpers are hidden).
        XCTAssertNil(dlsym(handle, "example_base64_encode"))

        func take(_ p: UnsafeMutablePointer<CChar>?) -> ParseResult? {
            guard let p else { return nil }
            defer { table.pointee.free_string!(p) }
            return try? AdapterJSON.decode(ParseResult.self, String(cString: p))
        }
        XCTAssertEqual(take(table.pointee.build_request!(nil, nil, 0))?.error?.code, "invalid_request")
        XCTAssertEqual(take(table.pointee.build_request!(AdapterJSON.encode(AdapterTests.goldenRequest), nil, 3))?.error?.code, "invalid_request",
                       "a count with no images pointer")
        let noBytes = [studio_image(bytes: nil, length: 4, mime_type: nil)]
        noBytes.withUnsafeBufferPointer { b in
            XCTAssertEqual(take(table.pointee.build_request!(AdapterJSON.encode(AdapterTests.goldenRequest), b.baseAddress, 1))?.error?.code, "invalid_request")
        }
        XCTAssertEqual(take(table.pointee.build_request!("{", nil, 0))?.error?.code, "invalid_request")
        XCTAssertEqual(take(table.pointee.parse_response!(nil, nil, 0))?.error?.code, "invalid_request")
        XCTAssertEqual(take(table.pointee.parse_response!(#"{"purpose":"submit"}"#, nil, 0))?.error?.code, "invalid_request")
        XCTAssertEqual(take(table.pointee.parse_response!(#"{"purpose":"submit","status":200,"headers":{}}"#, nil, 10))?.error?.code,
                       "malformed_response", "a length with no body pointer")
        XCTAssertEqual(take(table.pointee.parse_response!(#"{"purpose":"submit","status":200,"headers":{}}"#, nil, 0))?.error?.code, "malformed_response")
        table.pointee.free_string!(nil)
    }
}
