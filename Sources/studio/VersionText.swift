import Foundation
import StudioKit
import CStudioAdapter

/// What `studio --version` prints: the version, the commit the binary was built from (Plugins/BuildInfo),
/// the adapter ABI it speaks, and whether the model weights it needs are in place.
enum VersionText {
    /// The one place the version is written.
    static let number = "0.12.0"

    static func make() -> String {
        let commit = BuildInfo.commit == "unknown" ? "commit unknown (not built from a git checkout)"
            : "commit \(BuildInfo.commit.prefix(12))" + (BuildInfo.modified ? ", with uncommitted changes" : "")
        return ["studio \(number) (\(commit))",
                "adapter ABI \(studio_adapter_abi_version())",
                modelsLine(StudioPaths.fromEnvironment())].joined(separator: "\n")
    }

    /// The models' state from their sizes alone (fast); `studio models` checks their SHA-256.
    static func modelsLine(_ paths: StudioPaths) -> String {
        let fm = FileManager.default
        var missing: [String] = [], wrongSize: [String] = []
        for m in ModelCatalog.all {
            guard let size = (try? fm.attributesOfItem(atPath: paths.model(m.file)))?[.size] as? Int else { missing.append(m.file); continue }
            if size != m.bytes { wrongSize.append(m.file) }
        }
        let n = ModelCatalog.all.count
        if missing.isEmpty && wrongSize.isEmpty {
            return "models: all \(n) in \(paths.models) with their pinned sizes (`studio models` checks their SHA-256)"
        }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !wrongSize.isEmpty { parts.append("wrong size \(wrongSize.joined(separator: ", "))") }
        return "models: \(n - missing.count - wrongSize.count) of \(n) in order in \(paths.models): \(parts.joined(separator: "; ")) (`bash scripts/setup.sh install` fetches them)"
    }
}
