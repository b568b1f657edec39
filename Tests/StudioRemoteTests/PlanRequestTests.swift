import XCTest
import StudioKit
import AdapterSDK
import StudioNet
@testable import StudioRemote

/// An adapter's plan turned into the transport's request (PlanRequests.swift).
final class PlanRequestTests: XCTestCase {
    func testFromPlan() throws {
        let json = HTTPRequestPlan(purpose: "submit", method: "post", url: "https://api.example.com/v1", headers: ["X-A": "1"],
                                   jsonBody: "{\"a\":1}")
        var rng = SplitMix64(seed: 1)
        let r = try HTTPRequest(plan: json, images: [], random: &rng)
        XCTAssertEqual(r.method, "POST")
        XCTAssertEqual(r.headers["Content-Type"], "application/json")
        XCTAssertEqual(r.headers["X-A"], "1")
        XCTAssertEqual(r.body, Array("{\"a\":1}".utf8))
        let multi = HTTPRequestPlan(purpose: "submit", method: "POST", url: "https://api.example.com/v1",
                                    multipart: [.init(name: "image", imageIndex: 0, fileName: "a.png", mimeType: "image/png")])
        let m = try HTTPRequest(plan: multi, images: [[9, 8, 7]], random: &rng)
        XCTAssertTrue(m.headers["Content-Type"]!.hasPrefix("multipart/form-data; boundary=studio-"))
        let get = try HTTPRequest(plan: HTTPRequestPlan(purpose: "poll", method: "GET", url: "https://x/"), images: [], random: &rng)
        XCTAssertEqual(get.body, [])
        XCTAssertNil(get.headers["Content-Type"])
    }

    func testFromPlanParts() throws {
        let plan = [HTTPRequestPlan.Part(name: "prompt", text: "hi"),
                    HTTPRequestPlan.Part(name: "image", imageIndex: 1, fileName: "ref.jpg", mimeType: "image/jpeg")]
        let parts = try MultipartBody.parts(from: plan, images: [[1], [2, 3]])
        XCTAssertEqual(parts, [.text(name: "prompt", value: "hi"), .file(name: "image", fileName: "ref.jpg", contentType: "image/jpeg", bytes: [2, 3])])
        XCTAssertThrowsError(try MultipartBody.parts(from: plan, images: [[1]]))
    }
}
