import Foundation

/// multipart/form-data (RFC 7578): building a body from parts, with a boundary absent from them.
public enum MultipartBody {
    public enum Part: Sendable, Equatable {
        case text(name: String, value: String)
        case file(name: String, fileName: String, contentType: String, bytes: [UInt8])

        var name: String {
            switch self { case .text(let n, _), .file(let n, _, _, _): return n }
        }
    }


    /// The body bytes and the Content-Type header value (with the boundary).
    public static func build(parts: [Part], boundary: String) throws(MultipartError) -> (body: [UInt8], contentType: String) {
        let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ".utf8)
        guard (1...70).contains(boundary.utf8.count), boundary.utf8.allSatisfy({ allowed.contains($0) }),
              !boundary.hasSuffix(" ") else { throw .invalidBoundary }
        let marker = Array(boundary.utf8)
        var body: [UInt8] = []
        for part in parts {
            let content: [UInt8]
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quote(part.name))\""
            switch part {
            case .text(_, let value):
                content = Array(value.utf8)
                head += "\r\n\r\n"
            case .file(_, let fileName, let contentType, let bytes):
                guard !contentType.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw .invalidContentType(partName: part.name) }
                content = bytes
                head += "; filename=\"\(quote(fileName))\"\r\nContent-Type: \(contentType.isEmpty ? "application/octet-stream" : contentType)\r\n\r\n"
            }
            if contains(content, marker) { throw .boundaryInContent(partName: part.name) }
            body += Array(head.utf8)
            body += content
            body += Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    /// Builds with a random boundary, drawing again in the (unlikely) case it occurs in the content.
    public static func build<R: RandomNumberGenerator>(parts: [Part], random: inout R) throws(MultipartError) -> (body: [UInt8], contentType: String) {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        for _ in 0..<16 {
            let boundary = "studio-" + String((0..<32).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
            do { return try build(parts: parts, boundary: boundary) } catch .boundaryInContent { continue }
        }
        throw .boundaryInContent(partName: parts.first?.name ?? "")
    }

    /// A name or file name inside a quoted-string: `"`, CR and LF percent-encoded (as browsers do).
    static func quote(_ s: String) -> String {
        s.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

public enum MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The boundary is not 1-70 characters of RFC 2046 bchars (and does not end in a space).
    case invalidBoundary
    /// The boundary occurs in a part's content, which would cut that part short.
    case boundaryInContent(partName: String)
    /// A file part's content type has control characters.
    case invalidContentType(partName: String)
    /// A plan part names an image index that was not supplied, or has neither text nor an image.
    case missingImage(partName: String)

    public var description: String {
        switch self {
        case .invalidBoundary: return "invalid multipart boundary"
        case .boundaryInContent(let n): return "the multipart boundary occurs in the content of part \"\(n)\""
        case .invalidContentType(let n): return "invalid content type for part \"\(n)\""
        case .missingImage(let n): return "multipart part \"\(n)\" has no text and no supplied image"
        }
    }
}
