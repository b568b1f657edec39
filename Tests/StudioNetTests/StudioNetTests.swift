import XCTest
import StudioKit
import Foundation
@testable import StudioNet

/// Records the delays the client asks for instead of sleeping.
final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    var delays: [Double] { lock.withLock { values } }
    var sleep: @Sendable (Double) -> Void { { [self] d in lock.withLock { values.append(d) } } }
}

final class HTTPClientTests: XCTestCase {
    func client(_ recorder: SleepRecorder = SleepRecorder(), maxBytes: Int = 1 << 20, timeout: Double = 5) -> HTTPClient {
        HTTPClient(maxResponseBytes: maxBytes, connectTimeout: 2, timeout: timeout, sleep: recorder.sleep)
    }

    func testGetRoundTrip() throws {
        let server = try LoopbackServer([.init(status: 200, headers: ["X-Thing": "abc", "Content-Type": "text/plain"], body: Array("hello".utf8))])
        defer { server.stop() }
        let r = try client().send(HTTPRequest(method: "GET", url: server.url + "/v1/x?q=1", headers: ["Authorization": "Bearer s3cret"]))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "hello")
        XCTAssertEqual(r.headers["x-thing"], "abc")
        XCTAssertEqual(r.header("Content-Type"), "text/plain")
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(server.requests[0].method, "GET")
        XCTAssertEqual(server.requests[0].target, "/v1/x?q=1")
        XCTAssertEqual(server.requests[0].headers["authorization"], "Bearer s3cret")
    }

    func testPostRoundTrip() throws {
        let server = try LoopbackServer([.init(status: 201, body: Array("{\"id\":1}".utf8))])
        defer { server.stop() }
        let body = Array("{\"prompt\":\"a cat\"}".utf8)
        let r = try client().send(HTTPRequest(method: "POST", url: server.url + "/jobs",
                                              headers: ["Content-Type": "application/json", "X-Key": "k"], body: body))
        XCTAssertEqual(r.status, 201)
        XCTAssertEqual(r.text, "{\"id\":1}")
        let got = server.requests
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(got[0].method, "POST")
        XCTAssertEqual(got[0].body, body)
        XCTAssertEqual(got[0].headers["content-type"], "application/json")
        XCTAssertEqual(got[0].headers["x-key"], "k")
        XCTAssertNil(got[0].headers["expect"])
    }

    func testRetryAfterHonoured() throws {
        let server = try LoopbackServer([.init(status: 429, headers: ["Retry-After": "3"]), .init(status: 200, body: Array("ok".utf8))])
        defer { server.stop() }
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 1)
        let r = try client(rec).send(HTTPRequest(url: server.url), retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.1, maxDelay: 10), random: &rng)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(rec.delays, [3])
    }

    func testRetryAfterCappedAtMaxDelay() throws {
        let server = try LoopbackServer([.init(status: 429, headers: ["Retry-After": "600"]), .init(status: 200)])
        defer { server.stop() }
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 1)
        _ = try client(rec).send(HTTPRequest(url: server.url), retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.1, maxDelay: 5), random: &rng)
        XCTAssertEqual(rec.delays, [5])
    }

    func testServerErrorsRetriedWithGrowingDelays() throws {
        let server = try LoopbackServer([.init(status: 503), .init(status: 503), .init(status: 200, body: Array("done".utf8))])
        defer { server.stop() }
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 7)
        let r = try client(rec).send(HTTPRequest(url: server.url), retry: RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 60, jitter: .equal),
                                     random: &rng)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "done")
        XCTAssertEqual(server.requests.count, 3)
        let d = rec.delays
        XCTAssertEqual(d.count, 2)
        // Equal jitter: attempt 1 in [0.5, 1], attempt 2 in [1, 2].
        XCTAssert((0.5...1).contains(d[0]), "\(d)")
        XCTAssert((1...2).contains(d[1]), "\(d)")
        XCTAssertLessThan(d[0], d[1])
    }

    func testRetriesExhaustedReturnLastResponse() throws {
        let server = try LoopbackServer([.init(status: 500), .init(status: 502)])
        defer { server.stop() }
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 3)
        let r = try client(rec).send(HTTPRequest(url: server.url), retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01), random: &rng)
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(rec.delays.count, 1)
    }

    func testClientErrorNotRetried() throws {
        let server = try LoopbackServer([.init(status: 422, body: Array("bad".utf8)), .init(status: 200)])
        defer { server.stop() }
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 1)
        let r = try client(rec).send(HTTPRequest(method: "POST", url: server.url, body: [1, 2]), retry: RetryPolicy(), random: &rng)
        XCTAssertEqual(r.status, 422)
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(rec.delays, [])
    }

    func testRedirectNotFollowed() throws {
        let server = try LoopbackServer([.init(status: 302, headers: ["Location": "/elsewhere"]), .init(status: 200)])
        defer { server.stop() }
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 1)
        let r = try client(rec).send(HTTPRequest(url: server.url + "/start"), retry: RetryPolicy(), random: &rng)
        XCTAssertEqual(r.status, 302)
        XCTAssertTrue(r.isRedirect)
        XCTAssertEqual(r.header("location"), "/elsewhere")
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(server.requests[0].target, "/start")
        XCTAssertThrowsError(try r.requireNoRedirect()) { XCTAssertEqual($0 as? NetError, .redirectRefused(status: 302)) }
    }

    func testTooLarge() throws {
        let server = try LoopbackServer([.init(status: 200, body: [UInt8](repeating: 65, count: 100_000))])
        defer { server.stop() }
        XCTAssertThrowsError(try client(maxBytes: 1000).send(HTTPRequest(url: server.url + "/big?token=zzz"))) { e in
            guard case .tooLarge(let endpoint, let limit)? = e as? NetError else { return XCTFail("\(e)") }
            XCTAssertEqual(limit, 1000)
            XCTAssertFalse(endpoint.contains("zzz"))
        }
    }

    func testTooLargeWithoutContentLength() throws {
        // No Content-Length: libcurl cannot refuse up front, so the write callback's cap aborts the transfer.
        let server = try LoopbackServer([.init(status: 200, body: [UInt8](repeating: 66, count: 200_000), omitLength: true)])
        defer { server.stop() }
        XCTAssertThrowsError(try client(maxBytes: 5000).send(HTTPRequest(url: server.url))) { e in
            guard case .tooLarge? = e as? NetError else { return XCTFail("\(e)") }
        }
        let small = try LoopbackServer([.init(status: 200, body: [UInt8](repeating: 67, count: 4000), omitLength: true)])
        defer { small.stop() }
        XCTAssertEqual(try client(maxBytes: 5000).send(HTTPRequest(url: small.url)).body.count, 4000)
    }

    func testTimeout() throws {
        let server = try LoopbackServer([.init(status: 200, body: Array("late".utf8), delay: 2)])
        defer { server.stop() }
        let start = Date()
        XCTAssertThrowsError(try client(timeout: 1).send(HTTPRequest(url: server.url))) { e in
            guard case .timeout? = e as? NetError else { return XCTFail("\(e)") }
            XCTAssertTrue((e as! NetError).isTransient)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.9)
    }

    func testConnectionRefusedIsConnectionError() throws {
        let server = try LoopbackServer([])
        let url = server.url
        server.stop()
        Thread.sleep(forTimeInterval: 0.1)  // let the listener close
        let rec = SleepRecorder()
        var rng = SplitMix64(seed: 1)
        XCTAssertThrowsError(try client(rec).send(HTTPRequest(url: url), retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.01), random: &rng)) { e in
            guard case .connection? = e as? NetError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(rec.delays.count, 2)
    }

    func testInvalidInputsRejectedWithoutSecrets() {
        let c = client()
        XCTAssertThrowsError(try c.send(HTTPRequest(url: "file:///etc/passwd"))) { XCTAssertEqual($0 as? NetError, .invalidURL("file:///etc/passwd")) }
        XCTAssertThrowsError(try c.send(HTTPRequest(url: "http://127.0.0.1/", headers: ["X-Key": "sec\r\nInjected: 1"]))) { e in
            XCTAssertEqual(e as? NetError, .invalidHeader(name: "X-Key"))
            XCTAssertFalse("\(e)".contains("sec"))
        }
        XCTAssertThrowsError(try c.send(HTTPRequest(method: "GE T", url: "http://127.0.0.1/")))
        XCTAssertEqual(NetError.redact("https://user:pw@api.example.com/v1/x?key=abc#f"), "https://api.example.com/v1/x")
    }
}

