
/// One HTTP request as the host sends it. Header values may carry secrets: nothing in StudioNet
/// writes them into an error or a description.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String = "GET", url: String, headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
    }
}

/// One HTTP response. Header names are lower-cased; a repeated header keeps its values joined by ", ".
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status; self.headers = headers; self.body = body
    }

    /// A header by name, in any case.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// 3xx: the client never follows these; the caller treats them as refused (see `requireNoRedirect`).
    public var isRedirect: Bool { (300..<400).contains(status) }

    /// The response itself, or `NetError.redirectRefused` for a 3xx.
    public func requireNoRedirect() throws(NetError) -> HTTPResponse {
        if isRedirect { throw .redirectRefused(status: status) }
        return self
    }

    /// The body as UTF-8 text (invalid sequences repaired).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Errors of a transfer. Messages name the endpoint without its query string (which may hold a key)
/// and never include a header value.
public enum NetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not an http(s) URL libcurl accepts.
    case invalidURL(String)
    /// A method that is not an HTTP token.
    case invalidMethod(String)
    /// A header name or value with characters that would break the request (CR, LF, NUL, ...).
    case invalidHeader(name: String)
    /// The request did not complete within the timeout.
    case timeout(endpoint: String, seconds: Double)
    /// The response body exceeds the size limit.
    case tooLarge(endpoint: String, limit: Int)
    /// A 3xx answer: redirects are never followed.
    case redirectRefused(status: Int)
    /// Could not connect, or the connection failed mid-transfer.
    case connection(endpoint: String, detail: String)
    /// Any other libcurl failure.
    case transfer(endpoint: String, code: Int, detail: String)

    public var description: String {
        switch self {
        case .invalidURL(let u): return "invalid URL \(NetError.redact(u)) (only http and https URLs are accepted)"
        case .invalidMethod(let m): return "invalid HTTP method \"\(m.prefix(32))\""
        case .invalidHeader(let name): return "invalid header \"\(name.prefix(64))\" (control characters in its name or value)"
        case .timeout(let e, let s): return "request to \(e) timed out after \(s) s"
        case .tooLarge(let e, let limit): return "response from \(e) is larger than the \(limit)-byte limit"
        case .redirectRefused(let status): return "the server answered \(status) (a redirect); redirects are not followed"
        case .connection(let e, let d): return "connection to \(e) failed: \(d)"
        case .transfer(let e, let code, let d): return "request to \(e) failed (libcurl \(code)): \(d)"
        }
    }

    /// Retrying may help: timeouts and connection failures.
    public var isTransient: Bool {
        switch self {
        case .timeout, .connection: return true
        default: return false
        }
    }

    /// The URL without user info, query or fragment: safe for messages.
    public static func redact(_ url: String) -> String {
        var s = Substring(url)
        if let i = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<i] }
        if let scheme = s.range(of: "://") {
            let rest = s[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                return String(s[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
            }
        }
        return String(s)
    }
}
