import XCTest
import Foundation
import AdapterSDK
import ProviderContracts
@testable import StudioAdapterHost

/// Shared by the adapter test cases: a plan's body for the golden request (edited), its build error,
/// and a JSON plan against a hand-written golden file.
extension XCTestCase {
    func body(_ a: LoadedAdapter, _ edit: (inout AdapterRequest) -> Void = { _ in }, images: [AdapterImage] = [AdapterTests.png]) throws -> [String: Any] {
        var r = AdapterTests.goldenRequest; edit(&r)
        return try FluxPuLIDAndRunwayTests.body(a.buildRequest(r, images: images))
    }

    func buildError(_ a: LoadedAdapter, _ edit: (inout AdapterRequest) -> Void = { _ in }, images: [AdapterImage] = [AdapterTests.png]) -> AdapterError? {
        var r = AdapterTests.goldenRequest; edit(&r)
        do { _ = try a.buildRequest(r, images: images); return nil } catch { return error as? AdapterError }
    }

    /// The plan meets the provider's published contract for its endpoint (with the host's auth header
    /// for `manifest`), and a contract covers it.
    func assertMeetsContract(_ p: HTTPRequestPlan, _ manifest: AdapterManifest, images: [AdapterImage] = [AdapterTests.png], line: UInt = #line) throws {
        let auth = Credentials.authHeader(manifest.surface.auth, secret: "contract-check-secret", issuer: "contract-check-access")
        let check = try XCTUnwrap(ContractLibrary.shipped().check(plan: p, images: images, authorization: auth),
                                  "no provider contract covers \(p.method) \(p.url)", line: line)
        XCTAssertEqual(check.violations.map(\.description), [], "\(manifest.name) against \(check.contract.id)", line: line)
        XCTAssertEqual(check.dropped, [], "\(manifest.name) sends fields \(check.contract.id) drops without a word", line: line)
    }

    /// The plan's method, URL, headers and parsed JSON body against the hand-written golden file.
    func assertMatchesGolden(_ p: HTTPRequestPlan, _ file: String, line: UInt = #line) throws {
        let golden = try String(contentsOfFile: AdapterTests.fixtures + "/adapters/" + file, encoding: .utf8)
        XCTAssertEqual(GoldenRequest.differences(p, golden: golden), [], file, line: line)
    }
}
