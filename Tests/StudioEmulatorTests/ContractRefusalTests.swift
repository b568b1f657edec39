import XCTest
import Foundation
import Crypto
import StudioKit
import StudioImage
import StudioNet
import ProviderContracts
@testable import StudioEmulator

/// Each emulator fed requests the real provider refuses (from the providers' contracts and
/// their published pages) answers with that provider's refusal; the valid request beside each table is
/// accepted, so every refusal is down to the one thing changed.
final class ContractRefusalTests: XCTestCase {
    static let credentials: [EmulatedProvider: String] = [.replicate: "r8_x", .fal: "fal_x", .stability: "sk_x", .runway: "rw_x", .kling: "kl_x"]
    static let png: String = "data:image/png;base64," + Data(try! ImageIO.encodePNG(RGBImage(width: 8, height: 8))).base64EncodedString()
    static var bareBase64: String { String(png.dropFirst("data:image/png;base64,".count)) }

    /// One request and what the provider answers.
    struct Case {
        var name: String
        var path: String? = nil
        var headers: [String: String?] = [:]
        var edit: (inout [String: Any]) -> Void = { _ in }
        var status: Int
        /// A fragment of the provider's answer (its own text).
        var says: String
    }

    func emulator() throws -> Emulator {
        try Emulator(configuration: .init(credentials: Self.credentials, klingAccessKey: "ak"), generator: RefusingGenerator())
    }

    func run(_ cases: [Case], host: String, path: String, headers: [String: String], base: [String: Any], file: StaticString = #filePath) throws {
        let e = try emulator()
        for c in cases {
            var body = base
            c.edit(&body)
            var h = headers
            for (k, v) in c.headers { h[k] = v }
            h["X-Studio-Original-Host"] = host
            let r = try HTTPClient().send(HTTPRequest(method: "POST", url: e.url + (c.path ?? path), headers: h,
                                                      body: Array(try JSONSerialization.data(withJSONObject: body))))
            let text = String(decoding: r.body, as: UTF8.self)
            XCTAssertEqual(r.status, c.status, "\(host) \(c.name): \(text)", file: file)
            XCTAssertTrue(text.contains(c.says), "\(host) \(c.name): '\(c.says)' not in \(text)", file: file)
        }
    }

    static func input(_ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
        { body in var i = body["input"] as? [String: Any] ?? [:]; edit(&i); body["input"] = i }
    }

    static func pin(_ model: String) throws -> String {
        try XCTUnwrap(ContractLibrary.shipped().contracts.first { $0.facts["model"] == model }?.select?.equals)
    }

