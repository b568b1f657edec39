import Foundation

/// The header of a safetensors file: read from untrusted bytes, every length and offset checked.
enum SafeTensorsHeader {
    /// One header value: a tensor entry or the metadata map.
    private enum Value: Decodable {
        case tensor(dtype: String, shape: [Int], offsets: [Int])
        case metadata([String: String])

        private enum Keys: String, CodingKey { case dtype, shape, data_offsets }

        init(from decoder: Decoder) throws {
            if let map = try? decoder.singleValueContainer().decode([String: String].self) {
                self = .metadata(map)
                return
            }
            let c = try decoder.container(keyedBy: Keys.self)
            self = .tensor(dtype: try c.decode(String.self, forKey: .dtype), shape: try c.decode([Int].self, forKey: .shape),
                           offsets: try c.decode([Int].self, forKey: .data_offsets))
        }
    }

    /// The tensors in offset order and the metadata of the file `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(SafeTensorsError) -> ([SafeTensors.Info], [String: String]) {
        func fail(_ kind: SafeTensorsError.Kind) -> SafeTensorsError { SafeTensorsError(file: file, kind: kind) }
        guard bytes.count >= 8 else { throw fail(.truncated("\(bytes.count) bytes, shorter than the 8-byte header length")) }
        let declared = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard declared <= UInt64(SafeTensors.maxHeaderBytes) else {
            throw fail(.truncated("the header length \(declared) exceeds the format's limit of \(SafeTensors.maxHeaderBytes) bytes"))
        }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw fail(.truncated("the header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)"))
        }
        let json = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard json.first == UInt8(ascii: "{") else { throw fail(.header("does not begin with '{'")) }
        let values: [String: Value]
        do { values = try JSONDecoder().decode([String: Value].self, from: Data(json)) } catch {
            throw fail(.header("is not a JSON object of tensor entries (\(Self.reason(error)))"))
        }
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], offsets: [Int])] = []
        for (name, value) in values {
            switch value {
            case .metadata(let m):
                guard name == "__metadata__" else { throw fail(.entry(name, "is a map of strings, not a tensor entry")) }
                metadata = m
            case .tensor(let dtype, let shape, let offsets):
                guard name != "__metadata__" else { throw fail(.header("has a __metadata__ entry that is not a map of strings")) }
                entries.append((name, dtype, shape, offsets))
            }
        }
        let dataStart = 8 + headerLength
        let infos = try entries.map { e throws(SafeTensorsError) in try info(e.name, e.dtype, e.shape, e.offsets, dataStart: dataStart, file: file) }
        return (try tiled(infos, dataBytes: bytes.count - dataStart, dataStart: dataStart, file: file), metadata)
    }

    /// One entry, checked on its own: a known dtype, non-negative dimensions whose element count times
    /// the element size (without overflow) is the offsets' span.
    private static func info(_ name: String, _ dtype: String, _ shape: [Int], _ offsets: [Int], dataStart: Int,
                             file: String) throws(SafeTensorsError) -> SafeTensors.Info {
        func fail(_ why: String) -> SafeTensorsError { SafeTensorsError(file: file, kind: .entry(name, why)) }
        guard let type = SafeTensorDType(rawValue: dtype) else { throw fail("has the unknown dtype '\(dtype)'") }
        guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw fail("has data_offsets \(offsets), not [begin, end] with 0 <= begin <= end")
        }
        var elements = 1
        for d in shape {
            guard d >= 0 else { throw fail("has a negative dimension in shape \(shape)") }
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("has a shape \(shape) whose element count overflows") }
            elements = p
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: type.size)
        guard !overflow, bytes == offsets[1] - offsets[0] else {
            throw fail("spans \(offsets[1] - offsets[0]) bytes but shape \(shape) of \(dtype) needs \(overflow ? "more than Int.max" : String(bytes))")
        }
        return SafeTensors.Info(name: name, dtype: type, shape: shape, offset: dataStart + offsets[0], byteCount: bytes)
    }

    /// The entries in offset order, checked to cover the data buffer exactly.
    private static func tiled(_ infos: [SafeTensors.Info], dataBytes: Int, dataStart: Int,
                              file: String) throws(SafeTensorsError) -> [SafeTensors.Info] {
        let sorted = infos.sorted { ($0.offset, $0.byteCount, $0.name) < ($1.offset, $1.byteCount, $1.name) }
        var end = 0
        for t in sorted {
            let begin = t.offset - dataStart
            guard begin == end else {
                throw SafeTensorsError(file: file, kind: .layout(begin > end
                    ? "bytes \(end)..<\(begin) of the data buffer belong to no tensor (before '\(t.name)')"
                    : "tensor '\(t.name)' overlaps the one before it (it begins at \(begin), the previous ends at \(end))"))
            }
            end = begin + t.byteCount
        }
        guard end == dataBytes else {
            throw SafeTensorsError(file: file, kind: .layout(end > dataBytes
                ? "the tensors need \(end) bytes of data but the file holds \(dataBytes) after its header (truncated?)"
                : "\(dataBytes - end) bytes after the last tensor belong to no tensor"))
        }
        return sorted
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.keyNotFound(_, let c),
             DecodingError.dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? c.debugDescription : "at \(path): \(c.debugDescription)"
        default: return "\(error)"
        }
    }
}
