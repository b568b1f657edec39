import XCTest
import Foundation
import AdapterSDK
@testable import StudioAdapterHost

/// fal-flux-pulid (PuLID for FLUX on fal's queue), loaded through dlopen and the C vtable.
final class FalFluxPuLIDTests: XCTestCase {
    typealias T = FluxPuLIDAndRunwayTests

    static func load() throws -> LoadedAdapter { try LoadedAdapter(path: try AdapterTests.library("FalFluxPuLID")) }


    let base = "https://queue.fal.run/fal-ai/flux-pulid/requests/0f3c-9a_b"

    /// A result body with the given images and `has_nsfw_concepts` (raw JSON).
    func result(_ urls: [String], nsfw: String = "[false]") -> String {
        let images = urls.map { #"{"url":\#(AdapterJSON.encode([$0]).dropFirst().dropLast()),"width":1024,"height":1024,"content_type":"image/jpeg"}"# }
        return #"{"images":[\#(images.joined(separator: ","))],"seed":42,"has_nsfw_concepts":\#(nsfw),"timings":{"inference":3.2}}"#
    }

    func testGoldenRequestThroughTheCVTable() throws {
        let a = try Self.load()
        let m = a.manifest
        XCTAssertEqual(m.name, "fal-flux-pulid")
        XCTAssertEqual(m.provider, "fal")
        XCTAssertEqual(m.model, "fal-ai/flux-pulid")
        XCTAssertEqual(m.surface.outputs, ["image"])
        XCTAssertEqual(m.surface.mode, "poll")
        XCTAssertEqual(m.surface.auth, .init(scheme: "key", credential: "FAL_KEY"))
        XCTAssertEqual(m.surface.referenceFields, ["reference_image_url"])
        XCTAssertEqual(m.surface.maxReferences, 1)
        XCTAssertTrue(m.surface.negativePrompt.supported)
        XCTAssertEqual(m.surface.negativePrompt.weighting, "plain")
        XCTAssertTrue(m.surface.negativePrompt.condition?.hasPrefix("true_cfg > 1") ?? false, "\(String(describing: m.surface.negativePrompt.condition))")
        XCTAssertEqual(m.surface.strengthKnobs.map(\.name), ["id_weight", "start_step", "true_cfg"])
        XCTAssertEqual(m.surface.strengthKnobs.map(\.defaultValue), [1, 0, 1])
        XCTAssertEqual(m.surface.allowedHosts, ["queue.fal.run", "fal.media", "v2.fal.media", "v3.fal.media", "v3b.fal.media"])
        XCTAssertEqual(ManifestValidator.problems(m), [])
        // Same hosts as the other fal adapter: both come from FalQueue.
        XCTAssertEqual(m.surface.allowedHosts, try KlingAdaptersTests.load("FalKlingI2V").manifest.surface.allowedHosts)

        let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png, AdapterTests.png])
        XCTAssertEqual(plans.count, 1)
        try assertMatchesGolden(plans[0], "fal-flux-pulid.submit.json")
        XCTAssertNil(ManifestValidator.problem(plan: plans[0], manifest: m))
        XCTAssertFalse(AdapterJSON.encode(plans).lowercased().contains("authorization"))
    }

    func testStrictnessExtremesMapOntoTheKnobs() throws {
        let a = try Self.load()
        // Loosest: strength 0 and level 0 -> no identity weight, identity injected from step 1.
        let loose = try body(a) { $0.strictness = .init(level: 0, identityStrength: 0) }
        XCTAssertEqual(loose["id_weight"] as? Double, 0)
        XCTAssertEqual(loose["start_step"] as? Int, 1)
        // Strictest: strength 1 and the top level -> fal's maximum id_weight 1 from step 0.
        let strict = try body(a) { $0.strictness = .init(level: 4, identityStrength: 1) }
        XCTAssertEqual(strict["id_weight"] as? Double, 1)
        XCTAssertEqual(strict["start_step"] as? Int, 0)
        // Linear up to the anchor, then capped: fal's id_weight stops at 1 (fal-js's schema).
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 0.375 }["id_weight"] as? Double, 0.5)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 0.75 }["id_weight"] as? Double, 1)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 0.85 }["id_weight"] as? Double, 1)
        // Out of range and non-finite strengths clamp (NaN counts as the usual 0.75).
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = 7 }["id_weight"] as? Double, 1)
        XCTAssertEqual(try body(a) { $0.strictness.identityStrength = -2 }["id_weight"] as? Double, 0)
        XCTAssertEqual(try body(a) { $0.strictness.level = 2 }["start_step"] as? Int, 0)
        XCTAssertEqual(try body(a) { $0.strictness.level = 1 }["start_step"] as? Int, 1)
        // Every value stays inside the manifest's knob ranges.
        let knobs = Dictionary(uniqueKeysWithValues: a.manifest.surface.strengthKnobs.map { ($0.name, $0) })
        for s in stride(from: -0.5, through: 1.5, by: 0.05) {
            for level in 0...4 {
                let b = try body(a) { $0.strictness = .init(level: level, identityStrength: s) }
                for name in ["id_weight", "start_step", "true_cfg"] {
                    let v = try XCTUnwrap((b[name] as? NSNumber)?.doubleValue, name)
                    let k = try XCTUnwrap(knobs[name])
                    XCTAssertTrue((k.minimum...k.maximum).contains(v), "\(name) \(v) at strength \(s), level \(level)")
                }
            }
        }
    }

    func testNegativePromptTogglesTrueCFG() throws {
        let a = try Self.load()
        let with = try body(a)
        XCTAssertEqual(with["negative_prompt"] as? String, "blurry, blue eyes, green eyes")
        XCTAssertEqual(with["true_cfg"] as? Double, 1.5, "a negative prompt only applies when true_cfg > 1")
        for blank in ["", "  ", "\n\t"] {
            let without = try body(a) { $0.negativePrompt = blank }
            XCTAssertNil(without["negative_prompt"], "blank negative prompt is omitted")
            XCTAssertEqual(without["true_cfg"] as? Double, 1, "no negative prompt: true_cfg stays at the model's default")
        }
        XCTAssertEqual(try body(a) { $0.negativePrompt = "  blurry \n" }["negative_prompt"] as? String, "blurry")
        // The weighted form is never sent: flux-pulid reads plain text.
        XCTAssertFalse(try XCTUnwrap(try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png]).first?.jsonBody).contains("(blue eyes:1.5)"))
    }

    func testSizeSeedAndReferenceChecks() throws {
        let a = try Self.load()
        let size = try XCTUnwrap(try body(a) { $0.width = 896; $0.height = 1152 }["image_size"] as? [String: Any])
        XCTAssertEqual(size["width"] as? Int, 896); XCTAssertEqual(size["height"] as? Int, 1152)
        XCTAssertEqual(size.count, 2)
        let clamped = try XCTUnwrap(try body(a) { $0.width = 4096; $0.height = -5 }["image_size"] as? [String: Any])
        XCTAssertEqual(clamped["width"] as? Int, 1536); XCTAssertEqual(clamped["height"] as? Int, 256)
        XCTAssertEqual(try body(a) { $0.seed = 7 }["seed"] as? Int, 7)
        XCTAssertEqual(try body(a) { $0.seed = 2_147_483_646 }["seed"] as? Int, 2_147_483_646)
        XCTAssertEqual(try body(a) { $0.seed = UInt64.max }["seed"] as? Int, Int(UInt64.max % 2_147_483_647))
        XCTAssertNil(try body(a)["num_inference_steps"]); XCTAssertNil(try body(a)["guidance_scale"])
        let jpeg = AdapterImage(bytes: [0xFF, 0xD8, 0xFF], mimeType: "image/jpeg")
        XCTAssertEqual(try body(a, images: [jpeg, AdapterTests.png])["reference_image_url"] as? String, "data:image/jpeg;base64,/9j/")
        XCTAssertEqual(try body(a) { $0.prompt = "  portrait \n" }["prompt"] as? String, "portrait")
        XCTAssertEqual(buildError(a, images: [])?.code, "invalid_request")
        XCTAssertEqual(buildError(a, images: [AdapterImage(bytes: [1], mimeType: "text/plain")])?.code, "invalid_request")
        XCTAssertEqual(buildError(a, images: [AdapterImage(bytes: [], mimeType: "image/png")])?.code, "invalid_request")
        XCTAssertEqual(buildError(a) { $0.prompt = " \n" }?.code, "invalid_request")
    }

    func testQueueLifecycleAndResult() throws {
        let a = try Self.load()
        let submitted = try T.parse(a, 200, #"{"request_id":"0f3c-9a_b","status_url":"\#(base)/status","response_url":"\#(base)","cancel_url":"\#(base)/cancel"}"#).get()
        let cancel = HTTPRequestPlan(purpose: "cancel", method: "PUT", url: base + "/cancel")
        XCTAssertEqual(submitted, JobUpdate(state: "queued", pollURL: base + "/status", jobId: "0f3c-9a_b", cancel: cancel))
        let queued = try T.parse(a, 202, #"{"status":"IN_QUEUE","queue_position":2,"response_url":"\#(base)"}"#, purpose: "poll").get()
        XCTAssertEqual(queued, JobUpdate(state: "queued", pollURL: base + "/status", jobId: "0f3c-9a_b", cancel: cancel))
        let running = try T.parse(a, 202, #"{"status":"IN_PROGRESS","response_url":"\#(base)","status_url":"\#(base)/status?logs=1","request_id":"0f3c-9a_b"}"#, purpose: "poll").get()
        XCTAssertEqual(running, JobUpdate(state: "running", pollURL: base + "/status?logs=1", jobId: "0f3c-9a_b", cancel: cancel))
        let completed = try T.parse(a, 200, #"{"status":"COMPLETED","response_url":"\#(base)"}"#, purpose: "poll").get()
        XCTAssertEqual(completed, JobUpdate(state: "running", pollURL: base, jobId: "0f3c-9a_b"))
        let done = try T.parse(a, 200, result(["https://v3.fal.media/files/lion/out.jpg"]), purpose: "poll").get()
        XCTAssertEqual(done, JobUpdate(state: "succeeded", outputs: [.init(url: "https://v3.fal.media/files/lion/out.jpg", kind: "image")]))
        let two = try T.parse(a, 200, result(["https://fal.media/a.jpg", "https://fal.media/b.jpg"], nsfw: "[false,false]"), purpose: "poll").get()
        XCTAssertEqual(two.outputs.map(\.url), ["https://fal.media/a.jpg", "https://fal.media/b.jpg"])
        XCTAssertEqual(two.outputs.map(\.kind), ["image", "image"])
        // has_nsfw_concepts absent, null or a lone false: nothing flagged.
        XCTAssertEqual(try T.parse(a, 200, #"{"images":[{"url":"https://fal.media/a.jpg"}]}"#, purpose: "poll").get().state, "succeeded")
        XCTAssertEqual(try T.parse(a, 200, result(["https://fal.media/a.jpg"], nsfw: "null"), purpose: "poll").get().state, "succeeded")
        XCTAssertEqual(try T.parse(a, 200, result(["https://fal.media/a.jpg"], nsfw: "false"), purpose: "poll").get().state, "succeeded")
    }

    func testNSFWIsContentFilteredAndRetryable() throws {
        let a = try Self.load()
        let flagged = T.error(a, 200, result(["https://fal.media/a.jpg"], nsfw: "[true]"), purpose: "poll")
        XCTAssertEqual(flagged?.code, "content_filtered"); XCTAssertEqual(flagged?.retryable, true)
        XCTAssertTrue(flagged?.message.contains("has_nsfw_concepts") ?? false, "\(String(describing: flagged))")
        let second = T.error(a, 200, result(["https://fal.media/a.jpg", "https://fal.media/b.jpg"], nsfw: "[false,true]"), purpose: "poll")
        XCTAssertEqual(second?.code, "content_filtered"); XCTAssertEqual(second?.retryable, true)
        XCTAssertTrue(second?.message.contains("image 1 of 2") ?? false, "\(String(describing: second))")
        XCTAssertEqual(T.error(a, 200, result(["https://fal.media/a.jpg"], nsfw: "true"), purpose: "poll")?.code, "content_filtered")
    }

    func testHostileBodiesAreTypedErrors() throws {
        let a = try Self.load()
        func malformed(_ status: Int, _ body: String, purpose: String = "poll", line: UInt = #line) {
            let e = T.error(a, status, body, purpose: purpose)
            XCTAssertEqual(e?.code, "malformed_response", String(body.prefix(120)), line: line)
            XCTAssertEqual(e?.retryable, false, line: line)
        }
        // Queue answers cannot point polls away from queue.fal.run.
        malformed(200, #"{"request_id":"r-1","status_url":"https://evil.example/status"}"#, purpose: "submit")
        malformed(200, #"{"request_id":"r-1","status_url":"https://queue.fal.run.evil.example/x"}"#, purpose: "submit")
        malformed(200, #"{"request_id":"../x","status_url":"\#(base)/status"}"#, purpose: "submit")
        malformed(200, #"{"request_id":"r-1"}"#, purpose: "submit")
        malformed(200, #"{"request_id":"\#(String(repeating: "a", count: 129))","status_url":"\#(base)/status"}"#, purpose: "submit")
        malformed(200, #"{"request_id":"r-1","status_url":"\#(base)/\#(String(repeating: "s", count: 5000))"}"#, purpose: "submit")
        malformed(200, #"{"status":"COMPLETED","response_url":"http://queue.fal.run/x"}"#)
        malformed(200, #"{"status":"COMPLETED","response_url":"https://queue.fal.run/a b"}"#)
        malformed(200, #"{"status":"COMPLETED"}"#)
        malformed(200, #"{"status":7,"response_url":"\#(base)"}"#)
        malformed(200, #"{"status":"SLEEPING","response_url":"\#(base)"}"#)
        // Results: images must be a non-empty, bounded list of objects with plain https URLs.
        malformed(200, "{}")
        malformed(200, #"{"images":[]}"#)
        malformed(200, #"{"images":"https://fal.media/a.jpg"}"#)
        malformed(200, #"{"images":[{"url":null}]}"#)
        malformed(200, #"{"images":["https://fal.media/a.jpg"]}"#)
        malformed(200, result(["javascript:alert(1)"]))
        malformed(200, result(["http://fal.media/a.jpg"]))
        malformed(200, result(["https:///nohost.jpg"]))
        malformed(200, result(["https://fal.media/a\u{7}.jpg"]))
        malformed(200, result(["https://fal.media/" + String(repeating: "x", count: 5000)]))
        malformed(200, result(Array(repeating: "https://fal.media/a.jpg", count: 17), nsfw: "[]"))
        malformed(200, #"{"video":{"url":"https://fal.media/a.mp4"}}"#)
        // has_nsfw_concepts of the wrong shape.
        malformed(200, result(["https://fal.media/a.jpg"], nsfw: #""no""#))
        malformed(200, result(["https://fal.media/a.jpg"], nsfw: #"["yes"]"#))
        malformed(200, result(["https://fal.media/a.jpg"], nsfw: "{}"))
        // Not JSON objects, deep nesting.
        malformed(200, "not json")
        malformed(200, "[1,2]")
        malformed(200, String(repeating: "[", count: 100_000), purpose: "submit")
        malformed(200, #"{"images":"# + String(repeating: "[", count: 100_000))
        XCTAssertEqual(T.error(a, 200, "{}", purpose: "cancel")?.code, "unsupported")
    }

    func testErrorMapping() throws {
        let a = try Self.load()
        let detail = #"{"detail":[{"loc":["body","reference_image_url"],"msg":"Could not detect a face","type":"value_error"}]}"#
        let invalid = T.error(a, 422, detail)
        XCTAssertEqual(invalid?.code, "invalid_request"); XCTAssertEqual(invalid?.retryable, false)
        XCTAssertTrue(invalid?.message.contains("body.reference_image_url: Could not detect a face") ?? false, "\(String(describing: invalid))")
        let auth = T.error(a, 401, #"{"detail":"Invalid Key"}"#)
        XCTAssertEqual(auth?.code, "auth"); XCTAssertEqual(auth?.retryable, false)
        XCTAssertTrue(auth?.message.contains("Invalid Key") ?? false)
        XCTAssertEqual(T.error(a, 403, "{}")?.code, "auth")
        let throttled = T.error(a, 429, #"{"detail":"Too many requests"}"#, headers: ["retry-after": "7"])
        XCTAssertEqual(throttled?.code, "rate_limited"); XCTAssertEqual(throttled?.retryable, true); XCTAssertEqual(throttled?.retryAfterSeconds, 7)
        let bare = T.error(a, 429, "{}")
        XCTAssertEqual(bare?.code, "rate_limited"); XCTAssertEqual(bare?.retryable, true); XCTAssertNil(bare?.retryAfterSeconds)
        for status in [500, 502, 503, 504] {
            let e = T.error(a, status, "<html>gateway</html>", purpose: "poll")
            XCTAssertEqual(e?.code, "server"); XCTAssertEqual(e?.retryable, true)
        }
        XCTAssertEqual(T.error(a, 503, "{}", headers: ["retry-after": "30"])?.retryAfterSeconds, 30)
        let final = T.error(a, 500, detail, headers: ["x-fal-retryable": " False "])
        XCTAssertEqual(final?.code, "server"); XCTAssertEqual(final?.retryable, false)
        XCTAssertTrue(final?.message.contains("X-Fal-Retryable") ?? false)
        XCTAssertEqual(T.error(a, 500, detail, headers: ["x-fal-retryable": "true"])?.retryable, true)
        XCTAssertEqual(T.error(a, 422, detail, headers: ["x-fal-retryable": "true"])?.retryable, false, "4xx stays final")
        let other = T.error(a, 302, "{}")
        XCTAssertEqual(other?.code, "server"); XCTAssertEqual(other?.retryable, false)
        // Hostile error bodies: bounded messages, control characters replaced, never a crash.
        let long = #"{"detail":""# + String(repeating: "x", count: 10_000) + #""}"#
        XCTAssertLessThan(T.error(a, 400, long)?.message.count ?? .max, 600)
        let control = T.error(a, 400, #"{"detail":"bad\u0000\u001b[31mred"}"#)
        XCTAssertEqual(control?.code, "invalid_request")
        XCTAssertFalse(control?.message.unicodeScalars.contains { $0.properties.generalCategory == .control } ?? true)
        XCTAssertEqual(T.error(a, 400, String(repeating: "{", count: 100_000))?.code, "invalid_request")
        XCTAssertEqual(T.error(a, 422, #"{"detail":[1,{"msg":2}]}"#)?.code, "invalid_request")
    }
}
