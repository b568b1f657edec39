import XCTest
import Foundation
import AdapterSDK
@testable import StudioAdapterHost

/// replicate-photomaker and stability-sd3, loaded through dlopen and the C vtable.
final class PhotoMakerAndStabilityTests: XCTestCase {
    static func load(_ name: String) throws -> LoadedAdapter { try LoadedAdapter(path: try AdapterTests.library(name)) }

    static func golden(_ file: String) throws -> [String: Any] {
        let url = URL(fileURLWithPath: AdapterTests.fixtures + "/adapters/" + file)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func assertEnvelope(_ p: HTTPRequestPlan, _ golden: [String: Any], line: UInt = #line) {
        XCTAssertEqual(p.purpose, golden["purpose"] as? String, line: line)
        XCTAssertEqual(p.method, golden["method"] as? String, line: line)
        XCTAssertEqual(p.url, golden["url"] as? String, line: line)
        XCTAssertEqual(p.headers, golden["headers"] as? [String: String], line: line)
        XCTAssertEqual(p.authenticated, golden["authenticated"] as? Bool, line: line)
    }

    func build(_ a: LoadedAdapter, images: Int = 1, _ edit: (inout AdapterRequest) -> Void = { _ in }) throws -> HTTPRequestPlan {
        var r = AdapterTests.goldenRequest; edit(&r)
        let plans = try a.buildRequest(r, images: Array(repeating: AdapterTests.png, count: images))
        XCTAssertEqual(plans.count, 1)
        return try XCTUnwrap(plans.first)
    }

    static func parse(_ a: LoadedAdapter, _ status: Int, _ body: String, headers: [String: String] = [:]) -> Result<JobUpdate, AdapterError> {
        do { return .success(try a.parseResponse(AdapterResponse(purpose: "submit", status: status, headers: headers), body: Array(body.utf8))) }
        catch let e as AdapterError { return .failure(e) }
        catch { return .failure(AdapterError(code: "not-an-adapter-error", message: "\(error)", retryable: false)) }
    }

    static func error(_ a: LoadedAdapter, _ status: Int, _ body: String, headers: [String: String] = [:]) -> AdapterError? {
        if case .failure(let e) = parse(a, status, body, headers: headers) { return e }
        return nil
    }

    // MARK: - replicate-photomaker

    func photoMakerInput(_ a: LoadedAdapter, images: Int = 1, _ edit: (inout AdapterRequest) -> Void = { _ in }) throws -> [String: Any] {
        let p = try build(a, images: images, edit)
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((p.jsonBody ?? "").utf8)) as? [String: Any])
        return try XCTUnwrap(body["input"] as? [String: Any])
    }

    func testPhotoMakerGoldenRequestThroughTheCVTable() throws {
        let a = try Self.load("ReplicatePhotoMaker")
        XCTAssertEqual(a.manifest.name, "replicate-photomaker")
        XCTAssertEqual(a.manifest.model, "tencentarc/photomaker")
        XCTAssertEqual(a.manifest.surface.promptTrigger, "img")
        XCTAssertEqual(a.manifest.surface.referenceFields, ["input_image", "input_image2", "input_image3", "input_image4"])
        XCTAssertEqual(a.manifest.surface.maxReferences, 4)
        XCTAssertEqual(a.manifest.surface.auth, .init(scheme: "bearer", credential: "REPLICATE_API_TOKEN"))
        XCTAssertEqual(a.manifest.surface.strengthKnobs.map(\.name), ["style_strength_ratio"])
        XCTAssertEqual(a.manifest.surface.strengthKnobs.first?.minimum, 15)
        XCTAssertEqual(a.manifest.surface.strengthKnobs.first?.maximum, 50)
        let p = try build(a)
        let golden = try Self.golden("replicate-photomaker.submit.json")
        assertEnvelope(p, golden)
        XCTAssertNil(p.multipart)
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((p.jsonBody ?? "").utf8)) as? NSDictionary)
        XCTAssertEqual(body, golden["body"] as? NSDictionary)
        XCTAssertFalse(AdapterJSON.encode([p]).lowercased().contains("authorization"))
    }

    func testPhotoMakerTriggerWordGoesAfterTheFirstClassWordExactlyOnce() throws {
        let a = try Self.load("ReplicatePhotoMaker")
        func prompt(_ text: String) throws -> String {
            try XCTUnwrap(try photoMakerInput(a) { $0.prompt = text }["prompt"] as? String)
        }
        XCTAssertEqual(try prompt("a photo of a man in a park"), "a photo of a man img in a park")
        XCTAssertEqual(try prompt("A Woman reading, a boy nearby"), "A Woman img reading, a boy nearby", "the first class word, any case")
        XCTAssertEqual(try prompt("portrait of a girl"), "portrait of a girl img", "at the end")
        XCTAssertEqual(try prompt("a person, smiling"), "a person img, smiling", "before punctuation")
        XCTAssertEqual(try prompt("a photo of a man img on a boat"), "a photo of a man img on a boat", "already right: unchanged")
        XCTAssertEqual(try prompt("img of a woman at dusk"), "of a woman img at dusk", "a misplaced img moves behind the class word")
        XCTAssertEqual(try prompt("a man img and a man img"), "a man img and a man", "exactly one trigger")
        XCTAssertEqual(try prompt("a snowman and a human"), "a photo of a person img, a snowman and a human", "whole words only")
        XCTAssertEqual(try prompt("two men walking"), "a photo of a person img, two men walking", "plurals are not class words")
        XCTAssertEqual(try prompt("portrait of ada"), "a photo of a person img, portrait of ada")
        XCTAssertEqual(try prompt("an image of imgur"), "a photo of a person img, an image of imgur", "'image' and 'imgur' are not the trigger")
        XCTAssertEqual(try prompt("  "), "a photo of a person img")
    }

    func testPhotoMakerNegativePromptNeverHasTheTrigger() throws {
        let a = try Self.load("ReplicatePhotoMaker")
        func negative(_ text: String) throws -> String {
            try XCTUnwrap(try photoMakerInput(a) { $0.negativePrompt = text }["negative_prompt"] as? String)
        }
        XCTAssertEqual(try negative("blurry, img, green eyes"), "blurry, green eyes")
        XCTAssertEqual(try negative("IMG blurry,  Img"), "blurry")
        XCTAssertEqual(try negative("img"), "")
        XCTAssertEqual(try negative("imgur watermark, image artifacts"), "imgur watermark, image artifacts")
        XCTAssertEqual(try negative("blurry, blue eyes, green eyes"), "blurry, blue eyes, green eyes", "unchanged without the trigger")
    }

    func testPhotoMakerStrengthReferencesAndSeed() throws {
        let a = try Self.load("ReplicatePhotoMaker")
        func ratio(_ s: Double) throws -> Double? { try photoMakerInput(a) { $0.strictness.identityStrength = s }["style_strength_ratio"] as? Double }
        XCTAssertEqual(try ratio(1), 15); XCTAssertEqual(try ratio(0), 50)
        XCTAssertEqual(try ratio(0.75), 23.75); XCTAssertEqual(try ratio(0.5), 32.5)
        XCTAssertEqual(try ratio(7), 15); XCTAssertEqual(try ratio(-1), 50)
        // References: 1..4 fields; a fifth is ignored; none is a typed error.
        let three = try photoMakerInput(a, images: 3)
        XCTAssertNotNil(three["input_image3"]); XCTAssertNil(three["input_image4"])
        let five = try photoMakerInput(a, images: 5)
        XCTAssertEqual(["input_image", "input_image2", "input_image3", "input_image4"].compactMap { five[$0] as? String }.count, 4)
        XCTAssertNil(five["input_image5"])
        XCTAssertThrowsError(try a.buildRequest(AdapterTests.goldenRequest, images: [])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
        }
        XCTAssertEqual(try photoMakerInput(a) { $0.seed = 2_147_483_647 + 9 }["seed"] as? Int, 9)
        XCTAssertEqual(try photoMakerInput(a)["num_outputs"] as? Int, 1)
    }

    func testPhotoMakerErrorsMapThroughTheSharedReplicateParser() throws {
        let a = try Self.load("ReplicatePhotoMaker")
        let poll = "https://api.replicate.com/v1/predictions/pm1"
        XCTAssertEqual(try Self.parse(a, 201, #"{"id":"pm1","status":"starting","urls":{"get":"\#(poll)"}}"#).get(),
                       JobUpdate(state: "queued", pollURL: poll, jobId: "pm1"))
        XCTAssertEqual(try Self.parse(a, 200, #"{"id":"pm1","status":"succeeded","output":["https://replicate.delivery/a/out-0.png"]}"#).get(),
                       JobUpdate(state: "succeeded", outputs: [.init(url: "https://replicate.delivery/a/out-0.png", kind: "image")], jobId: "pm1"))
        XCTAssertEqual(Self.error(a, 401, #"{"detail":"Invalid token"}"#)?.code, "auth")
        let throttled = Self.error(a, 429, #"{"detail":"Request was throttled. Expected available in 2 seconds."}"#)
        XCTAssertEqual(throttled?.code, "rate_limited"); XCTAssertEqual(throttled?.retryAfterSeconds, 2)
        XCTAssertEqual(Self.error(a, 429, "{}", headers: ["retry-after": "5"])?.retryAfterSeconds, 5)
        XCTAssertEqual(Self.error(a, 503, "oops")?.code, "server"); XCTAssertEqual(Self.error(a, 503, "oops")?.retryable, true)
        XCTAssertEqual(Self.error(a, 422, #"{"detail":"input.style_strength_ratio: must be >= 15"}"#)?.code, "invalid_request")
        let noTrigger = Self.error(a, 200, #"{"id":"pm1","status":"failed","error":"Cannot find the trigger word 'img' in text prompt!"}"#)
        XCTAssertEqual(noTrigger?.code, "server")
        XCTAssertTrue(noTrigger?.message.contains("trigger word") ?? false, "the model's message is kept")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"pm1","status":"failed","error":"No face detected in input_image"}"#)?.code, "no_face")
        XCTAssertEqual(Self.error(a, 200, #"{"id":"pm1","status":"failed","error":"NSFW content detected"}"#)?.code, "content_filtered")
        XCTAssertEqual(Self.error(a, 200, "not json")?.code, "malformed_response")
        XCTAssertNotNil(Self.error(a, 200, String(repeating: "[", count: 10_000)))
    }

    // MARK: - stability-sd3

    func testStabilityGoldenMultipartRequestThroughTheCVTable() throws {
        let a = try Self.load("StabilitySD3")
        XCTAssertEqual(a.manifest.name, "stability-sd3")
        XCTAssertEqual(a.manifest.surface.mode, "sync")
        XCTAssertEqual(a.manifest.surface.auth, .init(scheme: "bearer", credential: "STABILITY_API_KEY"))
        XCTAssertEqual(a.manifest.surface.allowedHosts, ["api.stability.ai"])
        XCTAssertEqual(a.manifest.surface.referenceFields, ["image"])
        XCTAssertEqual(a.manifest.surface.maxReferences, 1)
        XCTAssertEqual(a.manifest.surface.negativePrompt.maxLength, 10_000)
        XCTAssertEqual(a.manifest.surface.strengthKnobs.map(\.name), ["strength"])
        let p = try build(a)
        let golden = try Self.golden("stability-sd3.submit.json")
        assertEnvelope(p, golden)
        XCTAssertNil(p.jsonBody)
        let goldenParts = try JSONDecoder().decode([HTTPRequestPlan.Part].self,
                                                   from: JSONSerialization.data(withJSONObject: try XCTUnwrap(golden["multipart"])))
        XCTAssertEqual(p.multipart, goldenParts)
        XCTAssertFalse(AdapterJSON.encode([p]).lowercased().contains("authorization"))
    }

    func testStabilityStrengthSeedAndTextLimits() throws {
        let a = try Self.load("StabilitySD3")
        func part(_ name: String, images: Int = 1, _ edit: (inout AdapterRequest) -> Void) throws -> HTTPRequestPlan.Part? {
            try build(a, images: images, edit).multipart?.first { $0.name == name }
        }
        func strength(_ s: Double) throws -> String? { try part("strength") { $0.strictness.identityStrength = s }?.text }
        // strength = 1 - (2/3) s: 0 keeps nothing of the init image, 1 keeps the most; clamped.
        XCTAssertEqual(try strength(0), "1"); XCTAssertEqual(try strength(0.75), "0.5")
        XCTAssertEqual(try strength(1), "0.333"); XCTAssertEqual(try strength(0.3), "0.8")
        XCTAssertEqual(try strength(2), "0.333"); XCTAssertEqual(try strength(-3), "1")
        // Seed: 0 would be random, so it never goes out as 0.
        func seed(_ s: UInt64) throws -> String? { try part("seed") { $0.seed = s }?.text }
        XCTAssertEqual(try seed(42), "42"); XCTAssertEqual(try seed(4_294_967_294), "4294967294")
        XCTAssertEqual(try seed(0), "4294967294"); XCTAssertEqual(try seed(4_294_967_295), "4294967294")
        XCTAssertEqual(try seed(4_294_967_295 + 7), "7"); XCTAssertEqual(try seed(.max), "4294967294", "2^64 - 1 is a multiple of 2^32 - 1")
        // The file part is the first reference only, named by its type.
        let jpeg = try a.buildRequest(AdapterTests.goldenRequest, images: [AdapterImage(bytes: [0xFF, 0xD8], mimeType: "image/jpeg"), AdapterTests.png])
        let files = try XCTUnwrap(jpeg.first?.multipart).filter { $0.text == nil }
        XCTAssertEqual(files, [.init(name: "image", imageIndex: 0, fileName: "reference.jpg", mimeType: "image/jpeg")])
        XCTAssertThrowsError(try a.buildRequest(AdapterTests.goldenRequest, images: [])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
        }
        // Negative prompt: omitted when empty, cut at a comma past 10000 characters.
        XCTAssertNil(try part("negative_prompt") { $0.negativePrompt = " " })
        let terms = (0..<2_000).map { "term\($0)" }.joined(separator: ", ")
        let cut = try XCTUnwrap(try part("negative_prompt") { $0.negativePrompt = terms }?.text)
        XCTAssertLessThanOrEqual(cut.count, 10_000)
        XCTAssertTrue(terms.hasPrefix(cut + ","), "whole terms, from the start")
        // Prompt: too long or empty is a typed error, never cut.
        var r = AdapterTests.goldenRequest
        r.prompt = String(repeating: "p", count: 10_001)
        XCTAssertThrowsError(try a.buildRequest(r, images: [AdapterTests.png])) { e in
            XCTAssertEqual((e as? AdapterError)?.code, "invalid_request")
            XCTAssertTrue((e as? AdapterError)?.message.contains("10000") ?? false)
        }
        r.prompt = "  "
        XCTAssertThrowsError(try a.buildRequest(r, images: [AdapterTests.png]))
    }

    func testStabilityResponsesAndErrorMapping() throws {
        let a = try Self.load("StabilitySD3")
        let b64 = Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).base64EncodedString()
        XCTAssertEqual(try Self.parse(a, 200, #"{"image":"\#(b64)","finish_reason":"SUCCESS","seed":42}"#).get(),
                       JobUpdate(state: "succeeded", outputs: [.init(url: "data:image/png;base64," + b64, kind: "image")]))
        let filtered = Self.error(a, 200, #"{"image":"\#(b64)","finish_reason":"CONTENT_FILTERED","seed":42}"#)
        XCTAssertEqual(filtered?.code, "content_filtered"); XCTAssertEqual(filtered?.retryable, true)
        XCTAssertEqual(Self.error(a, 200, #"{"finish_reason":"SUCCESS","seed":1}"#)?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"image":"%%% not base64","finish_reason":"SUCCESS"}"#)?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"image":"\#(b64)","seed":1}"#)?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, #"{"image":"\#(b64)","finish_reason":"ERROR"}"#)?.code, "malformed_response")
        XCTAssertEqual(Self.error(a, 200, "\u{89}PNG raw bytes")?.code, "malformed_response")

        for status in [400, 413, 422] {
            let e = Self.error(a, status, #"{"id":"e1","name":"bad_request","errors":["strength: must be between 0 and 1","image: required"]}"#)
            XCTAssertEqual(e?.code, "invalid_request"); XCTAssertEqual(e?.retryable, false)
            XCTAssertTrue(e?.message.contains("strength: must be between 0 and 1; image: required") ?? false, e?.message ?? "")
        }
        XCTAssertTrue(Self.error(a, 400, #"{"id":"e2","name":"payload_too_large","errors":[]}"#)?.message.contains("payload_too_large") ?? false)
        let moderated = Self.error(a, 403, #"{"id":"e3","name":"content_moderation","errors":["Your request was flagged by our content moderation system."]}"#)
        XCTAssertEqual(moderated?.code, "content_filtered"); XCTAssertEqual(moderated?.retryable, false)
        XCTAssertEqual(Self.error(a, 401, #"{"id":"e4","name":"unauthorized","errors":["authorization: invalid"]}"#)?.code, "auth")
        let limited = Self.error(a, 429, #"{"id":"e5","name":"rate_limit_exceeded","errors":["150 requests per 10 seconds"]}"#, headers: ["retry-after": "60"])
        XCTAssertEqual(limited?.code, "rate_limited"); XCTAssertEqual(limited?.retryable, true); XCTAssertEqual(limited?.retryAfterSeconds, 60)
        XCTAssertNil(Self.error(a, 429, "{}")?.retryAfterSeconds)
        for status in [500, 502, 503] {
            let e = Self.error(a, status, "<html>bad gateway</html>")
            XCTAssertEqual(e?.code, "server"); XCTAssertEqual(e?.retryable, true)
        }
        XCTAssertNotNil(Self.error(a, 200, String(repeating: "[", count: 10_000)), "hostile nesting is an error, not a crash")
    }
}
