import Foundation
import AdapterSDK

/// A request as a contract sees it: method, host, path, headers (lower-case names) and the body,
/// parsed. Built from the bytes an emulator received, or from an adapter's plan.
public struct ContractRequest: Sendable {
    public enum Body: @unchecked Sendable {
        case none
        /// A parsed JSON value (`JSONSerialization` types).
        case json(Any)
        /// multipart/form-data parts by name.
        case multipart([String: MultipartValue])
        /// A body that could not be parsed as its declared encoding, and why.
        case unreadable(String)
    }

    public enum MultipartValue: Sendable, Equatable {
        case text(String)
        case file(bytes: Int, mimeType: String?)
    }

    public var method: String
    public var host: String
    public var path: String
    public var headers: [String: String]
    public var body: Body
    /// The body's size in bytes as sent.
    public var bodyBytes: Int

    public init(method: String, host: String, path: String, headers: [String: String], body: Body, bodyBytes: Int) {
        self.method = method.uppercased(); self.host = host.lowercased(); self.path = path
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body; self.bodyBytes = bodyBytes
    }

    /// From the bytes a server received: the body is read as JSON or multipart by its content type.
    public init(method: String, host: String, path: String, headers: [String: String], bodyBytes body: [UInt8]) {
        self.init(method: method, host: host, path: path, headers: headers, body: .none, bodyBytes: body.count)
        self.body = Self.parse(body, contentType: self.headers["content-type"])
    }

    /// From an adapter's plan, with `images` its reference images (multipart file parts name them by
    /// index) and `authorization` the header the host would add to an authenticated plan.
    public init(plan: HTTPRequestPlan, images: [AdapterImage], authorization: (name: String, value: String)?) {
        let url = URLComponents(string: plan.url)
        var headers = plan.headers
        if plan.authenticated, let a = authorization { headers[a.name] = a.value }
        var body: Body = .none
        var size = 0
        if let json = plan.jsonBody {
            size = json.utf8.count
            body = (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])).map { .json($0) }
                ?? .unreadable("the body is not JSON")
            if headers.keys.contains(where: { $0.lowercased() == "content-type" }) == false { headers["Content-Type"] = "application/json" }
        } else if let parts = plan.multipart {
            var values: [String: MultipartValue] = [:]
            for p in parts {
                if let t = p.text { values[p.name] = .text(t); size += t.utf8.count } else {
                    let n = p.imageIndex.flatMap { images.indices.contains($0) ? images[$0].bytes.count : nil } ?? 0
                    values[p.name] = .file(bytes: n, mimeType: p.mimeType); size += n
                }
            }
            body = .multipart(values)
            headers["Content-Type"] = "multipart/form-data; boundary=planned"
        }
        self.init(method: plan.method, host: url?.host ?? "", path: url?.path ?? "", headers: headers, body: body, bodyBytes: size)
    }

    static func parse(_ body: [UInt8], contentType: String?) -> Body {
        guard !body.isEmpty else { return .none }
        let type = (contentType ?? "").lowercased()
        if type.hasPrefix("multipart/form-data") {
            guard let b = (contentType ?? "").range(of: "boundary=", options: .caseInsensitive) else { return .unreadable("multipart boundary missing") }
            let boundary = String((contentType ?? "")[b.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            do {
                let parts = try Multipart.parse(body, boundary: boundary)
                return .multipart(parts.mapValues { p in
                    p.fileName == nil && p.mimeType == nil ? .text(String(decoding: p.bytes, as: UTF8.self)) : .file(bytes: p.bytes.count, mimeType: p.mimeType)
                })
            } catch { return .unreadable("\(error)") }
        }
        guard let o = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            return .unreadable("the body is not valid JSON")
        }
        return .json(o)
    }
}

/// multipart/form-data bodies, read as a server reads them. Every offset is checked against the body.
public enum Multipart {
    public struct Part: Sendable, Equatable {
        public var bytes: [UInt8]
        public var fileName: String?
        public var mimeType: String?
        public init(bytes: [UInt8], fileName: String? = nil, mimeType: String? = nil) { self.bytes = bytes; self.fileName = fileName; self.mimeType = mimeType }
    }


    /// The parts of `body` by name (a later part of the same name wins).
    public static func parse(_ body: [UInt8], boundary: String) throws(MultipartParseError) -> [String: Part] {
        guard !boundary.isEmpty else { throw MultipartParseError(description: "multipart boundary missing") }
        let delimiter = Array("--\(boundary)".utf8)
        var starts: [Int] = []
        var i = 0
        while i + delimiter.count <= body.count {
            if body[i] == delimiter[0], body[i..<(i + delimiter.count)].elementsEqual(delimiter) { starts.append(i); i += delimiter.count } else { i += 1 }
        }
        guard starts.count >= 2 else { throw MultipartParseError(description: "malformed multipart body") }
        var parts: [String: Part] = [:]
        for (a, b) in zip(starts, starts.dropFirst()) {
            var part = Array(body[(a + delimiter.count)..<b])
            if part.starts(with: [13, 10]) { part.removeFirst(2) }
            if part.count >= 2, part[part.count - 2] == 13, part[part.count - 1] == 10 { part.removeLast(2) }
            guard let split = find(part, [13, 10, 13, 10]) else { throw MultipartParseError(description: "malformed multipart part") }
            let head = String(decoding: part[..<split], as: UTF8.self)
            guard let name = quoted(head, after: "name=\"") else { continue }
            let type = head.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("content-type:") }
                .map { $0.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces) }
            parts[name] = Part(bytes: Array(part[(split + 4)...]), fileName: quoted(head, after: "filename=\""), mimeType: type)
        }
        return parts
    }

    static func quoted(_ head: String, after key: String) -> String? {
        // `name="` must not match inside `filename="`.
        var search = head.startIndex..<head.endIndex
        while let r = head.range(of: key, range: search) {
            if key == "name=\"", r.lowerBound > head.startIndex, head[head.index(before: r.lowerBound)].isLetter {
                search = r.upperBound..<head.endIndex; continue
            }
            return String(head[r.upperBound...].prefix { $0 != "\"" })
        }
        return nil
    }

    /// The first offset of `needle` in `haystack`.
    public static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}

public struct MultipartParseError: Error, CustomStringConvertible, Equatable {
    public var description: String
}
