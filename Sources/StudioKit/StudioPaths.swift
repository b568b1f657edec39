#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where studio keeps its data: `$STUDIO_HOME` (default `~/.studio`).
///
/// Layout: `models/` (fetched weights), `testdata/` (set-up's test images), `studio.sqlite`,
/// `keys/`, `runs/<id>/`.
public struct StudioPaths: Sendable, Equatable {
    public var home: String

    public init(home: String) { self.home = home }

    /// From the environment: `STUDIO_HOME`, else `$HOME/.studio`.
    public static func fromEnvironment() -> StudioPaths {
        if let h = getenv("STUDIO_HOME"), let s = String(validatingCString: h), !s.isEmpty { return StudioPaths(home: s) }
        let base = getenv("HOME").flatMap { String(validatingCString: $0) } ?? "."
        return StudioPaths(home: base + "/.studio")
    }

    public var models: String { home + "/models" }
    public var testData: String { home + "/testdata" }
    public func model(_ file: String) -> String { models + "/" + file }
}
