import XCTest
import Foundation
import AdapterSDK
@testable import StudioAdapterHost

/// fal-kling-i2v and kling-image2video (video adapters), loaded through dlopen and the C vtable.
final class KlingAdaptersTests: XCTestCase {
    typealias T = FluxPuLIDAndRunwayTests

    static func load(_ name: String) throws -> LoadedAdapter { try LoadedAdapter(path: try AdapterTests.library(name)) }


    // MARK: - fal-kling-i2v

    func testFalKlingGoldenRequestThroughTheCVTable() throws {
        let a = try Self.load("FalKlingI2V")
        let m = a.manifest
        XCTAssertEqual(m.name, "fal-kling-i2v")
        XCTAssertEqual(m.surface.outputs, ["video"])
        XCTAssertEqual(m.surface.auth, .init(scheme: "key", credential: "FAL_KEY"))
        XCTAssertEqual(m.surface.mode, "poll")
        XCTAssertEqual(m.surface.referenceFields, ["image_url"])
        XCTAssertEqual(m.surface.strengthKnobs.map(\.name), ["cfg_scale"])
        XCTAssertEqual(m.surface.strengthKnobs.first?.defaultValue, 0.5)
        XCTAssertTrue(m.surface.allowedHosts.contains("queue.fal.run"))
        XCTAssertEqual(ManifestValidator.problems(m), [])
        let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png, AdapterTests.png])
        XCTAssertEqual(plans.count, 1)
        try assertMatchesGolden(plans[0], "fal-kling-i2v.submit.json")
        XCTAssertFalse(AdapterJSON.encode(plans).lowercased().contains("authorization"))
    }

    func testFalKlingMapping() throws {
        let a = try Self.load("FalKlingI2V")
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 0 }["cfg_scale"] as? Double, 0)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 0.5 }["cfg_scale"] as? Double, 0.5)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 3 }["cfg_scale"] as? Double, 1)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = -1 }["cfg_scale"] as? Double, 0)
        XCTAssertNil(try body(a) { $0.negativePrompt = "  " }["negative_prompt"], "blank negative prompt: fal's default applies")
        let jpeg = AdapterImage(bytes: [0xFF, 0xD8, 0xFF], mimeType: "image/jpeg")
        XCTAssertEqual(try body(a, images: [jpeg])["image_url"] as? String, "data:image/jpeg;base64,/9j/")
        XCTAssertEqual(buildError(a, images: [])?.code, "invalid_request")
        XCTAssertEqual(buildError(a, images: [AdapterImage(bytes: [1], mimeType: "text/plain")])?.code, "invalid_request")
        XCTAssertEqual(buildError(a) { $0.prompt = " \n" }?.code, "invalid_request")
    }

    func testFalKlingQueueLifecycle() throws {
        let a = try Self.load("FalKlingI2V")
        let base = "https://queue.fal.run/fal-ai/kling-video/requests/r-1"
        let submitted = try T.parse(a, 200, #"{"request_id":"r-1","status_url":"\#(base)/status","response_url":"\#(base)","cancel_url":"\#(base)/cancel"}"#).get()
        let cancel = HTTPRequestPlan(purpose: "cancel", method: "PUT", url: base + "/cancel")
        XCTAssertEqual(submitted, JobUpdate(state: "queued", pollURL: base + "/status", jobId: "r-1", cancel: cancel))
        let queued = try T.parse(a, 202, #"{"status":"IN_QUEUE","queue_position":3,"response_url":"\#(base)"}"#, purpose: "poll").get()
        XCTAssertEqual(queued, JobUpdate(state: "queued", pollURL: base + "/status", jobId: "r-1", cancel: cancel))
        let running = try T.parse(a, 202, #"{"status":"IN_PROGRESS","response_url":"\#(base)","request_id":"r-1"}"#, purpose: "poll").get()
        XCTAssertEqual(running, JobUpdate(state: "running", pollURL: base + "/status", jobId: "r-1", cancel: cancel))
        let completed = try T.parse(a, 200, #"{"status":"COMPLETED","response_url":"\#(base)"}"#, purpose: "poll").get()
        XCTAssertEqual(completed, JobUpdate(state: "running", pollURL: base, jobId: "r-1"))
        let done = try T.parse(a, 200, #"{"video":{"url":"https://v3.fal.media/files/x/out.mp4","content_type":"video/mp4"}}"#, purpose: "poll").get()
        XCTAssertEqual(done.state, "succeeded")
        XCTAssertEqual(done.outputs, [.init(url: "https://v3.fal.media/files/x/out.mp4", kind: "video")])
        // A hostile body cannot point the host elsewhere.
        XCTAssertEqual(T.error(a, 200, #"{"request_id":"r-1","status_url":"https://evil.example/status"}"#)?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, #"{"request_id":"../x","status_url":"\#(base)/status"}"#)?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, #"{"status":"COMPLETED","response_url":"http://queue.fal.run/x"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, #"{"status":"SLEEPING","response_url":"\#(base)"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, #"{"video":{"url":"javascript:alert(1)"}}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, #"{"images":[{"url":"https://fal.media/a.png"}]}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, "{}", purpose: "cancel")?.code, "unsupported")
    }

    func testFalKlingErrorMapping() throws {
        let a = try Self.load("FalKlingI2V")
        let detail = #"{"detail":[{"loc":["body","image_url"],"msg":"Unsupported image format","type":"value_error"}]}"#
        let invalid = T.error(a, 422, detail)
        XCTAssertEqual(invalid?.code, "invalid_request"); XCTAssertEqual(invalid?.retryable, false)
        XCTAssertTrue(invalid?.message.contains("body.image_url: Unsupported image format") ?? false, "\(String(describing: invalid))")
        let auth = T.error(a, 401, #"{"detail":"Invalid Key"}"#)
        XCTAssertEqual(auth?.code, "auth"); XCTAssertEqual(auth?.retryable, false)
        XCTAssertTrue(auth?.message.contains("Invalid Key") ?? false)
        let throttled = T.error(a, 429, "{}", headers: ["retry-after": "12"])
        XCTAssertEqual(throttled?.code, "rate_limited"); XCTAssertEqual(throttled?.retryable, true); XCTAssertEqual(throttled?.retryAfterSeconds, 12)
        XCTAssertNil(T.error(a, 429, "{}")?.retryAfterSeconds)
        let server = T.error(a, 503, "<html>gateway</html>")
        XCTAssertEqual(server?.code, "server"); XCTAssertEqual(server?.retryable, true)
        let final = T.error(a, 500, detail, headers: ["x-fal-retryable": "false"])
        XCTAssertEqual(final?.code, "server"); XCTAssertEqual(final?.retryable, false)
        XCTAssertEqual(T.error(a, 500, detail, headers: ["x-fal-retryable": "true"])?.retryable, true)
        XCTAssertEqual(T.error(a, 200, "not json")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, String(repeating: "[", count: 100_000))?.code, "malformed_response")
        let long = #"{"detail":""# + String(repeating: "x", count: 10_000) + #""}"#
        XCTAssertLessThan(T.error(a, 400, long)?.message.count ?? .max, 600)
    }

    // MARK: - kling-image2video

    func testKlingGoldenRequestThroughTheCVTable() throws {
        let a = try Self.load("KlingImage2Video")
        let m = a.manifest
        XCTAssertEqual(m.name, "kling-image2video")
        XCTAssertEqual(m.model, "kling-v1")
        XCTAssertEqual(m.surface.outputs, ["video"])
        XCTAssertEqual(m.surface.auth, .init(scheme: "jwt-hs256", credential: "KLING_SECRET_KEY"))
        XCTAssertEqual(m.surface.negativePrompt.maxLength, 2500)
        XCTAssertTrue(m.surface.allowedHosts.contains("api-singapore.klingai.com"))
        XCTAssertEqual(ManifestValidator.problems(m), [])
        let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png])
        XCTAssertEqual(plans.count, 1)
        try assertMatchesGolden(plans[0], "kling-image2video.submit.json")
        XCTAssertFalse(AdapterJSON.encode(plans).lowercased().contains("authorization"))
        XCTAssertFalse(plans[0].jsonBody?.contains("data:") ?? true, "raw base64, never a data URL")
    }

    func testKlingMappingAndLimits() throws {
        let a = try Self.load("KlingImage2Video")
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 0.25 }["cfg_scale"] as? Double, 0.25)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 9 }["cfg_scale"] as? Double, 1)
        XCTAssertNil(try body(a) { $0.negativePrompt = "" }["negative_prompt"])
        XCTAssertNil(try body(a)["external_task_id"])
        // Negative prompt: cut at a fragment boundary, never inside one.
        let fragment = String(repeating: "n", count: 99)  // 99 characters, 101 with ", "
        let negative = Array(repeating: fragment, count: 40).joined(separator: ", ")  // 4038 characters
        let cut = try XCTUnwrap(try body(a) { $0.negativePrompt = negative }["negative_prompt"] as? String)
        XCTAssertLessThanOrEqual(cut.count, 2500)
        XCTAssertEqual(cut, Array(repeating: fragment, count: 24).joined(separator: ", "))  // 24*99 + 23*2 = 2422
        let exact = Array(repeating: String(repeating: "m", count: 2500), count: 1).joined()
        XCTAssertEqual(try body(a) { $0.negativePrompt = exact }["negative_prompt"] as? String, exact)
        XCTAssertNil(try body(a) { $0.negativePrompt = exact + "m, blurry" }["negative_prompt"], "a first fragment over the limit leaves nothing")
        // The prompt is never cut.
        XCTAssertEqual(buildError(a) { $0.prompt = String(repeating: "p", count: 2501) }?.code, "invalid_request")
        XCTAssertEqual(try body(a) { $0.prompt = String(repeating: "p", count: 2500) }["prompt"] as? String, String(repeating: "p", count: 2500))
        XCTAssertEqual(buildError(a) { $0.prompt = "" }?.code, "invalid_request")
        XCTAssertEqual(buildError(a, images: [])?.code, "invalid_request")
        XCTAssertEqual(buildError(a, images: [AdapterImage(bytes: [1, 2], mimeType: "image/webp")])?.code, "invalid_request")
        XCTAssertEqual(buildError(a, images: [AdapterImage(bytes: [UInt8](repeating: 0, count: 10 * 1024 * 1024 + 1), mimeType: "image/png")])?.code, "invalid_request")
        let jpeg = AdapterImage(bytes: [0xFF, 0xD8, 0xFF], mimeType: "image/jpeg")
        XCTAssertEqual(try body(a, images: [jpeg, AdapterTests.png])["image"] as? String, "/9j/")
    }

    func testKlingTaskLifecycle() throws {
        let a = try Self.load("KlingImage2Video")
        let task = "https://api-singapore.klingai.com/v1/videos/image2video/Ck3x_9-a"
        func envelope(_ status: String, extra: String = "") -> String {
            #"{"code":0,"message":"SUCCEED","request_id":"req-1","data":{"task_id":"Ck3x_9-a","task_status":"\#(status)","created_at":1,"updated_at":2\#(extra)}}"#
        }
        XCTAssertEqual(try T.parse(a, 200, envelope("submitted")).get(), JobUpdate(state: "queued", pollURL: task, jobId: "Ck3x_9-a"))
        XCTAssertEqual(try T.parse(a, 200, envelope("processing"), purpose: "poll").get(), JobUpdate(state: "running", pollURL: task, jobId: "Ck3x_9-a"))
        let done = try T.parse(a, 200, envelope("succeed", extra: #","task_result":{"videos":[{"id":"v1","url":"https://cdn.klingai.com/bs2/x.mp4","duration":"5.1"}]}"#), purpose: "poll").get()
        XCTAssertEqual(done, JobUpdate(state: "succeeded", outputs: [.init(url: "https://cdn.klingai.com/bs2/x.mp4", kind: "video")], jobId: "Ck3x_9-a"))
        let failed = T.error(a, 200, envelope("failed", extra: #","task_status_msg":"generation failed""#), purpose: "poll")
        XCTAssertEqual(failed?.code, "server"); XCTAssertEqual(failed?.retryable, true)
        XCTAssertTrue(failed?.message.contains("generation failed") ?? false)
        XCTAssertEqual(T.error(a, 200, envelope("failed", extra: #","task_status_msg":"Failure to pass the risk control system""#), purpose: "poll")?.code, "content_filtered")
        XCTAssertEqual(T.error(a, 200, envelope("succeed"), purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, envelope("succeed", extra: #","task_result":{"videos":[{"url":"http://cdn.klingai.com/x.mp4"}]}"#), purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, envelope("dreaming"), purpose: "poll")?.code, "malformed_response")
        // The task id goes into a URL path: anything but [A-Za-z0-9_-] is refused.
        for bad in ["../../v1/account", "a/b", "a?b=c", "a b", "", "%2e%2e", "ü"] {
            let o = #"{"code":0,"message":"ok","data":{"task_id":\#(AdapterJSON.encode([bad]).dropFirst().dropLast()),"task_status":"submitted"}}"#
            XCTAssertEqual(T.error(a, 200, o)?.code, "malformed_response", bad)
        }
        XCTAssertEqual(T.error(a, 200, #"{"code":0,"data":{"task_id":12345,"task_status":"submitted"}}"#)?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, envelope("submitted"), purpose: "download")?.code, "unsupported")
    }

    func testKlingErrorMapping() throws {
        let a = try Self.load("KlingImage2Video")
        func err(_ status: Int, _ code: Int?, headers: [String: String] = [:]) -> AdapterError? {
            let c = code.map { #""code":\#($0),"# } ?? ""
            return T.error(a, status, #"{\#(c)"message":"msg \#(code ?? -1)","request_id":"rq-9"}"#, headers: headers)
        }
        for code in 1000...1003 {
            XCTAssertEqual(err(401, code)?.code, "auth"); XCTAssertEqual(err(401, code)?.retryable, false)
        }
        XCTAssertEqual(err(401, 1004)?.code, "auth"); XCTAssertEqual(err(401, 1004)?.retryable, true, "token expired: the host re-signs")
        for code in 1100...1102 {
            XCTAssertEqual(err(429, code)?.code, "auth", "account/arrears"); XCTAssertEqual(err(429, code)?.retryable, false)
        }
        for code in 1200...1201 { XCTAssertEqual(err(400, code)?.code, "invalid_request"); XCTAssertEqual(err(400, code)?.retryable, false) }
        for code in 1300...1301 { XCTAssertEqual(err(400, code)?.code, "content_filtered"); XCTAssertEqual(err(400, code)?.retryable, false) }
        let limited = err(429, 1302, headers: ["retry-after": "4"])
        XCTAssertEqual(limited?.code, "rate_limited"); XCTAssertEqual(limited?.retryable, true); XCTAssertEqual(limited?.retryAfterSeconds, 4)
        XCTAssertEqual(err(429, 1303)?.code, "rate_limited"); XCTAssertEqual(err(429, 1303)?.retryable, true)
        XCTAssertTrue(err(429, 1303)?.message.contains("concurrency") ?? false)
        for code in 5000...5002 { XCTAssertEqual(err(500, code)?.code, "server"); XCTAssertEqual(err(503, code)?.retryable, true) }
        // A nonzero code with HTTP 200 is still an error, mapped by its code.
        XCTAssertEqual(err(200, 1201)?.code, "invalid_request")
        XCTAssertEqual(err(200, 1303)?.code, "rate_limited")
        let unknown = err(200, 4242)
        XCTAssertEqual(unknown?.code, "server"); XCTAssertEqual(unknown?.retryable, false)
        XCTAssertTrue(unknown?.message.contains("4242") ?? false)
        // Message and request id reach the error.
        XCTAssertTrue(err(400, 1200)?.message.contains("msg 1200") ?? false)
        XCTAssertTrue(err(400, 1200)?.message.contains("rq-9") ?? false)
        // Without a known code: the HTTP status decides.
        XCTAssertEqual(err(401, nil)?.code, "auth")
        XCTAssertEqual(T.error(a, 429, "{}")?.code, "rate_limited")
        XCTAssertEqual(T.error(a, 429, "", headers: ["retry-after": "9"])?.retryAfterSeconds, 9)
        XCTAssertEqual(T.error(a, 502, "<html>bad gateway</html>")?.code, "server")
        XCTAssertEqual(T.error(a, 502, "<html>bad gateway</html>")?.retryable, true)
        XCTAssertEqual(err(400, 7777)?.code, "invalid_request")
        XCTAssertEqual(T.error(a, 200, "not json")?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, #"{"message":"no code"}"#)?.code, "malformed_response")
        XCTAssertEqual(T.error(a, 200, String(repeating: "[", count: 100_000))?.code, "malformed_response")
        let long = #"{"code":1200,"message":""# + String(repeating: "y", count: 20_000) + #""}"#
        XCTAssertLessThan(T.error(a, 400, long)?.message.count ?? .max, 600)
    }
}
