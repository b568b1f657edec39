import XCTest
import StudioKit
@testable import StudioNet

final class MultipartTests: XCTestCase {
    /// Splits a body on its boundary and returns (headers, content) per part, checking the framing.
    func parse(_ body: [UInt8], boundary: String) throws -> [(head: String, content: [UInt8])] {
        let delimiter = Array("--\(boundary)".utf8)
        let crlfDelimiter = Array("\r\n--\(boundary)".utf8)
        XCTAssertEqual(Array(body.prefix(delimiter.count)), delimiter, "body starts with the first delimiter")
        XCTAssertEqual(Array(body.suffix(delimiter.count + 4)), delimiter + Array("--\r\n".utf8), "body ends with the close delimiter")
        var parts: [(String, [UInt8])] = []
        var i = delimiter.count
        while true {
            let after = Array(body[i..<(i + 2)])
            if after == Array("--".utf8) { break }
            XCTAssertEqual(after, Array("\r\n".utf8))
            i += 2
            guard let headEnd = find(body, Array("\r\n\r\n".utf8), from: i) else { throw POSIXError(.EINVAL) }
            let head = String(decoding: body[i..<headEnd], as: UTF8.self)
            let start = headEnd + 4
            guard let next = find(body, crlfDelimiter, from: start) else { throw POSIXError(.EINVAL) }
            parts.append((head, Array(body[start..<next])))
            i = next + crlfDelimiter.count
        }
        return parts
    }

    func find(_ hay: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        for i in from...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }

    func testBuildParsesBack() throws {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 255, 13, 10, 45, 45]
        let (body, type) = try MultipartBody.build(parts: [
            .text(name: "prompt", value: "a cat\r\nin a hat"),
            .file(name: "image", fileName: "face \"1\".png", contentType: "image/png", bytes: png),
            .text(name: "empty", value: ""),
        ], boundary: "XyZ-123")
        XCTAssertEqual(type, "multipart/form-data; boundary=XyZ-123")
        let parts = try parse(body, boundary: "XyZ-123")
        XCTAssertEqual(parts.count, 3)
        XCTAssertEqual(parts[0].head, "Content-Disposition: form-data; name=\"prompt\"")
        XCTAssertEqual(String(decoding: parts[0].content, as: UTF8.self), "a cat\r\nin a hat")
        XCTAssertEqual(parts[1].head, "Content-Disposition: form-data; name=\"image\"; filename=\"face %221%22.png\"\r\nContent-Type: image/png")
        XCTAssertEqual(parts[1].content, png)
        XCTAssertEqual(parts[2].content, [])
    }

    func testBoundaryChecks() {
        XCTAssertThrowsError(try MultipartBody.build(parts: [.text(name: "a", value: "x--abc--y")], boundary: "abc")) {
            XCTAssertEqual($0 as? MultipartError, .boundaryInContent(partName: "a"))
        }
        XCTAssertThrowsError(try MultipartBody.build(parts: [], boundary: "")) { XCTAssertEqual($0 as? MultipartError, .invalidBoundary) }
        XCTAssertThrowsError(try MultipartBody.build(parts: [], boundary: "a\"b"))
        XCTAssertThrowsError(try MultipartBody.build(parts: [], boundary: String(repeating: "a", count: 71)))
        var rng = SplitMix64(seed: 5)
        XCTAssertNoThrow(try MultipartBody.build(parts: [.text(name: "a", value: "studio-")], random: &rng))
    }

    func testMultipartPostReachesServer() throws {
        let server = try LoopbackServer([.init(status: 200)])
        defer { server.stop() }
        let (body, type) = try MultipartBody.build(parts: [.text(name: "k", value: "v"), .file(name: "f", fileName: "a.bin", contentType: "application/octet-stream", bytes: [0, 1, 2])],
                                                   boundary: "bnd")
        _ = try HTTPClient(timeout: 5).send(HTTPRequest(method: "POST", url: server.url + "/up", headers: ["Content-Type": type], body: body))
        XCTAssertEqual(server.requests.first?.body, body)
        XCTAssertEqual(server.requests.first?.headers["content-type"], type)
        XCTAssertEqual(try parse(server.requests[0].body, boundary: "bnd").map(\.content), [Array("v".utf8), [0, 1, 2]])
    }
}
