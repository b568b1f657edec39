import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One request as the loopback server received it.
public struct ServerRequest: Sendable, Equatable {
    public var method: String
    /// The request target: path and query ("/v1/predictions/abc?x=1").
    public var target: String
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, target: String, headers: [String: String], body: [UInt8]) {
        self.method = method; self.target = target; self.headers = headers; self.body = body
    }

    /// The target without its query.
    public var path: String { String(target.prefix { $0 != "?" }) }
}

/// One answer of the loopback server.
public struct ServerResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    /// Seconds to wait before answering (a slow server).
    public var delay: Double
    /// Send no Content-Length: the body ends when the connection closes.
    public var omitLength: Bool

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = [], delay: Double = 0, omitLength: Bool = false) {
        self.status = status; self.headers = headers; self.body = body; self.delay = delay; self.omitLength = omitLength
    }

    /// A JSON answer.
    public static func json(_ status: Int, _ object: Any, headers: [String: String] = [:]) -> ServerResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var h = headers
        h["Content-Type"] = "application/json"
        return ServerResponse(status: status, headers: h, body: Array(data))
    }
}

/// A small HTTP/1.1 server on 127.0.0.1 (an ephemeral port unless one is asked for): one connection
/// at a time on a background thread, each answered by `handler` and closed. For emulators and tests;
/// requests larger than `maxRequestBytes` are answered 413.
public final class LoopbackHTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (ServerRequest) -> ServerResponse


    private let lock = NSLock()
    private var stopped = false
    private let fd: Int32
    private let handler: Handler
    private let done = DispatchSemaphore(value: 0)
    public let port: UInt16
    public let maxRequestBytes: Int

    public init(port: UInt16 = 0, maxRequestBytes: Int = 96 << 20, handler: @escaping Handler) throws {
        self.handler = handler
        self.maxRequestBytes = maxRequestBytes
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackServerError(description: "socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw LoopbackServerError(description: "cannot listen on 127.0.0.1:\(port): \(why)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    deinit { stop() }

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Stops accepting; returns once the serving thread has finished its current request.
    public func stop() {
        let first: Bool = lock.withLock { let was = stopped; stopped = true; return !was }
        if first {
            shutdown(fd, Int32(SHUT_RDWR))
            done.wait()
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func serve() {
        defer { close(fd); done.signal() }
        while !isStopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 50) <= 0 { continue }
            let client = accept(fd, nil, nil)
            if client < 0 { if isStopped { return } else { continue } }
            var tv = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var contentLength = 0
        var tooLarge = false
        while true {
            if let end = headerEnd, data.count >= end + contentLength { break }
            let n = buf.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            data += buf[0..<n]
            if headerEnd == nil {
                if let r = Self.find(data, Array("\r\n\r\n".utf8)) {
                    headerEnd = r + 4
                    let head = String(decoding: data[0..<r], as: UTF8.self)
                    for line in head.split(separator: "\r\n").dropFirst() {
                        let kv = line.split(separator: ":", maxSplits: 1)
                        if kv.count == 2, kv[0].lowercased() == "content-length" {
                            contentLength = max(0, Int(kv[1].trimmingCharacters(in: .whitespaces)) ?? 0)
                        }
                    }
                    if contentLength > maxRequestBytes { tooLarge = true; break }
                } else if data.count > 64 * 1024 {
                    tooLarge = true; break
                }
            }
        }
        let response: ServerResponse
        if tooLarge {
            response = ServerResponse(status: 413, body: Array("request too large".utf8))
        } else {
            let end = headerEnd!
            let lines = String(decoding: data[0..<(end - 4)], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
            let requestLine = lines[0].split(separator: " ")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                let kv = line.split(separator: ":", maxSplits: 1)
                guard kv.count == 2 else { continue }
                headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces)
            }
            let request = ServerRequest(method: requestLine.first.map(String.init) ?? "", target: requestLine.count > 1 ? String(requestLine[1]) : "",
                                        headers: headers, body: Array(data[end..<(end + contentLength)]))
            response = handler(request)
        }
        var waited = 0.0
        while waited < response.delay && !isStopped { usleep(20_000); waited += 0.02 }
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for (k, v) in response.headers.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        if !response.omitLength { head += "Content-Length: \(response.body.count)\r\n" }
        head += "Connection: close\r\n\r\n"
        let out = Array(head.utf8) + response.body
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 413: return "Payload Too Large"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

public struct LoopbackServerError: Error, CustomStringConvertible {
    public let description: String
}