    func testReplicateRefusesWhatReplicateRefuses() throws {
        let base: [String: Any] = ["version": try Self.pin("zsxkib/instant-id"), "input": [
            "image": Self.png, "prompt": "portrait of ada", "negative_prompt": "blurry", "ip_adapter_scale": 0.85,
            "controlnet_conditioning_scale": 0.8, "seed": 42, "num_outputs": 1, "output_format": "png"]]
        let auth = ["Authorization": "Bearer r8_x", "Content-Type": "application/json"]
        try run([
            Case(name: "valid", status: 201, says: "\"starting\""),
            Case(name: "the models route (official models only)", path: "/v1/models/zsxkib/instant-id/predictions", status: 404, says: "could not be found"),
            Case(name: "no version", edit: { $0["version"] = nil }, status: 422, says: "version is required"),
            Case(name: "a version that is not 64 hex", edit: { $0["version"] = "latest" }, status: 422, says: "Does not match pattern"),
            Case(name: "no face image", edit: Self.input { $0["image"] = nil }, status: 422, says: "- input: image is required"),
            Case(name: "ip_adapter_scale above 1", edit: Self.input { $0["ip_adapter_scale"] = 1.5 }, status: 422, says: #""type":"number_lte""#),
            Case(name: "an output_format it lacks", edit: Self.input { $0["output_format"] = "gif" }, status: 422, says: "must be one of the following"),
            Case(name: "seed as text", edit: Self.input { $0["seed"] = "42" }, status: 422, says: "Invalid type. Expected: integer"),
            Case(name: "an image that is no URL", edit: Self.input { $0["image"] = "hello" }, status: 422, says: "Does not match format 'uri'"),
            Case(name: "a field beside version and input", edit: { $0["model"] = "zsxkib/instant-id" }, status: 422, says: "Additional property model"),
            Case(name: "a token without Bearer", headers: ["Authorization": "Token r8_x"], status: 401, says: "valid authentication token"),
        ], host: "api.replicate.com", path: "/v1/predictions", headers: auth, base: base)
    }

    func testReplicateDropsUnknownInputsAndSaysSoInItsLog() throws {
        let e = try emulator()
        let body: [String: Any] = ["version": try Self.pin("zsxkib/instant-id"), "input": ["image": Self.png, "prompt": "p", "width": 1024, "height": 768]]
        let r = try HTTPClient().send(HTTPRequest(method: "POST", url: e.url + "/v1/predictions",
                                                  headers: ["Authorization": "Bearer r8_x", "Content-Type": "application/json", "X-Studio-Original-Host": "api.replicate.com"],
                                                  body: Array(try JSONSerialization.data(withJSONObject: body))))
        XCTAssertEqual(r.status, 201, "Replicate accepts and ignores inputs the version does not have")
        XCTAssertTrue(e.log.contains { $0.contains("dropped unknown field(s) input.height, input.width") }, "\(e.log)")
        XCTAssertEqual(e.allJobs.first?.input.height, 1024, "the size the model chose, not the 768 asked for")
    }

    func testPhotoMakerWantsExactlyOneTriggerWord() throws {
        let base: [String: Any] = ["version": try Self.pin("tencentarc/photomaker"), "input": [
            "input_image": Self.png, "prompt": "a photo of a woman img", "negative_prompt": "blurry", "style_strength_ratio": 20, "num_steps": 20]]
        try run([
            Case(name: "valid", status: 201, says: "\"starting\""),
            Case(name: "no img", edit: Self.input { $0["prompt"] = "a photo of a woman" }, status: 422, says: "Cannot find the trigger word 'img' in text prompt!"),
            Case(name: "two img", edit: Self.input { $0["prompt"] = "a photo of a woman img and a man img" }, status: 422, says: "Cannot use multiple trigger words 'img'"),
            Case(name: "img in the negative prompt", edit: Self.input { $0["negative_prompt"] = "img, blurry" }, status: 422, says: "Cannot use trigger word 'img' in negative prompt!"),
            Case(name: "style_strength_ratio under 15", edit: Self.input { $0["style_strength_ratio"] = 10 }, status: 422, says: "greater than or equal to 15"),
        ], host: "api.replicate.com", path: "/v1/predictions", headers: ["Authorization": "Bearer r8_x", "Content-Type": "application/json"], base: base)
    }

    func testFalRefusesWhatFalRefuses() throws {
        let base: [String: Any] = ["prompt": "portrait of ada", "reference_image_url": Self.png, "image_size": ["width": 1024, "height": 1024],
                                   "negative_prompt": "blurry", "true_cfg": 1.5, "id_weight": 1, "start_step": 1, "seed": 42]
        try run([
            Case(name: "valid", status: 200, says: "request_id"),
            Case(name: "valid with a preset size", edit: { $0["image_size"] = "square_hd" }, status: 200, says: "request_id"),
            Case(name: "no prompt", edit: { $0["prompt"] = nil }, status: 422, says: "Field required"),
            Case(name: "no reference", edit: { $0["reference_image_url"] = nil }, status: 422, says: "\"reference_image_url\""),
            Case(name: "id_weight above fal's 1 (Replicate's 3 does not hold here)", edit: { $0["id_weight"] = 1.8 }, status: 422, says: "less than or equal to 1"),
            Case(name: "an image_size preset it lacks", edit: { $0["image_size"] = "huge" }, status: 422, says: "Input should be"),
            Case(name: "true_cfg below 1", edit: { $0["true_cfg"] = 0.5 }, status: 422, says: "greater than or equal to 1"),
            Case(name: "width as text", edit: { $0["image_size"] = ["width": "1024", "height": 1024] }, status: 422, says: "valid integer"),
            Case(name: "a reference that is no URL", edit: { $0["reference_image_url"] = "face.png" }, status: 422, says: "valid URL"),
            Case(name: "Bearer instead of Key", headers: ["Authorization": "Bearer fal_x"], status: 401, says: "Key"),
        ], host: "queue.fal.run", path: "/fal-ai/flux-pulid", headers: ["Authorization": "Key fal_x", "Content-Type": "application/json"], base: base)
        let video: [String: Any] = ["prompt": "p", "image_url": Self.png, "duration": "5", "cfg_scale": 0.5]
        try run([
            Case(name: "valid", status: 200, says: "request_id"),
            Case(name: "a duration it lacks", edit: { $0["duration"] = "7" }, status: 422, says: "Input should be 5, 10"),
            Case(name: "cfg_scale above 1", edit: { $0["cfg_scale"] = 2 }, status: 422, says: "less than or equal to 1"),
            Case(name: "an app with no contract", path: "/fal-ai/not-an-app", status: 404, says: "not found"),
        ], host: "queue.fal.run", path: "/fal-ai/kling-video/v1/standard/image-to-video", headers: ["Authorization": "Key fal_x", "Content-Type": "application/json"], base: video)
    }

    func testRunwayRefusesWhatRunwayRefuses() throws {
        let base: [String: Any] = ["model": "gen4_image", "promptText": "portrait of @ref1", "ratio": "1024:1024",
                                   "referenceImages": [["uri": Self.png, "tag": "ref1"]], "seed": 42]
        let emoji = String(repeating: "\u{1F600}", count: 501)
        let big = "data:image/png;base64," + String(repeating: "A", count: 5_000_000)
        try run([
            Case(name: "valid", status: 200, says: "\"id\""),
            Case(name: "501 emoji: 501 characters but 1002 UTF-16 units", edit: { $0["promptText"] = emoji }, status: 400, says: "at most 1000 character(s)"),
            Case(name: "a ratio it lacks", edit: { $0["ratio"] = "1000:1000" }, status: 400, says: "Invalid enum value"),
            Case(name: "a model it lacks", edit: { $0["model"] = "gen3a_turbo" }, status: 400, says: "received 'gen3a_turbo'"),
            Case(name: "four references", edit: { $0["referenceImages"] = Array(repeating: ["uri": Self.png, "tag": "ref1"], count: 4) },
                 status: 400, says: "at most 3 element(s)"),
            Case(name: "a 5 MB data URI", edit: { $0["referenceImages"] = [["uri": big, "tag": "ref1"]] }, status: 400, says: "under 5 MB"),
            Case(name: "no promptText", edit: { $0["promptText"] = nil }, status: 400, says: "Required"),
            Case(name: "a key it does not know", edit: { $0["negativePrompt"] = "blurry" }, status: 400, says: "Unrecognized key(s) in object: 'negativePrompt'"),
            Case(name: "no X-Runway-Version", headers: ["X-Runway-Version": nil], status: 400, says: "X-Runway-Version"),
        ], host: "api.dev.runwayml.com", path: "/v1/text_to_image",
           headers: ["Authorization": "Bearer rw_x", "X-Runway-Version": "2024-11-06", "Content-Type": "application/json"], base: base)
    }

    static func klingToken() -> String {
        func b64(_ d: Data) -> String { d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "") }
        let now = Int(Date().timeIntervalSince1970)
        let head = b64(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)), body = b64(Data(#"{"iss":"ak","exp":\#(now + 600),"nbf":\#(now - 5)}"#.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((head + "." + body).utf8), using: SymmetricKey(data: Data("kl_x".utf8)))
        return head + "." + body + "." + b64(Data(mac))
    }

    func testKlingRefusesWhatKlingRefuses() throws {
        let base: [String: Any] = ["model_name": "kling-v1", "image": Self.bareBase64, "prompt": "portrait of ada", "negative_prompt": "blurry",
                                   "cfg_scale": 0.5, "mode": "std", "duration": "5"]
        try run([
            Case(name: "valid", status: 200, says: "\"code\":0"),
            Case(name: "a data: prefix on the image", edit: { $0["image"] = Self.png }, status: 400, says: "without a data: prefix"),
            Case(name: "no image", edit: { $0["image"] = nil }, status: 400, says: "image is required"),
            Case(name: "cfg_scale above 1", edit: { $0["cfg_scale"] = 2 }, status: 400, says: "less than or equal to 1"),
            Case(name: "a mode it lacks", edit: { $0["mode"] = "ultra" }, status: 400, says: "mode must be one of std, pro"),
            Case(name: "a duration it lacks", edit: { $0["duration"] = "7" }, status: 400, says: "duration must be one of"),
            Case(name: "a 2501-character prompt", edit: { $0["prompt"] = String(repeating: "a", count: 2501) }, status: 400, says: "exceeds 2500"),
        ], host: "api-singapore.klingai.com", path: "/v1/videos/image2video",
           headers: ["Authorization": "Bearer " + Self.klingToken(), "Content-Type": "application/json"], base: base)
    }

    func testStabilityRefusesWhatStabilityRefuses() throws {
        let e = try emulator()
        func send(_ fields: [String: String], image: [UInt8]? = nil, auth: String = "Bearer sk_x") throws -> (Int, String) {
            var body: [UInt8] = []
            for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
                body += Array("--b\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n".utf8)
            }
            if let image {
                body += Array("--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"ref.png\"\r\nContent-Type: image/png\r\n\r\n".utf8) + image + [13, 10]
            }
            body += Array("--b--\r\n".utf8)
            let r = try HTTPClient().send(HTTPRequest(method: "POST", url: e.url + "/v2beta/stable-image/generate/sd3",
                                                      headers: ["Authorization": auth, "Accept": "application/json", "Content-Type": "multipart/form-data; boundary=b",
                                                                "X-Studio-Original-Host": "api.stability.ai"], body: body))
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let ok = ["prompt": "portrait", "mode": "text-to-image", "output_format": "png", "seed": "42", "model": "sd3.5-large"]
        func with(_ k: String, _ v: String?) -> [String: String] { var f = ok; f[k] = v; return f }
        let cases: [(String, [String: String], [UInt8]?, Int, String)] = [
            ("webp (refused by sd3)", with("output_format", "webp"), nil, 400, "output_format: must be one of jpeg, png"),
            ("no prompt", with("prompt", nil), nil, 400, "prompt: required"),
            ("strength above 1", with("strength", "2"), nil, 400, "strength: must be less than or equal to 1"),
            ("an aspect ratio it lacks", with("aspect_ratio", "7:3"), nil, 400, "aspect_ratio: must be one of"),
            ("a seed past its range", with("seed", "4294967295"), nil, 400, "seed: must be less than or equal to 4294967294"),
            ("a model it lacks", with("model", "sdxl"), nil, 400, "model: must be one of"),
            ("an 11 MB body", ok, [UInt8](repeating: 0, count: 11 * 1024 * 1024), 413, "payload too large"),
        ]
        for (name, fields, image, status, says) in cases {
            let (s, text) = try send(fields, image: image)
            XCTAssertEqual(s, status, "\(name): \(text)")
            XCTAssertTrue(text.contains(says), "\(name): '\(says)' not in \(text)")
        }
        XCTAssertEqual(try send(ok, auth: "sk_x").0, 401, "no Bearer")
        // The valid request passes the contract; the refusing generator then fails the synchronous job.
        XCTAssertEqual(try send(ok).0, 500)
        XCTAssertEqual(e.seen.refused, cases.count)
    }
}
