import Foundation
import ProviderContracts

// Every submit the emulator receives is checked against the provider's published contract
// (ProviderContracts, contracts/*.json) before any emulated model reads it: a request the real provider
// would refuse is refused here with that provider's status and body, and fields the provider drops
// without a word (Replicate's unknown inputs) are dropped and noted in the emulator's log.

extension Emulator {
    /// What the gate decided for one request.
    enum Gate {
        /// Not a submit: no contract applies (polls, downloads, cancels).
        case notChecked
        /// Passed; the body with dropped fields removed, and the contract's id.
        case passed(body: [UInt8], contract: String)
        case refused(ServerResponse)
    }

    /// Checks a POST against the contracts on its route. A POST on a route with no contract is refused
    /// as the provider refuses a route it does not serve (404), unless it is a job's cancel call.
    func gate(_ p: EmulatedProvider, _ r: ServerRequest, host: String) -> Gate {
        guard Self.isSubmit(r) else { return .notChecked }
        let request = ContractRequest(method: r.method, host: host, path: r.path, headers: r.headers, bodyBytes: r.body)
        guard let contract = contracts.contract(for: request) else {
            let served = contracts.contracts(method: r.method, host: host, path: r.path)
            if served.isEmpty {
                note("\(p.rawValue): refused \(r.method) \(r.path): no such route (the provider's contracts serve none here)")
                return .refused(noRoute(p, path: r.path))
            }
            // The route exists but nothing on it matched the selector (an unknown Replicate version).
            return .refused(unknownSelector(p, served[0]))
        }
        let check = contract.check(request)
        if !check.dropped.isEmpty {
            note("\(p.rawValue): \(contract.id): dropped unknown field(s) \(check.dropped.joined(separator: ", ")) as the provider does, silently")
        }
        guard check.passed else {
            note("\(p.rawValue): \(contract.id): refused: \(check.violations.map(\.description).joined(separator: "; "))")
            return .refused(refusal(p, contract, check.violations))
        }
        return .passed(body: Self.removing(check.dropped, from: r.body), contract: contract.id)
    }

    /// The body without the dotted paths in `dropped` (JSON bodies only; others unchanged).
    static func removing(_ dropped: [String], from body: [UInt8]) -> [UInt8] {
        guard !dropped.isEmpty, var o = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return body }
        for path in dropped {
            let keys = path.split(separator: ".").map(String.init)
            if keys.count == 1 { o[keys[0]] = nil }
            if keys.count == 2, var inner = o[keys[0]] as? [String: Any] { inner[keys[1]] = nil; o[keys[0]] = inner }
        }
        return (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])).map(Array.init) ?? body
    }

    /// The provider's refusal of a request that breaks its contract, in the provider's body shape.
    func refusal(_ p: EmulatedProvider, _ c: ProviderContract, _ violations: [ContractViolation]) -> ServerResponse {
        if let header = violations.first(where: { $0.rule == "header" }) {
            return headerRefusal(p, status: header.status ?? 400, message: header.message)
        }
        let status = c.refusal.status(for: violations[0].rule)
        switch p {
        case .replicate:
            // JSON Schema's wording: a missing field is reported on its parent ("- input: image is required").
            func field(_ v: ContractViolation) -> String {
                let path = v.rule == "required" ? Array(v.path.dropLast()) : v.path
                return path.isEmpty ? "(root)" : path.joined(separator: ".")
            }
            let fields: [[String: Any]] = violations.map { ["type": c.refusal.code(for: $0.rule), "field": field($0), "description": $0.message] }
            let detail = violations.map { "- \(field($0)): \($0.message)\n" }.joined()
            return .json(status, ["title": "Input validation failed", "detail": detail, "status": status, "invalid_fields": fields])
        case .fal:
            return .json(status, ["detail": violations.map { ["loc": ["body"] + $0.path, "msg": $0.message, "type": c.refusal.code(for: $0.rule)] }],
                         headers: ["X-Fal-Retryable": "false"])
        case .stability:
            return .json(status, ["id": Self.errorID(violations), "name": "bad_request", "errors": violations.map(\.description)])
        case .runway:
            return .json(status, ["error": violations[0].description,
                                  "issues": violations.map { ["path": $0.path, "message": $0.message, "code": $0.rule] }])
        case .kling:
            return .json(status, ["code": 1201, "message": violations[0].description, "request_id": Self.errorID(violations)])
        }
    }

    /// A missing or wrong required header (auth, API version), as the provider answers it.
    func headerRefusal(_ p: EmulatedProvider, status: Int, message: String) -> ServerResponse {
        switch p {
        case .replicate: return .json(status, ["title": status == 401 ? "Unauthenticated" : "Bad request", "detail": message, "status": status])
        case .fal: return .json(status, ["detail": message])
        case .stability: return .json(status, ["id": "emulated", "name": status == 401 ? "unauthorized" : "bad_request", "errors": [message]])
        case .runway: return .json(status, ["error": message])
        case .kling: return .json(status, ["code": status == 401 ? 1000 : 1201, "message": message, "request_id": "emulated"])
        }
    }

    func noRoute(_ p: EmulatedProvider, path: String) -> ServerResponse {
        if p == .replicate, path.hasPrefix("/v1/models/") {
            // Replicate serves the models route for official models only; a community model's is not found.
            return .json(404, ["detail": contractFact(.replicate, "models route") ?? "The requested resource could not be found.", "status": 404])
        }
        return notFound(p)
    }

    func unknownSelector(_ p: EmulatedProvider, _ c: ProviderContract) -> ServerResponse {
        let field = c.select?.field ?? "version"
        let message = contractFact(p, "unknown \(field)") ?? "Invalid \(field) or not permitted"
        let title = contractFact(p, "unknown \(field) title") ?? "Invalid \(field)"
        return .json(c.refusal.status, ["title": title, "detail": message, "status": c.refusal.status])
    }

    /// A provider-wide fact from its contract file, by name.
    func contractFact(_ p: EmulatedProvider, _ name: String) -> String? {
        contracts.contracts.first { $0.provider == p.rawValue && $0.facts[name] != nil }?.facts[name]
    }

    /// A stable id for an error body, from its messages.
    static func errorID(_ violations: [ContractViolation]) -> String {
        var h: UInt64 = 1469598103934665603
        for b in violations.map(\.description).joined().utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return String(format: "%016llx", h)
    }
}
