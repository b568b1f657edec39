import Foundation

/// One way a request breaks its contract. `path` is the field's location (`["input", "width"]`);
/// `message` is the provider's own validation text for the rule, filled in.
public struct ContractViolation: Sendable, Equatable, CustomStringConvertible {
    public var path: [String]
    /// The contract rule broken (`required`, `maximum`, `header`, ...).
    public var rule: String
    public var message: String
    /// For a header rule: the status the provider answers with (otherwise the contract's refusal status).
    public var status: Int?
    public var description: String { path.isEmpty ? message : "\(path.joined(separator: ".")): \(message)" }
}

/// What checking a request against its contract found.
public struct ContractCheck: Sendable {
    public var contract: ProviderContract
    public var violations: [ContractViolation]
    /// Fields the provider drops without saying so (the contract's `unknown: drop`), by dotted path.
    public var dropped: [String]
    public var passed: Bool { violations.isEmpty }
}

extension ProviderContract {
    /// Every violation of this contract by `request` (route and selector are assumed matched):
    /// headers first, then the body field by field in name order, then the word rules.
    public func check(_ request: ContractRequest) -> ContractCheck {
        var v = ContractViolation.Collector(contract: self)
        for (name, rule) in headers.sorted(by: { $0.key < $1.key }) {
            let value = request.headers[name] ?? ""
            // A prefix ending in a space ("Bearer ") must be followed by something.
            let ok = (rule.equals.map { value == $0 } ?? true) && !value.isEmpty
                && (rule.prefix.map { value.hasPrefix($0) && (!$0.hasSuffix(" ") || value.count > $0.count) } ?? true)
            if !ok { v.found.append(ContractViolation(path: [], rule: "header", message: rule.message, status: rule.status)) }
        }
        if let maxBytes = body.maxBytes, request.bodyBytes > maxBytes {
            v.add([], "maxBytes", limit: "\(maxBytes)", value: "\(request.bodyBytes)")
        }
        switch (body.encoding, request.body) {
        case (_, .unreadable(let why)):
            v.found.append(ContractViolation(path: [], rule: "body", message: why))
        case ("json", .json(let value)):
            v.object(value, fields: body.fields, unknown: body.unknown, at: [])
        case ("json", .none):
            v.object([String: Any](), fields: body.fields, unknown: body.unknown, at: [])
        case ("multipart", .multipart(let parts)):
            v.multipart(parts, fields: body.fields, unknown: body.unknown)
        default:
            v.found.append(ContractViolation(path: [], rule: "body", message: "the body must be \(body.encoding == "json" ? "JSON" : "multipart/form-data")"))
        }
        if case .json(let value) = request.body { v.words(rules, in: value) }
        if case .multipart(let parts) = request.body { v.words(rules, in: parts.compactMapValues { if case .text(let t) = $0 { t } else { nil } }) }
        return ContractCheck(contract: self, violations: v.found, dropped: v.dropped)
    }
}

extension ContractViolation {
    /// Walks a body, collecting violations in the provider's words.
    struct Collector {
        let contract: ProviderContract
        var found: [ContractViolation] = []
        var dropped: [String] = []

        mutating func add(_ path: [String], _ rule: String, limit: String = "", value: String = "", allowed: String = "", type: String = "") {
            let template = contract.refusal.messages[rule] ?? "{field}: breaks the \(rule) rule"
            let fill = ["{field}": path.joined(separator: "."), "{name}": path.last ?? "body", "{limit}": limit, "{value}": value,
                        "{allowed}": allowed, "{type}": type]
            let message = fill.reduce(template) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            found.append(ContractViolation(path: path, rule: rule, message: message))
        }

        mutating func object(_ value: Any, fields: [String: Field], unknown: String, at path: [String]) {
            guard let o = value as? [String: Any] else { add(path, "type", type: "object"); return }
            for (name, spec) in fields.sorted(by: { $0.key < $1.key }) {
                let p = path + [name]
                guard let v = o[name], !(v is NSNull) else {
                    if spec.required == true { add(p, "required") }
                    continue
                }
                field(v, spec, at: p)
            }
            for name in o.keys.sorted() where fields[name] == nil {
                switch unknown {
                case "reject": add(path + [name], "unknown")
                case "drop": dropped.append((path + [name]).joined(separator: "."))
                default: break
                }
            }
        }

        mutating func multipart(_ parts: [String: ContractRequest.MultipartValue], fields: [String: Field], unknown: String) {
            for (name, spec) in fields.sorted(by: { $0.key < $1.key }) {
                guard let part = parts[name] else {
                    if spec.required == true { add([name], "required") }
                    continue
                }
                switch (part, spec.type) {
                case (.file(let bytes, _), "file"):
                    if let m = spec.maxBytes, bytes > m { add([name], "maxBytes", limit: "\(m)", value: "\(bytes)") }
                case (.file, _): add([name], "type", type: spec.type)
                case (.text, "file"): add([name], "type", type: "file")
                case (.text(let t), _): field(Self.typed(t, as: spec.type), spec, at: [name])
                }
            }
            for name in parts.keys.sorted() where fields[name] == nil {
                if unknown == "reject" { add([name], "unknown") } else if unknown == "drop" { dropped.append(name) }
            }
        }

