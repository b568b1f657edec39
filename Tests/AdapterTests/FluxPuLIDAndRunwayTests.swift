import XCTest
import Foundation
import AdapterSDK
@testable import StudioAdapterHost

/// replicate-flux-pulid and runway-gen4, loaded through dlopen and the C vtable like instant-id.
final class FluxPuLIDAndRunwayTests: XCTestCase {
    static func load(_ name: String) throws -> LoadedAdapter { try LoadedAdapter(path: try AdapterTests.library(name)) }


    static func body(_ plans: [HTTPRequestPlan]) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data((plans.first?.jsonBody ?? "").utf8)) as? [String: Any])
    }

    static func parse(_ a: LoadedAdapter, _ status: Int, _ body: String, purpose: String = "submit",
                      headers: [String: String] = [:]) -> Result<JobUpdate, AdapterError> {
        do { return .success(try a.parseResponse(AdapterResponse(purpose: purpose, status: status, headers: headers), body: Array(body.utf8))) }
        catch let e as AdapterError { return .failure(e) }
        catch { return .failure(AdapterError(code: "not-an-adapter-error", message: "\(error)", retryable: false)) }
    }

    static func error(_ a: LoadedAdapter, _ status: Int, _ body: String, purpose: String = "submit", headers: [String: String] = [:]) -> AdapterError? {
        if case .failure(let e) = parse(a, status, body, purpose: purpose, headers: headers) { return e }
        return nil
    }

    // MARK: - replicate-flux-pulid

    func testFluxPuLIDGoldenRequestThroughTheCVTable() throws {
        let a = try Self.load("ReplicateFluxPuLID")
        XCTAssertEqual(a.manifest.name, "replicate-flux-pulid")
        XCTAssertEqual(a.manifest.surface.referenceFields, ["main_face_image"])
        XCTAssertEqual(a.manifest.surface.auth.credential, "REPLICATE_API_TOKEN")
        XCTAssertTrue(a.manifest.surface.negativePrompt.supported)
        XCTAssertTrue(a.manifest.surface.negativePrompt.condition?.contains("true_cfg > 1") ?? false)
        XCTAssertEqual(a.manifest.surface.strengthKnobs.map(\.name), ["id_weight", "start_step", "true_cfg"])
        let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png])
        XCTAssertEqual(plans.count, 1)
        try assertMatchesGolden(plans[0], "replicate-flux-pulid.submit.json")
        XCTAssertFalse(AdapterJSON.encode(plans).lowercased().contains("authorization"))
    }

    func testFluxPuLIDTrueCFGFollowsTheNegativePromptAndStrictnessMapsOntoKnobs() throws {
        let a = try Self.load("ReplicateFluxPuLID")
        func input(_ edit: (inout AdapterRequest) -> Void) throws -> [String: Any] {
            var r = AdapterTests.goldenRequest; edit(&r)
            return try XCTUnwrap(try Self.body(a.buildRequest(r, images: [AdapterTests.png]))["input"] as? [String: Any])
        }
        let noNegative = try input { $0.negativePrompt = "  " }
        XCTAssertEqual(noNegative["true_cfg"] as? Double, 1, "without a negative prompt true_cfg stays at the model's default")
        XCTAssertEqual(noNegative["negative_prompt"] as? String, "")
        XCTAssertEqual(try input { _ in }["true_cfg"] as? Double, 1.5)
        // id_weight: 0 -> 0, 0.75 -> the model's default 1, 1 -> 3; out of range clamps.
        XCTAssertEqual(try input { $0.strictness.identityStrength = 0 }["id_weight"] as? Double, 0)
        XCTAssertEqual(try input { $0.strictness.identityStrength = 0.375 }["id_weight"] as? Double, 0.5)
        XCTAssertEqual(try input { $0.strictness.identityStrength = 0.75 }["id_weight"] as? Double, 1)
        XCTAssertEqual(try input { $0.strictness.identityStrength = 1 }["id_weight"] as? Double, 3)
        XCTAssertEqual(try input { $0.strictness.identityStrength = 7 }["id_weight"] as? Double, 3)
        // start_step: 0 (highest fidelity) from level 2.
        XCTAssertEqual(try input { $0.strictness.level = 0 }["start_step"] as? Int, 1)
        XCTAssertEqual(try input { $0.strictness.level = 2 }["start_step"] as? Int, 0)
        XCTAssertEqual(try input { $0.strictness.level = 3 }["start_step"] as? Int, 0)
        // Sizes clamp to the model's range; one reference only.
        let big = try input { $0.width = 4096; $0.height = 100 }
        XCTAssertEqual(big["width"] as? Int, 1536); XCTAssertEqual(big["height"] as? Int, 256)
        XCTAssertThrowsError(try a.buildRequest(AdapterTests.goldenRequest, images: [])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
        }
    }

    func testFluxPuLIDResponsesMapToJobStatesAndTypedErrors() throws {
        let a = try Self.load("ReplicateFluxPuLID")
        let poll = "https://api.replicate.com/v1/predictions/p9"
        XCTAssertEqual(try Self.parse(a, 201, #"{"id":"p9","status":"starting","urls":{"get":"\#(poll)"}}"#).get(),
                       JobUpdate(state: "queued", pollURL: poll, jobId: "p9"))
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"p9","status":"processing","urls":{"get":"\#(poll)"}}"#, purpose: "poll").get(),
                       JobUpdate(state: "running", pollURL: poll, jobId: "p9"))
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"p9","status":"succeeded","output":["https://replicate.delivery/y/out-0.png"]}"#).get(),
                       JobUpdate(state: "succeeded", outputs: [.init(url: "https://replicate.delivery/y/out-0.png", kind: "image")], jobId: "p9"))

        let auth = Self.error(a, 401, #"{"title":"Unauthenticated","detail":"You did not pass a valid authentication token"}"#)
        XCTAssertEqual(auth?.code, "auth"); XCTAssertEqual(auth?.retryable, false)
        let throttledBody = Self.error(a, 429, #"{"detail":"Request was throttled. Expected available in 3 seconds."}"#)
        XCTAssertEqual(throttledBody?.code, "rate_limited"); XCTAssertEqual(throttledBody?.retryable, true)
        XCTAssertEqual(throttledBody?.retryAfterSeconds, 3)
        let throttledHeader = Self.error(a, 429, "{}", headers: ["retry-after": "12"])
        XCTAssertEqual(throttledHeader?.code, "rate_limited"); XCTAssertEqual(throttledHeader?.retryAfterSeconds, 12)
        let throttledBare = Self.error(a, 429, "{}")
        XCTAssertEqual(throttledBare?.code, "rate_limited"); XCTAssertNil(throttledBare?.retryAfterSeconds)
        for status in [500, 502, 503] {
            let e = Self.error(a, status, "<html>upstream</html>")
            XCTAssertEqual(e?.code, "server"); XCTAssertEqual(e?.retryable, true)
        }
        XCTAssertEqual(Self.error(a, 422, #"{"detail":"input.id_weight: must be <= 3"}"#)?.code, "invalid_request")
        XCTAssertEqual(Self.error(a, 201, "not json")?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 201, "[1,2]")?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"p9"}"#)?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"p9","status":"succeeded","output":[]}"#)?.code, "content_filtered", "a safety checker withheld the image")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"p9","status":"warping"}"#)?.code, "malformed_response")
        let noFace = Self.error(a, 200, #"{"id":"p9","status":"failed","error":"No face detected in main_face_image"}"#)
        XCTAssertEqual(noFace?.code, "no_face"); XCTAssertEqual(noFace?.retryable, false)
        XCTAssertEqual(Self.error(a, 200, #"{"id":"p9","status":"failed","error":"NSFW content detected"}"#)?.code, "content_filtered")
        let failed = Self.error(a, 200, #"{"id":"p9","status":"failed","error":"CUDA out of memory"}"#)
        XCTAssertEqual(failed?.code, "server"); XCTAssertEqual(failed?.retryable, true)
        XCTAssertEqual(Self.error(a, 200, #"{"id":"p9","status":"canceled"}"#)?.retryable, false)
        XCTAssertEqual(Self.error(a, 200, #"{"id":"p9","status":"aborted"}"#)?.code, "server")
        XCTAssertNotNil(Self.error(a, 200, String(repeating: "[", count: 10_000)), "hostile nesting is an error, not a crash")
    }

    // MARK: - runway-gen4

    func testRunwayGoldenRequestThroughTheCVTable() throws {
        let a = try Self.load("RunwayGen4")
        XCTAssertEqual(a.manifest.name, "runway-gen4")
        XCTAssertEqual(a.manifest.surface.auth.credential, "RUNWAYML_API_SECRET")
        XCTAssertEqual(a.manifest.surface.auth.scheme, "bearer")
        XCTAssertFalse(a.manifest.surface.negativePrompt.supported)
        XCTAssertEqual(a.manifest.surface.strengthKnobs, [])
        XCTAssertEqual(a.manifest.surface.maxReferences, 3)
        XCTAssertTrue(a.manifest.surface.allowedHosts.contains("api.dev.runwayml.com"))
        let plans = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterTests.png])
        XCTAssertEqual(plans.count, 1)
        try assertMatchesGolden(plans[0], "runway-gen4.submit.json")
        let text = AdapterJSON.encode(plans).lowercased()
        XCTAssertFalse(text.contains("authorization"))
        XCTAssertFalse(text.contains("blue eyes") || text.contains("green eyes") || text.contains("blurry"), "the negative prompt never reaches the positive one")
    }

    func testRunwayPromptMentionsEveryTagAndReinforcesIdentityByStrictness() throws {
        let a = try Self.load("RunwayGen4")
        func build(_ images: Int = 1, _ edit: (inout AdapterRequest) -> Void) throws -> [String: Any] {
            var r = AdapterTests.goldenRequest; edit(&r)
            return try Self.body(a.buildRequest(r, images: Array(repeating: AdapterTests.png, count: images)))
        }
        func prompt(_ images: Int = 1, _ edit: (inout AdapterRequest) -> Void) throws -> String {
            try XCTUnwrap(try build(images, edit)["promptText"] as? String)
        }
        let attributes = ["eye_colour": "brown", "hair_colour": "black", "skin_tone": "olive", "face_shape": "oval",
                          "face_width_height_ratio": "0.78", "nose": "straight"]
        // Level 0: identity phrase only; level 1: up to 3 attribute phrases; level 2: all of them.
        XCTAssertEqual(try prompt { $0.strictness.level = 0; $0.character.attributes = attributes },
                       "portrait of @ref1, head turned left, same person as @ref1")
        XCTAssertEqual(try prompt { $0.strictness.level = 1; $0.character.attributes = attributes },
                       "portrait of @ref1, head turned left, same person as @ref1, brown eyes, black hair, olive skin")
        XCTAssertEqual(try prompt { $0.strictness.level = 2; $0.character.attributes = attributes },
                       "portrait of @ref1, head turned left, same person as @ref1, identical face, brown eyes, black hair, olive skin, oval face shape, straight nose")
        // The name is not in the prompt: the tag is prepended. After a full stop the phrase starts a sentence.
        XCTAssertEqual(try prompt { $0.prompt = "A woman reading in a cafe." },
                       "@ref1: A woman reading in a cafe. Same person as @ref1, brown eyes")
        // A prompt already mentioning @ref1 is kept; "Ada" matches case-insensitively, "adam" does not.
        XCTAssertEqual(try prompt { $0.prompt = "@ref1 on a beach" }, "@ref1 on a beach, same person as @ref1, brown eyes")
        XCTAssertEqual(try prompt { $0.prompt = "Ada and adam at dusk" }, "@ref1 and adam at dusk, same person as @ref1, brown eyes")
        XCTAssertEqual(try prompt { $0.prompt = "adam at dusk" }, "@ref1: adam at dusk, same person as @ref1, brown eyes")
        // Three references: three tags, each mentioned; a fourth image is ignored.
        let three = try build(4) { _ in }
        let refs = try XCTUnwrap(three["referenceImages"] as? [[String: String]])
        XCTAssertEqual(refs.map { $0["tag"] }, ["ref1", "ref2", "ref3"])
        XCTAssertEqual(three["promptText"] as? String, "@ref2 @ref3: portrait of @ref1, head turned left, same person as @ref1, brown eyes")
        // Ratio: the nearest allowed one.
        XCTAssertEqual(try build { $0.width = 1920; $0.height = 1080 }["ratio"] as? String, "1920:1080")
        XCTAssertEqual(try build { $0.width = 768; $0.height = 1024 }["ratio"] as? String, "1080:1440")
        XCTAssertEqual(try build { $0.width = 512; $0.height = 512 }["ratio"] as? String, "1024:1024")
        XCTAssertEqual(try build { $0.width = 2100; $0.height = 900 }["ratio"] as? String, "2112:912")
        // Seed fits Runway's 32-bit range.
        XCTAssertEqual(try build { $0.seed = 4_294_967_296 + 5 }["seed"] as? Int, 5)
    }

    func testRunwayPromptLengthTruncatesTheReinforcementNeverThePrompt() throws {
        let a = try Self.load("RunwayGen4")
        var r = AdapterTests.goldenRequest
        r.strictness.level = 2
        r.character.attributes = ["eye_colour": "brown", "hair_colour": "black", "skin_tone": "olive"]
        let user = "portrait of ada, " + String(repeating: "x", count: 940)
        r.prompt = user
        let text = try XCTUnwrap(try Self.body(a.buildRequest(r, images: [AdapterTests.png]))["promptText"] as? String)
        XCTAssertLessThanOrEqual(text.count, 1000)
        XCTAssertTrue(text.hasPrefix("portrait of @ref1, " + String(repeating: "x", count: 940)), "the user's prompt is whole")
        XCTAssertTrue(text.hasSuffix(", same person as @ref1, identical face"), "whole phrases, in order, as many as fit: \(text.suffix(60))")
        // The prompt alone is too long: a typed error, not a cut prompt.
        r.prompt = String(repeating: "y", count: 1001)
        XCTAssertThrowsError(try a.buildRequest(r, images: [AdapterTests.png])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
            XCTAssertTrue((e as? AdapterError)?.message.contains("1000") ?? false)
        }
        XCTAssertThrowsError(try a.buildRequest(AdapterTests.goldenRequest, images: [])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
        }
    }

    func testRunwayResponsesMapToJobStatesAndTypedErrors() throws {
        let a = try Self.load("RunwayGen4")
        let id = "17f20503-6c24-4c16-946b-35dbbce2af2f"
        let poll = "https://api.dev.runwayml.com/v1/tasks/\(id)"
        // Runway cancels (or deletes) a task with DELETE /v1/tasks/{id}.
        let cancel = HTTPRequestPlan(purpose: "cancel", method: "DELETE", url: poll)
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"\#(id)"}"#).get(), JobUpdate(state: "queued", pollURL: poll, jobId: id, cancel: cancel))
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"\#(id)","status":"PENDING"}"#, purpose: "poll").get().state, "queued")
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"\#(id)","status":"THROTTLED"}"#, purpose: "poll").get(),
                       JobUpdate(state: "queued", pollURL: poll, jobId: id, cancel: cancel))
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"\#(id)","status":"RUNNING","progress":0.4}"#, purpose: "poll").get(),
                       JobUpdate(state: "running", pollURL: poll, jobId: id, cancel: cancel))
        let out = "https://dnznrvs05pmza.cloudfront.net/abc/output.png?_jwt=x"
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"\#(id)","status":"SUCCEEDED","output":["\#(out)"]}"#, purpose: "poll").get(),
                       JobUpdate(state: "succeeded", outputs: [.init(url: out, kind: "image")], jobId: id))

        let moderated = Self.error(a, 200, #"{"id":"\#(id)","status":"FAILED","failure":"Input rejected","failureCode":"SAFETY.INPUT.IMAGE"}"#, purpose: "poll")
        XCTAssertEqual(moderated?.code, "content_filtered"); XCTAssertEqual(moderated?.retryable, false)
        XCTAssertTrue(moderated?.message.contains("SAFETY.INPUT.IMAGE") ?? false)
        XCTAssertEqual(Self.error(a, 200, #"{"id":"\#(id)","status":"FAILED","failureCode":"SAFETY.OUTPUT.IMAGE"}"#, purpose: "poll")?.code, "content_filtered")
        let bad = Self.error(a, 200, #"{"id":"\#(id)","status":"FAILED","failure":"bad output","failureCode":"INTERNAL.BAD_OUTPUT.CODE01"}"#, purpose: "poll")
        XCTAssertEqual(bad?.code, "server"); XCTAssertEqual(bad?.retryable, true)
        let cancelled = Self.error(a, 200, #"{"id":"\#(id)","status":"CANCELLED"}"#, purpose: "poll")
        XCTAssertEqual(cancelled?.code, "server"); XCTAssertEqual(cancelled?.retryable, false)

        let auth = Self.error(a, 401, #"{"error":"Invalid API key"}"#)
        XCTAssertEqual(auth?.code, "auth"); XCTAssertEqual(auth?.retryable, false)
        XCTAssertTrue(auth?.message.contains("Invalid API key") ?? false)
        let throttled = Self.error(a, 429, #"{"error":"Too many requests"}"#, headers: ["retry-after": "30"])
        XCTAssertEqual(throttled?.code, "rate_limited"); XCTAssertEqual(throttled?.retryable, true); XCTAssertEqual(throttled?.retryAfterSeconds, 30)
        let throttledBare = Self.error(a, 429, #"{"error":"Too many requests"}"#)
        XCTAssertEqual(throttledBare?.code, "rate_limited"); XCTAssertNil(throttledBare?.retryAfterSeconds)
        for status in [500, 502, 503, 504] {
            let e = Self.error(a, status, "Bad Gateway")
            XCTAssertEqual(e?.code, "server"); XCTAssertEqual(e?.retryable, true)
        }
        XCTAssertEqual(Self.error(a, 400, #"{"error":"promptText: too long"}"#)?.code, "invalid_request")
        XCTAssertEqual(Self.error(a, 200, "<html>")?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"status":"RUNNING"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"../../evil"}"#)?.code, "malformed_response", "a task id never reshapes the poll URL")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"\#(id)"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"\#(id)","status":"SUCCEEDED","output":[]}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"\#(id)","status":"EXPLODED"}"#, purpose: "poll")?.code, "malformed_response")
        XCTAssertNotNil(Self.error(a, 200, String(repeating: "{", count: 10_000)), "hostile nesting is an error, not a crash")
    }
}
