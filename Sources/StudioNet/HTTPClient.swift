import CCurl
import Foundation

/// The host's HTTP client on libcurl. One `send` is one attempt on a fresh easy handle; redirects are
/// never followed (a 3xx comes back as a response), only http and https are allowed, and the response
/// body is capped. `send(_:retry:)` adds retries (see `RetryPolicy`).
public struct HTTPClient: Sendable {
    /// The response body limit in bytes; a larger body fails with `NetError.tooLarge`.
    public var maxResponseBytes: Int
    /// Seconds to establish the connection.
    public var connectTimeout: Double
    /// Seconds for the whole transfer.
    public var timeout: Double
    /// How retries wait (seconds). Injected by tests; blocks the calling thread by default.
    public var sleep: @Sendable (Double) -> Void

    public init(maxResponseBytes: Int = 64 << 20, connectTimeout: Double = 10, timeout: Double = 120,
                sleep: @escaping @Sendable (Double) -> Void = { if $0 > 0 { Thread.sleep(forTimeInterval: $0) } }) {
        self.maxResponseBytes = maxResponseBytes; self.connectTimeout = connectTimeout; self.timeout = timeout
        self.sleep = sleep
    }

    /// One attempt. Blocks until the transfer ends.
    public func send(_ request: HTTPRequest) throws(NetError) -> HTTPResponse {
        let endpoint = NetError.redact(request.url)
        guard let scheme = request.url.split(separator: ":", maxSplits: 1).first?.lowercased(),
              scheme == "http" || scheme == "https", request.url.contains("://"),
              !request.url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
        else { throw .invalidURL(request.url) }
        let method = request.method.uppercased()
        guard !method.isEmpty, method.utf8.allSatisfy({ HTTPClient.isTokenByte($0) }) else { throw .invalidMethod(request.method) }
        for (name, value) in request.headers {
            guard !name.isEmpty, name.utf8.allSatisfy({ HTTPClient.isTokenByte($0) }),
                  !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 })
            else { throw .invalidHeader(name: name) }
        }

        guard let t = ccurl_new() else { throw .transfer(endpoint: endpoint, code: -1, detail: "libcurl could not start a transfer") }
        defer { ccurl_free(t) }
        guard ccurl_set_url(t, request.url) == 0 else { throw .invalidURL(request.url) }
        guard ccurl_set_method(t, method) == 0 else { throw .invalidMethod(request.method) }
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
            // "Name;" sends a header with an empty value ("Name:" would remove it).
            let line = value.isEmpty ? "\(name);" : "\(name): \(value)"
            guard ccurl_add_header(t, line) == 0 else { throw .invalidHeader(name: name) }
        }
        if method != "GET" && method != "HEAD" {
            let rc = request.body.withUnsafeBufferPointer { ccurl_set_body(t, $0.baseAddress, $0.count) }
            guard rc == 0 else { throw .transfer(endpoint: endpoint, code: Int(rc), detail: "could not set the request body") }
        }
        _ = ccurl_set_timeouts(t, HTTPClient.millis(connectTimeout), HTTPClient.millis(timeout))
        _ = ccurl_set_max_response(t, max(0, maxResponseBytes))

        let result = ccurl_perform(t)
        let detail = String(cString: ccurl_error(t))
        switch result {
        case CCURL_OK: break
        case CCURL_TIMEOUT: throw .timeout(endpoint: endpoint, seconds: timeout)
        case CCURL_TOO_LARGE: throw .tooLarge(endpoint: endpoint, limit: maxResponseBytes)
        case CCURL_CONNECTION: throw .connection(endpoint: endpoint, detail: detail)
        case CCURL_INVALID_URL: throw .invalidURL(request.url)
        default: throw .transfer(endpoint: endpoint, code: Int(ccurl_curl_code(t)), detail: detail)
        }

        var count = 0
        var body: [UInt8] = []
        if let p = ccurl_body(t, &count), count > 0 { body = Array(UnsafeBufferPointer(start: p, count: count)) }
        var headers: [String: String] = [:]
        if let p = ccurl_headers(t, &count), count > 0 {
            let raw = UnsafeRawBufferPointer(start: p, count: count)
            for line in String(decoding: raw, as: UTF8.self).split(separator: "\n") {
                guard let colon = line.range(of: ": ") else { continue }
                let name = String(line[..<colon.lowerBound]), value = String(line[colon.upperBound...])
                if let old = headers[name] { headers[name] = old + ", " + value } else { headers[name] = value }
            }
        }
        return HTTPResponse(status: Int(ccurl_response_code(t)), headers: headers, body: body)
    }

    /// Sends with retries on 429, 5xx, timeouts and connection failures (not on other 4xx, not on 3xx).
    /// After the last attempt the last response is returned (or the last error thrown). A non-idempotent
    /// request may reach the server more than once when a connection fails mid-way: callers choose the policy.
    public func send<R: RandomNumberGenerator>(_ request: HTTPRequest, retry: RetryPolicy, random: inout R) throws(NetError) -> HTTPResponse {
        var attempt = 1
        while true {
            let retryAfter: Double?
            do {
                let response = try send(request)
                guard attempt < retry.maxAttempts, RetryPolicy.isRetryable(status: response.status) else { return response }
                retryAfter = response.header("retry-after").flatMap { RetryPolicy.parseRetryAfter($0) }
            } catch {
                guard attempt < retry.maxAttempts, error.isTransient else { throw error }
                retryAfter = nil
            }
            sleep(retry.delay(attempt: attempt, retryAfter: retryAfter, random: &random))
            attempt += 1
        }
    }

    /// `send(_:retry:random:)` with the system's random numbers.
    public func send(_ request: HTTPRequest, retry: RetryPolicy) throws(NetError) -> HTTPResponse {
        var g = SystemRandomNumberGenerator()
        return try send(request, retry: retry, random: &g)
    }

    static func millis(_ seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return Int(min(seconds * 1000, Double(Int32.max)).rounded(.up))
    }

    /// RFC 9110 tchar.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}
