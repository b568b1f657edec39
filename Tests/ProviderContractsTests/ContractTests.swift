import XCTest
import Foundation
import AdapterSDK
@testable import ProviderContracts

/// The validator's rules on a small hand-made contract, the shipped contracts' own consistency, and a
/// fuzz run over the request parsers (JSON and multipart bodies from random bytes never crash).
final class ContractTests: XCTestCase {
    static let contract: ProviderContract = {
        let json = #"""
        {"schema": 1, "provider": "p", "sources": [{"url": "https://example.invalid/doc", "read": "2026-12-07", "what": "t"}],
         "headers": {"authorization": {"prefix": "Bearer ", "status": 401, "message": "bad key"}},
         "refusal": {"status": 422, "messages": {"required": "{name} is required", "maximum": "at most {limit}", "enum": "one of {allowed}",
                      "maxLength": "{value} > {limit}", "image": "form {value} not in {allowed}", "unknown": "no {name}"}},
         "facts": {},
         "endpoints": [{"id": "p/e", "title": "t", "route": {"method": "POST", "host": "api.example.invalid", "path": "/v1/{model}/run"},
           "body": {"encoding": "json", "unknown": "reject", "fields": {
             "prompt": {"type": "string", "required": true, "maxLength": 4, "lengthUnit": "utf16"},
             "n": {"type": "integer", "maximum": 3},
             "mode": {"type": "string", "enum": ["a", "b"]},
             "flag": {"type": "boolean"},
             "image": {"type": "image", "forms": ["base64"]},
             "input": {"type": "object", "unknown": "drop", "fields": {"x": {"type": "number"}}}}},
           "rules": [{"field": "prompt", "word": "img", "min": 1, "max": 1, "message": "one img"}]}]}
        """#
        return try! JSONDecoder().decode(ProviderFile.self, from: Data(json.utf8)).contracts[0]
    }()

    func request(_ body: String, auth: String? = "Bearer k", path: String = "/v1/m/run") -> ContractRequest {
        var headers = ["Content-Type": "application/json"]
        if let auth { headers["Authorization"] = auth }
        return ContractRequest(method: "POST", host: "api.example.invalid", path: path, headers: headers, bodyBytes: Array(body.utf8))
    }

    func rules(_ body: String, auth: String? = "Bearer k") -> [String] { Self.contract.check(request(body, auth: auth)).violations.map(\.rule) }

    func testAValidRequestPassesAndDropsWhatTheProviderDrops() {
        let check = Self.contract.check(request(#"{"prompt": "img", "n": 3, "mode": "a", "flag": true, "image": "aGk=", "input": {"x": 1, "y": 2}}"#))
        XCTAssertEqual(check.violations, [])
        XCTAssertEqual(check.dropped, ["input.y"])
    }

    func testEachRuleIsReportedInTheProvidersWords() {
        XCTAssertEqual(rules(#"{"n": 1}"#), ["required", "words"])
        XCTAssertEqual(Self.contract.check(request(#"{"n": 1}"#)).violations.first?.message, "prompt is required")
        XCTAssertEqual(rules(#"{"prompt": "img", "n": 4}"#), ["maximum"])
        XCTAssertEqual(Self.contract.check(request(#"{"prompt": "img", "n": 4}"#)).violations[0].message, "at most 3")
        XCTAssertEqual(rules(#"{"prompt": "img", "n": 1.5}"#), ["type"])
        XCTAssertEqual(rules(#"{"prompt": "img", "n": true}"#), ["type"])
        XCTAssertEqual(rules(#"{"prompt": "img", "flag": 1}"#), ["type"])
        XCTAssertEqual(rules(#"{"prompt": "img", "mode": "c"}"#), ["enum"])
        XCTAssertEqual(rules(#"{"prompt": "img", "extra": 1}"#), ["unknown"])
        XCTAssertEqual(rules(#"{"prompt": "img", "image": "data:image/png;base64,aGk="}"#), ["image"])
        XCTAssertEqual(rules(#"{"prompt": "img img"}"#), ["maxLength", "words"])
        XCTAssertEqual(rules(#"{"prompt": "img"}"#, auth: nil), ["header"])
        XCTAssertEqual(rules(#"{"prompt": "img"}"#, auth: "Key k"), ["header"])
        XCTAssertEqual(rules("not json"), ["body"])
    }

    func testLengthsCountTheDeclaredUnit() {
        // An emoji is one Character but two UTF-16 units: "img 😀" is 5 Characters, 6 units (limit 4).
        XCTAssertEqual(rules(#"{"prompt": "img \ud83d\ude00"}"#), ["maxLength"])
        XCTAssertEqual(rules(#"{"prompt": "img\u00e9"}"#), ["words"], "4 units: within the limit (but 'imgé' is not the word 'img')")
    }

    func testRoutesMatchWithPlaceholdersAndSelectors() {
        let library = ContractLibrary(contracts: [Self.contract])
        XCTAssertNotNil(library.contract(for: request("{}", path: "/v1/any/run")))
        XCTAssertNil(library.contract(for: request("{}", path: "/v1/run")))
        XCTAssertNil(library.contract(for: request("{}", path: "/v1/a/b/run")))
        var pinned = Self.contract
        pinned.select = .init(field: "version", equals: String(repeating: "a", count: 64))
        let both = ContractLibrary(contracts: [pinned, Self.contract])
        XCTAssertEqual(both.contract(for: request(#"{"version": "o/n:\#(String(repeating: "a", count: 64))"}"#))?.select, pinned.select)
        XCTAssertNil(both.contract(for: request(#"{"version": "b"}"#))?.select, "an unpinned version falls back to the route's own contract")
    }

    func testPlansAreCheckedWithTheHostsAuthHeaderAndTheirImages() {
        let plan = HTTPRequestPlan(purpose: "submit", method: "POST", url: "https://api.example.invalid/v1/m/run", jsonBody: #"{"prompt": "img"}"#)
        XCTAssertEqual(Self.contract.check(ContractRequest(plan: plan, images: [], authorization: ("Authorization", "Bearer x"))).violations, [])
        XCTAssertEqual(Self.contract.check(ContractRequest(plan: plan, images: [], authorization: nil)).violations.map(\.rule), ["header"])
    }

    func testTheShippedContractsLoadAndAreWellFormed() throws {
        let library = try ContractLibrary.shipped()
        XCTAssertGreaterThanOrEqual(library.contracts.count, 9)
        XCTAssertEqual(Set(library.contracts.map(\.id)).count, library.contracts.count, "contract ids are unique")
        for c in library.contracts {
            XCTAssertFalse(c.sources.isEmpty, c.id)
            for s in c.sources { XCTAssertNotNil(s.read.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression), c.id) }
            XCTAssertTrue(["json", "multipart"].contains(c.body.encoding), c.id)
            XCTAssertTrue(["reject", "drop", "allow"].contains(c.body.unknown), c.id)
            XCTAssertTrue(c.route.path.hasPrefix("/"), c.id)
            if c.provider == "replicate", let s = c.select {
                XCTAssertEqual(s.field, "version"); XCTAssertEqual(s.equals.count, 64, c.id)
                XCTAssertNotNil(c.facts["model"], "\(c.id) names its model")
            }
        }
    }

    func testAMalformedContractFileIsATypedError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("contracts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"schema": 1, "provider": "x"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/x.json"))
        XCTAssertThrowsError(try ContractLibrary(folder: dir)) { e in
            guard case .unreadable(let file, _) = e as? ContractLoadError else { return XCTFail("\(e)") }
            XCTAssertEqual(file, "x.json")
        }
        XCTAssertThrowsError(try ContractLibrary.shipped(environment: ["STUDIO_CONTRACTS": dir + "/missing"]))
    }

    /// Random and mutated bodies through both parsers and the validator: no crash, a verdict each time.
    func testFuzzedBodiesNeverCrashTheCheck() {
        var g = SystemRandomNumberGenerator()
        var seed = UInt64.random(in: 0...UInt64.max, using: &g)
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let seeds: [[UInt8]] = [Array(#"{"prompt": "img", "input": {"x": 1}}"#.utf8),
                                Array("--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nimg\r\n--b--\r\n".utf8)]
        for i in 0..<3000 {
            var body = seeds[i % 2]
            for _ in 0..<(Int(next() % 6) + 1) where !body.isEmpty {
                let at = Int(next() % UInt64(body.count))
                switch next() % 3 {
                case 0: body[at] = UInt8(truncatingIfNeeded: next())
                case 1: body.remove(at: at)
                default: body.insert(UInt8(truncatingIfNeeded: next()), at: at)
                }
            }
            let type = i % 2 == 0 ? "application/json" : "multipart/form-data; boundary=b"
            let r = ContractRequest(method: "POST", host: "api.example.invalid", path: "/v1/m/run", headers: ["Content-Type": type], bodyBytes: body)
            _ = Self.contract.check(r)
            _ = try? Multipart.parse(body, boundary: "b")
        }
    }
}
