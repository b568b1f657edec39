import XCTest
import Foundation
import StudioTestSupport

/// Running the built `studio` binary from tests.
enum CLI {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static let home = ProcessInfo.processInfo.environment["STUDIO_HOME"]
        ?? (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.studio"

    /// The built `studio` binary sits beside the test bundle.
    static var binary: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("studio").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("studio").path
    }

    static func run(_ args: [String], env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        // Read both pipes concurrently so a full stderr pipe cannot block the child.
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.005) }
        XCTAssertEqual(p.terminationReason, .exit, "studio \(args) must exit, not die from a signal")
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Parses one JSON document studio printed and checks the convention (docs/json.md): it names
    /// `schema`, and every key at every depth is snake_case, except inside the maps whose keys are
    /// data (paths, ids, mode names: `dataMaps`).
    static func document(_ text: some StringProtocol, schema: String, dataMaps: Set<String> = [],
                         file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                                "not a JSON object: \(text.prefix(200))", file: file, line: line)
        XCTAssertEqual(obj["schema"] as? String, schema, file: file, line: line)
        var bad: [String] = []
        func walk(_ v: Any, _ path: String) {
            if let o = v as? [String: Any] {
                for (k, child) in o {
                    if k.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) == nil { bad.append(path + "." + k) }
                    if !dataMaps.contains(k) { walk(child, path + "." + k) }
                }
            } else if let a = v as? [Any] {
                for x in a { walk(x, path + "[]") }
            }
        }
        walk(obj, "")
        XCTAssertEqual(bad, [], "keys that are not snake_case", file: file, line: line)
        return obj
    }

    /// report.json's maps keyed by data: backend notes and flags, remote job ids, suppressors and levels by mode.
    static let reportDataMaps: Set<String> = ["notes", "flags", "jobs", "targeted_suppressors", "drift_levels"]

    static func photo(_ name: String) throws -> String {
        let p = home + "/testdata/face_recognition/" + name
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) missing: run scripts/setup.sh"); throw XCTSkip("no test data")
        }
        return p
    }

    /// A flat grey PNG (`PNGBuilder`, the shared test support).
    static func flatPNG(width: Int, height: Int) -> Data { Data(PNGBuilder.flatGrey(width: width, height: height)) }
}

extension XCTestCase {
    /// A fresh STUDIO_HOME (removed after the test) sharing the installed models, and with
    /// `calibration: true` a copy of the generated-face calibration when one exists (so `gen` need not
    /// measure it again).
    func freshStudioHome(_ label: String, calibration: Bool = false) throws -> String {
        let fm = FileManager.default
        let d = fm.temporaryDirectory.appendingPathComponent("studio-\(label)-\(UUID().uuidString)")
        try fm.createDirectory(at: d, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: d.path + "/models", withDestinationPath: CLI.home + "/models")
        let cal = CLI.home + "/calibration/generated.json"
        if calibration, fm.fileExists(atPath: cal) {
            try fm.createDirectory(atPath: d.path + "/calibration", withIntermediateDirectories: true)
            try fm.copyItem(atPath: cal, toPath: d.path + "/calibration/generated.json")
        }
        addTeardownBlock { try? fm.removeItem(at: d) }
        return d.path
    }
}
