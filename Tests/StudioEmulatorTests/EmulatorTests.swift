import XCTest
import Foundation
import Crypto
import StudioKit
import StudioImage
import StudioNet
import ProviderContracts
@testable import StudioEmulator

/// Never called: these tests stop before any job runs.
struct RefusingGenerator: SurfaceGenerator {
    func generate(_ input: SurfaceInput) throws -> SurfaceOutput { throw SurfaceError(.internalError, "not expected") }
}

final class EmulatorTests: XCTestCase {
    static let credentials: [EmulatedProvider: String] = [.replicate: "r8_x", .fal: "fal_x", .stability: "sk_x", .runway: "rw_x", .kling: "kl_x"]

    func emulator(_ faults: FaultPlan = FaultPlan()) throws -> Emulator {
        try Emulator(configuration: .init(credentials: Self.credentials, klingAccessKey: "ak", faults: faults), generator: RefusingGenerator())
    }

    func send(_ e: Emulator, _ method: String, _ host: String, _ path: String, headers: [String: String] = [:], body: String = "") throws -> HTTPResponse {
        var h = headers
        h["X-Studio-Original-Host"] = host
        return try HTTPClient().send(HTTPRequest(method: method, url: e.url + path, headers: h, body: Array(body.utf8)))
    }

    func json(_ r: HTTPResponse) throws -> [String: Any] { try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) }

    func testEachProviderRefusesAWrongCredentialInItsOwnFormat() throws {
        let e = try emulator()
        let r1 = try send(e, "GET", "api.replicate.com", "/v1/predictions/x", headers: ["Authorization": "Bearer nope"])
        XCTAssertEqual(r1.status, 401); XCTAssertEqual(try json(r1)["title"] as? String, "Unauthenticated")
        let r2 = try send(e, "GET", "queue.fal.run", "/fal-ai/flux-pulid/requests/x/status", headers: ["Authorization": "Bearer fal_x"])
        XCTAssertEqual(r2.status, 401, "fal wants 'Key', not 'Bearer'")
        let r3 = try send(e, "POST", "api.stability.ai", "/v2beta/stable-image/generate/sd3")
        XCTAssertEqual(r3.status, 401); XCTAssertEqual(try json(r3)["name"] as? String, "unauthorized")
        let r4 = try send(e, "GET", "api.dev.runwayml.com", "/v1/tasks/x", headers: ["Authorization": "Bearer rw_x"])
        XCTAssertEqual(r4.status, 400, "Runway wants X-Runway-Version")
        let r5 = try send(e, "GET", "api-singapore.klingai.com", "/v1/videos/image2video/x", headers: ["Authorization": "Bearer kl_x"])
        XCTAssertEqual(r5.status, 401); XCTAssertEqual(try json(r5)["code"] as? Int, 1002, "the secret itself is not a JWT")
        XCTAssertEqual(e.seen.unauthorized, 5, "Runway's missing version header is refused at the same gate")
    }

    func testKlingJWTChecks() {
        func token(_ payload: String, secret: String, alg: String = "HS256") -> String {
            func b64(_ d: Data) -> String { d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "") }
            let head = b64(Data("{\"alg\":\"\(alg)\",\"typ\":\"JWT\"}".utf8)), body = b64(Data(payload.utf8))
            let mac = HMAC<SHA256>.authenticationCode(for: Data((head + "." + body).utf8), using: SymmetricKey(data: Data(secret.utf8)))
            return head + "." + body + "." + b64(Data(mac))
        }
        let ok = token("{\"iss\":\"ak\",\"exp\":2000,\"nbf\":995}", secret: "sk")
        XCTAssertEqual(Emulator.verifyJWT(ok, secret: "sk", issuer: "ak", now: 1000), .valid)
        XCTAssertEqual(Emulator.verifyJWT(ok, secret: "sk", issuer: "ak", now: 2000), .expired)
        XCTAssertEqual(Emulator.verifyJWT(ok, secret: "sk", issuer: "ak", now: 990), .invalid("token not yet valid"))
        XCTAssertEqual(Emulator.verifyJWT(ok, secret: "other", issuer: "ak", now: 1000), .invalid("bad signature"))
        XCTAssertEqual(Emulator.verifyJWT(ok, secret: "sk", issuer: "someone", now: 1000), .invalid("unknown access key"))
        XCTAssertEqual(Emulator.verifyJWT(token("{}", secret: "sk", alg: "none"), secret: "sk", issuer: "ak", now: 1000), .invalid("alg must be HS256"))
        XCTAssertEqual(Emulator.verifyJWT("a.b", secret: "sk", issuer: "ak", now: 1000), .invalid("not a JWT"))
    }

    func testPlannedFaultsComeInTheProvidersFormat() throws {
        let e = try emulator(FaultPlan(submit: [.rateLimited(retryAfter: 7), .rateLimited(retryAfter: nil), .serverError(503), .invalid]))
        let auth = ["Authorization": "Bearer r8_x", "Content-Type": "application/json"]
        // Faults come before the body is read, as a rate limiter's do.
        let a = try send(e, "POST", "api.replicate.com", "/v1/predictions", headers: auth, body: "{}")
        XCTAssertEqual(a.status, 429); XCTAssertEqual(a.header("retry-after"), "7")
        XCTAssertTrue((try json(a)["detail"] as? String ?? "").contains("throttled"))
        let b = try send(e, "POST", "api.replicate.com", "/v1/predictions", headers: auth, body: "{}")
        XCTAssertEqual(b.status, 429); XCTAssertNil(b.header("retry-after"))
        XCTAssertEqual(try send(e, "POST", "api.replicate.com", "/v1/predictions", headers: auth, body: "{}").status, 503)
        XCTAssertEqual(try send(e, "POST", "api.replicate.com", "/v1/predictions", headers: auth, body: "{}").status, 422)
        // Faults spent: now the body itself is checked against the pinned version's contract.
        let version = "2e4785a4d80dadf580077b2244c8d7c05d8e3faac04a04c02d8e099dd2876789"
        let bad = try send(e, "POST", "api.replicate.com", "/v1/predictions", headers: auth, body: "{\"version\":\"\(version)\",\"input\":{\"prompt\":\"x\"}}")
        XCTAssertEqual(bad.status, 422); XCTAssertTrue((try json(bad)["detail"] as? String ?? "").contains("image is required"))
        XCTAssertEqual(e.seen.submitAttempts, 5); XCTAssertEqual(e.seen.faults, 4); XCTAssertEqual(e.seen.jobs, 0)
    }

    func testPhotoMakerWithoutItsTriggerWordIsRejected() throws {
        let e = try emulator()
        var img = RGBImage(width: 8, height: 8); img.pixels = [UInt8](repeating: 90, count: 192)
        let url = "data:image/png;base64," + Data(try ImageIO.encodePNG(img)).base64EncodedString()
        let version = "ddfc2b08d209f9fa8c1eca692712918bd449f695dabb4a958da31802a9570fe4"
        let body = "{\"version\":\"\(version)\",\"input\":{\"prompt\":\"a photo of a woman\",\"input_image\":\"\(url)\"}}"
        let r = try send(e, "POST", "api.replicate.com", "/v1/predictions", headers: ["Authorization": "Bearer r8_x", "Content-Type": "application/json"], body: body)
        XCTAssertEqual(r.status, 422)
        XCTAssertTrue((try json(r)["detail"] as? String ?? "").contains("trigger word"))
        // The old models route is not served for a community model at all.
        let old = try send(e, "POST", "api.replicate.com", "/v1/models/tencentarc/photomaker/predictions", headers: ["Authorization": "Bearer r8_x"], body: body)
        XCTAssertEqual(old.status, 404)
    }

    func testUnknownRoutesAndOversizedRequests() throws {
        let e = try emulator()
        XCTAssertEqual(try send(e, "GET", "example.com", "/nothing").status, 404)
        XCTAssertEqual(try send(e, "GET", "api.replicate.com", "/v1/predictions/none", headers: ["Authorization": "Bearer r8_x"]).status, 404)
        XCTAssertEqual(try send(e, "GET", "replicate.delivery", "/emu/none/out-0.png").status, 404)
        let small = try LoopbackHTTPServer(maxRequestBytes: 10) { _ in ServerResponse(status: 200) }
        defer { small.stop() }
        XCTAssertEqual(try HTTPClient().send(HTTPRequest(method: "POST", url: small.url + "/", body: [UInt8](repeating: 1, count: 100))).status, 413)
    }

    func testCancelsOfUnknownJobsAreEachProvidersNotFound() throws {
        let e = try emulator()
        let replicate = try send(e, "POST", "api.replicate.com", "/v1/predictions/none/cancel", headers: ["Authorization": "Bearer r8_x"])
        XCTAssertEqual(replicate.status, 404)
        XCTAssertEqual(try json(replicate)["detail"] as? String, "Not found.")
        let fal = try send(e, "PUT", "queue.fal.run", "/fal-ai/flux-pulid/requests/none/cancel", headers: ["Authorization": "Key fal_x"])
        XCTAssertEqual(fal.status, 404)
        XCTAssertEqual(try json(fal)["status"] as? String, "NOT_FOUND")
        let runway = try send(e, "DELETE", "api.dev.runwayml.com", "/v1/tasks/00000000-0000-0000-0000-000000000000",
                              headers: ["Authorization": "Bearer rw_x", "X-Runway-Version": "2024-11-06"])
        XCTAssertEqual(runway.status, 404)
        XCTAssertEqual(e.seen.cancels, 0, "no job was reached")
        XCTAssertEqual(e.seen.submitAttempts, 0, "a cancel is not a submit")
        XCTAssertEqual(e.seen.refused, 0, "a cancel is not held to a submit's contract")
    }

    func testMultipartFieldsAreRead() throws {
        let body = "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhello\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"r.png\"\r\nContent-Type: image/png\r\n\r\n\u{1}\u{2}\r\n--b--\r\n"
        let f = try Multipart.parse(Array(body.utf8), boundary: "b")
        XCTAssertEqual(f["prompt"]?.bytes, Array("hello".utf8))
        XCTAssertEqual(f["image"], Multipart.Part(bytes: [1, 2], fileName: "r.png", mimeType: "image/png"))
        XCTAssertThrowsError(try Multipart.parse(Array("garbage".utf8), boundary: "b"))
    }

    func testRunwayIdsLookLikeUUIDsAndMapBack() {
        let u = Emulator.uuidLike("0123456789ab")
        XCTAssertEqual(u.split(separator: "-").map(\.count), [8, 4, 4, 4, 12])
        XCTAssertEqual(Emulator.fromUUIDLike(u), "0123456789ab")
    }

    func testProvidersByHost() {
        XCTAssertEqual(EmulatedProvider.forHost("API.replicate.com"), .replicate)
        XCTAssertEqual(EmulatedProvider.forHost("v3b.fal.media"), .fal)
        XCTAssertEqual(EmulatedProvider.forHost("cdn.klingai.com"), .kling)
        XCTAssertNil(EmulatedProvider.forHost("evil.example"))
    }
}