        /// A multipart text part read as the field's type (numbers stay text when they do not parse).
        static func typed(_ t: String, as type: String) -> Any {
            switch type {
            case "integer", "number": return Double(t).map { NSNumber(value: $0) } ?? t
            case "boolean": return t == "true" ? NSNumber(value: true) : (t == "false" ? NSNumber(value: false) : t as Any)
            default: return t
            }
        }

        mutating func field(_ v: Any, _ spec: Field, at p: [String]) {
            switch spec.type {
            case "string", "image":
                guard let s = v as? String else { add(p, "type", value: "\(v)", type: "string"); return }
                string(s, spec, at: p)
                if spec.type == "image" { image(s, spec, at: p) }
            case "integer", "number":
                guard let n = v as? NSNumber, !Self.isBool(n) else {
                    add(p, "type", value: "\(v)", type: spec.type); return
                }
                let d = n.doubleValue
                if spec.type == "integer", d.rounded() != d { add(p, "type", value: "\(d)", type: "integer"); return }
                if let e = spec.enum, !e.contains(where: { Double($0) == d }) { add(p, "enum", value: Self.show(d), allowed: e.joined(separator: ", ")) }
                if let m = spec.minimum, d < m { add(p, "minimum", limit: Self.show(m), value: Self.show(d)) }
                if let m = spec.maximum, d > m { add(p, "maximum", limit: Self.show(m), value: Self.show(d)) }
            case "boolean":
                guard let n = v as? NSNumber, Self.isBool(n) else { add(p, "type", value: "\(v)", type: "boolean"); return }
            case "object":
                object(v, fields: spec.fields ?? [:], unknown: spec.unknown ?? "allow", at: p)
            case "anyOf":
                // Passes when one option passes; otherwise reports the option of the value's own kind
                // (the one not refusing its type), else the first.
                var failures: [[ContractViolation]] = []
                for option in spec.anyOf ?? [] {
                    var probe = Collector(contract: contract)
                    probe.field(v, option, at: p)
                    if probe.found.isEmpty { dropped += probe.dropped; return }
                    failures.append(probe.found)
                }
                found += failures.first { !$0.contains { $0.rule == "type" && $0.path == p } } ?? failures.first ?? []
            case "array":
                guard let a = v as? [Any] else { add(p, "type", type: "array"); return }
                if let m = spec.maxItems, a.count > m { add(p, "maxItems", limit: "\(m)", value: "\(a.count)") }
                if let m = spec.minItems, a.count < m { add(p, "minItems", limit: "\(m)", value: "\(a.count)") }
                if let item = spec.items?.first { for (i, x) in a.enumerated() { field(x, item, at: p + ["\(i)"]) } }
            default:
                add(p, "type", type: spec.type)
            }
        }

        mutating func string(_ s: String, _ spec: Field, at p: [String]) {
            if let e = spec.enum, !e.contains(s) { add(p, "enum", value: s, allowed: e.joined(separator: ", ")); return }
            let length: Int
            switch spec.lengthUnit ?? "characters" {
            case "utf16": length = s.utf16.count
            case "bytes": length = s.utf8.count
            default: length = s.unicodeScalars.count
            }
            if let m = spec.maxLength, length > m { add(p, "maxLength", limit: "\(m)", value: "\(length)") }
            if let m = spec.minLength, length < m { add(p, "minLength", limit: "\(m)", value: "\(length)") }
            if let pattern = spec.pattern, s.range(of: "^(?:" + pattern + ")$", options: .regularExpression) == nil {
                add(p, "pattern", value: s.count > 80 ? String(s.prefix(80)) + "…" : s, allowed: pattern)
            }
        }

        mutating func image(_ s: String, _ spec: Field, at p: [String]) {
            let forms = Set(spec.forms ?? ["url", "data-url"])
            let form: String
            if s.hasPrefix("https://") || s.hasPrefix("http://") { form = "url" } else if s.hasPrefix("data:") { form = "data-url" } else { form = "base64" }
            let wellFormed: Bool
            switch form {
            case "data-url":
                let head = s.prefix(while: { $0 != "," })
                wellFormed = head.hasPrefix("data:image/") && head.hasSuffix(";base64") && head.count < s.count
            case "base64": wellFormed = !s.isEmpty && s.utf8.allSatisfy { Self.base64Bytes.contains($0) }
            default: wellFormed = URL(string: s)?.host != nil
            }
            if !forms.contains(form) || !wellFormed {
                add(p, "image", value: form, allowed: forms.sorted().joined(separator: ", "))
            }
            if let m = spec.maxBytes, s.utf8.count > m { add(p, "maxBytes", limit: "\(m)", value: "\(s.utf8.count)") }
        }

        mutating func words(_ rules: [ProviderContract.WordRule], in value: Any) {
            for r in rules {
                var node: Any? = value
                for key in r.field.split(separator: ".") { node = (node as? [String: Any])?[String(key)] }
                let text = (node as? String) ?? ""
                let n = text.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).filter { $0.lowercased() == r.word.lowercased() }.count
                if n < r.min || n > r.max {
                    found.append(ContractViolation(path: r.field.split(separator: ".").map(String.init), rule: "words", message: r.message))
                }
            }
        }

        static let base64Bytes = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".utf8))

        /// JSON's true/false as `JSONSerialization` gives them (an NSNumber of Objective-C type `c` or `B`).
        static func isBool(_ n: NSNumber) -> Bool { ["c", "B"].contains(String(cString: n.objCType)) }

        static func show(_ d: Double) -> String { d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d) }
    }
}