final class RetryPolicyTests: XCTestCase {
    func testDelays() {
        var rng = SplitMix64(seed: 42)
        let none = RetryPolicy(maxAttempts: 10, baseDelay: 0.5, maxDelay: 4, jitter: .none)
        XCTAssertEqual((1...6).map { none.delay(attempt: $0, random: &rng) }, [0.5, 1, 2, 4, 4, 4])
        let full = RetryPolicy(maxAttempts: 10, baseDelay: 1, maxDelay: 8, jitter: .full)
        for a in 1...6 { XCTAssert((0...min(8, pow(2, Double(a - 1)))).contains(full.delay(attempt: a, random: &rng))) }
        XCTAssertEqual(full.delay(attempt: 3, retryAfter: 2.5, random: &rng), 2.5)
        XCTAssertEqual(full.delay(attempt: 3, retryAfter: 100, random: &rng), 8)
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
        XCTAssertEqual(full.delay(attempt: 4, random: &a), full.delay(attempt: 4, random: &b))
    }

    func testParseRetryAfter() {
        XCTAssertEqual(RetryPolicy.parseRetryAfter("120"), 120)
        XCTAssertNil(RetryPolicy.parseRetryAfter("soon"))
        let now = Date(timeIntervalSince1970: 784_111_747)  // Sun, 06 Nov 1994 08:49:07 GMT
        XCTAssertEqual(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now), 30)
        XCTAssertTrue(RetryPolicy.isRetryable(status: 429))
        XCTAssertTrue(RetryPolicy.isRetryable(status: 503))
        XCTAssertFalse(RetryPolicy.isRetryable(status: 404))
    }
}
