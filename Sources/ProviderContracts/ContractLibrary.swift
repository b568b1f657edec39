import Foundation
import AdapterSDK

/// The contracts shipped with studio (this module's `contracts/` folder, copied beside the
/// executable as the `studio_ProviderContracts.resources` bundle by SwiftPM), or read from a folder.
public struct ContractLibrary: Sendable {
    public var contracts: [ProviderContract]


    public init(contracts: [ProviderContract]) { self.contracts = contracts }

    /// The contracts of every `*.json` provider file in `folder`, in file-name order.
    public init(folder: String) throws(ContractLoadError) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        var list: [ProviderContract] = []
        for name in names {
            let path = folder + "/" + name
            do {
                let file = try JSONDecoder().decode(ProviderFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
                guard file.schema == 1 else { throw ContractLoadError.unreadable(file: name, why: "schema \(file.schema) is not 1") }
                list.append(contentsOf: file.contracts)
            } catch let e as ContractLoadError {
                throw e
            } catch {
                throw .unreadable(file: name, why: "\(error)")
            }
        }
        self.contracts = list
    }

    /// The shipped contracts: `$STUDIO_CONTRACTS`, else the resource bundle beside the running
    /// executable (or test bundle), else this source tree's folder when built here.
    public static func shipped(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ContractLoadError) -> ContractLibrary {
        var tried: [String] = []
        for folder in candidateFolders(environment) {
            tried.append(folder)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue {
                return try ContractLibrary(folder: folder)
            }
        }
        throw .notFound(tried)
    }

    static func candidateFolders(_ environment: [String: String]) -> [String] {
        if let dir = environment["STUDIO_CONTRACTS"], !dir.isEmpty { return [dir] }
        let bundle = "studio_ProviderContracts.resources"
        var dirs: [String] = [Bundle.main.bundleURL.path]
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent().path
        dirs.append(exe)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("contracts").path
        return dirs.flatMap { [$0 + "/" + bundle + "/contracts", $0 + "/" + bundle] } + [source]
    }

    /// The contract for a request: route matched (method, host, path with `{segment}` wildcards) and,
    /// where the contract selects by a body field, that field's value. Nil when none matches.
    public func contract(for r: ContractRequest) -> ProviderContract? {
        let candidates = contracts.filter { $0.route.method == r.method && $0.route.host == r.host && Self.path($0.route.path, matches: r.path) }
        return candidates.first { c in
            guard let s = c.select, case .json(let body) = r.body, let value = (body as? [String: Any])?[s.field] as? String else { return false }
            // Replicate also takes "owner/name:<version>".
            return value == s.equals || value.hasSuffix(":" + s.equals)
        } ?? candidates.first { $0.select == nil }
    }

    /// The contracts served on a route, whatever their selector (Replicate: every pinned version).
    public func contracts(method: String, host: String, path: String) -> [ProviderContract] {
        contracts.filter { $0.route.method == method.uppercased() && $0.route.host == host.lowercased() && Self.path($0.route.path, matches: path) }
    }

    public func contract(id: String) -> ProviderContract? { contracts.first { $0.id == id } }

    /// An adapter's plan checked against the contract of the endpoint it targets, as the host would
    /// send it (`authorization`: the header the host adds to an authenticated plan). Nil: no shipped
    /// contract covers that endpoint.
    public func check(plan: HTTPRequestPlan, images: [AdapterImage], authorization: (name: String, value: String)?) -> ContractCheck? {
        let request = ContractRequest(plan: plan, images: images, authorization: authorization)
        return contract(for: request).map { $0.check(request) }
    }

    static func path(_ pattern: String, matches path: String) -> Bool {
        let a = pattern.split(separator: "/", omittingEmptySubsequences: false), b = path.split(separator: "/", omittingEmptySubsequences: false)
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { p, s in (p.hasPrefix("{") && p.hasSuffix("}") && !s.isEmpty) || p == s }
    }
}

public enum ContractLoadError: Error, CustomStringConvertible, Equatable {
    case notFound([String])
    case unreadable(file: String, why: String)
    public var description: String {
        switch self {
        case .notFound(let tried): "the provider contracts were not found (looked in \(tried.joined(separator: ", "))); set STUDIO_CONTRACTS to the folder holding them"
        case .unreadable(let file, let why): "provider contract \(file) is not readable: \(why)"
        }
    }
}
