import ArgumentParser
import Crypto
import StudioKit
import StudioFace
#if canImport(Glibc)
import Glibc
#endif

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the model weights: installed or not, source, SHA-256 check and licence.",
        discussion: "Exit status: 0 when every model is installed and matches its pinned SHA-256, 1 otherwise.")

    @Flag(help: "Print a JSON array.") var json = false

    func run() throws {
        let paths = StudioPaths.fromEnvironment()
        var allOK = true
        var rows: [String] = []
        for m in ModelCatalog.all {
            let path = paths.model(m.file)
            let digest = sha256(ofFile: path)
            let status = digest == nil ? "missing" : (digest == m.sha256 ? "ok" : "checksum mismatch")
            if status != "ok" { allOK = false }
            if json {
                rows.append(JSON.object([("file", JSON.string(m.file)), ("role", JSON.string(m.role)), ("path", JSON.string(path)),
                                         ("status", JSON.string(status)), ("sha256", JSON.string(m.sha256)),
                                         ("actual_sha256", digest.map(JSON.string) ?? "null"), ("bytes", String(m.bytes)),
                                         ("licence", JSON.string(m.licence)), ("source", JSON.string(m.source))]))
            } else {
                print("\(m.file)  [\(status)]")
                print("  role     \(m.role)")
                print("  path     \(path)")
                print("  sha256   \(m.sha256)")
                print("  licence  \(m.licence)")
                print("  source   \(m.source)")
            }
        }
        if json { print(JSON.document(.models, [("models", JSON.array(rows))])) } else if !allOK { print("Run scripts/setup.sh to install or repair the models.") }
        if !allOK { throw ExitCode(1) }
    }
}

/// Hex SHA-256 of a file, or nil when it cannot be read.
func sha256(ofFile path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var hasher = SHA256()
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { hasher.update(data: buf[0..<n]) }
        if n < buf.count { if ferror(f) != 0 { return nil }; break }
    }
    return hasher.finalize().map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}
