import XCTest
import AdapterSDK

/// The one golden-request comparison (the package's adapter tests and the scaffold's test use it).
final class GoldenRequestTests: XCTestCase {
    let plan = HTTPRequestPlan(purpose: "submit", method: "POST", url: "https://api.example.com/v1/jobs",
                               headers: ["Content-Type": "application/json"], jsonBody: #"{"b": 1.0, "a": "x"}"#, authenticated: true)
    let golden = #"{"purpose": "submit", "method": "POST", "url": "https://api.example.com/v1/jobs", "#
        + #""headers": {"Content-Type": "application/json"}, "authenticated": true, "body": {"a": "x", "b": 1}}"#

    func testAgreementIgnoresKeyOrderAndNumberSpelling() {
        XCTAssertEqual(GoldenRequest.differences(plan, golden: golden), [])
    }

    func testEachDifferenceIsNamed() {
        var p = plan
        p.url = "https://api.example.com/v2/jobs"
        p.jsonBody = #"{"a": "y", "b": 1}"#
        let d = GoldenRequest.differences(p, golden: golden)
        XCTAssertEqual(d.count, 2, "\(d)")
        XCTAssertTrue(d[0].hasPrefix("url: built https://api.example.com/v2/jobs"), d[0])
        XCTAssertTrue(d[1].hasPrefix("body:"), d[1])
        XCTAssertEqual(GoldenRequest.differences(plan, golden: "[1]"), ["the golden file is not a JSON object"])
    }
}
