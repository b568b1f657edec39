import Foundation

// The one JSON convention of every document studio prints or writes (docs/json.md describes each):
// - keys are snake_case, in every document and at every depth (Codable values go through
//   `StudioJSON.encoder`, which converts their property names);
// - every document has a "schema": "studio.<kind>/<version>" key (`JSONSchema`; first in the
//   hand-built lines, in sorted place in the others, where all keys are sorted); the
//   version goes up when a key is renamed or removed or changes meaning, not when one is added;
// - booleans are true/false, absent values are null, non-finite numbers are null;
// - `--json` prints one document per line (faces and verify: one per image), to standard output.

/// Every kind of JSON document, with its current version.
enum JSONSchema: String, CaseIterable {
    case faces = "studio.faces/1"
    case compare = "studio.compare/1"
    case verify = "studio.verify/1"
    case character = "studio.character/1"
    case characterList = "studio.character-list/1"
    case characterSearch = "studio.character-search/1"
    case characterRemoved = "studio.character-removed/1"
    case characterExported = "studio.character-exported/1"
    case gen = "studio.gen/1"
    case runReport = "studio.run-report/1"
    case runSpec = "studio.run-spec/1"
    case runStopped = "studio.run-stopped/1"
    case runsList = "studio.runs-list/1"
    case local = "studio.local/1"
    case dryRun = "studio.dry-run/1"
    case adaptersList = "studio.adapters-list/1"
    case adaptersCheck = "studio.adapters-check/1"
    case adapterInfo = "studio.adapter-info/1"
    case models = "studio.models/1"
    case calibration = "studio.calibration/1"
    case benchFaces = "studio.bench-faces/1"
    case benchCalibrate = "studio.bench-calibrate/1"
    case benchStore = "studio.bench-store/1"
    case benchGeneratedQuality = "studio.bench-generated-quality/1"
    case benchGen = "studio.bench-gen/1"
    case benchAdapters = "studio.bench-adapters/1"
}

/// Minimal JSON text building with a fixed key order (the `faces --json` line format is a contract).
enum JSON {
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
                else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
    /// Shortest round-tripping decimal; non-finite values become null.
    static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
    static func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
    static func bool(_ b: Bool) -> String { b ? "true" : "false" }
    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
    /// A top-level document: `schema` first, then the pairs.
    static func document(_ schema: JSONSchema, _ pairs: [(String, String)]) -> String {
        object([("schema", string(schema.rawValue))] + pairs)
    }
    /// A top-level document from a `JSONSerialization` dictionary (keys sorted, `schema` added).
    static func document(_ schema: JSONSchema, _ object: [String: Any]) throws -> String {
        var o = object
        o["schema"] = schema.rawValue
        return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

/// Codable documents under the convention.
enum StudioJSON {
    /// Sorted keys, property names converted to snake_case.
    static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    /// Reads what `encoder` wrote.
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    /// `value` as a document: its keys with `schema` added.
    static func encode<T: Encodable>(_ value: T, as schema: JSONSchema, pretty: Bool = false) throws -> Data {
        try encoder(pretty: pretty).encode(Document(schema: schema.rawValue, body: value))
    }

    /// `encode` as text.
    static func text<T: Encodable>(_ value: T, as schema: JSONSchema) throws -> String {
        String(decoding: try encode(value, as: schema), as: UTF8.self)
    }

    /// A list as a document: `{"schema":…, key: [...]}`.
    static func text<T: Encodable>(list: [T], key: String, as schema: JSONSchema) throws -> String {
        String(decoding: try encoder().encode(Document(schema: schema.rawValue, body: [key: list])), as: UTF8.self)
    }

    /// `schema` written beside the body's own keys (the body must encode as an object).
    struct Document<Body: Encodable>: Encodable {
        var schema: String
        var body: Body
        enum Key: String, CodingKey { case schema }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(schema, forKey: .schema)
            try body.encode(to: encoder)
        }
    }
}
