import Foundation

/// Where requests go. In production every request goes to the URL the adapter planned. With an
/// emulator (`STUDIO_EMULATOR=http://127.0.0.1:PORT`, loopback only) the host still validates each
/// plan against the manifest's https hosts, then sends `https://<host>/<path>` to
/// `http://127.0.0.1:PORT/<path>` with `X-Studio-Original-Host: <host>`, so adapters and the host's
/// checks run exactly as they would against the provider.
public struct RemoteRoute: Sendable, Equatable {
    /// The emulator's base URL, or nil (production).
    public let emulator: String?


    public static let production = RemoteRoute(validated: nil)

    init(validated: String?) { emulator = validated }

    /// Only `http://127.0.0.1:PORT`, `http://localhost:PORT` or `http://[::1]:PORT` (no path): an
    /// emulator never sits on another machine.
    public init(emulator: String?) throws(RemoteRouteError) {
        guard let e = emulator, !e.isEmpty else { self.init(validated: nil); return }
        let trimmed = e.hasSuffix("/") ? String(e.dropLast()) : e
        guard let u = URLComponents(string: trimmed), u.scheme == "http", let host = u.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host),
              let port = u.port, port > 0, u.path.isEmpty, u.query == nil, u.user == nil
        else {
            throw RemoteRouteError(description: "STUDIO_EMULATOR must be http://127.0.0.1:PORT (a loopback emulator, e.g. from `studio emulator serve`); got \(e)")
        }
        self.init(validated: trimmed)
    }

    /// From `STUDIO_EMULATOR`.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws(RemoteRouteError) -> RemoteRoute {
        try RemoteRoute(emulator: env["STUDIO_EMULATOR"])
    }

    public var isEmulated: Bool { emulator != nil }

    /// The URL to send to, and the headers routing adds. `url` must already be validated (https, allowed host).
    public func resolve(_ url: String) -> (url: String, headers: [String: String]) {
        guard let emulator, let u = URLComponents(string: url), let host = u.host else { return (url, [:]) }
        var rest = u.percentEncodedPath
        if let q = u.percentEncodedQuery { rest += "?" + q }
        return (emulator + rest, ["X-Studio-Original-Host": host.lowercased()])
    }
}

public struct RemoteRouteError: Error, CustomStringConvertible, Sendable { public let description: String }
