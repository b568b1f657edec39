import XCTest
import Foundation

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

    /// A minimal valid greyscale PNG (stored zlib blocks), written by hand to keep the test independent.
    static func flatPNG(width: Int, height: Int) -> Data {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        func crc(_ b: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xffff_ffff
            for x in b { c ^= UInt32(x); for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 } }
            return ~c
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let td = Array(type.utf8) + data
            return be32(UInt32(data.count)) + td + be32(crc(td))
        }
        var raw: [UInt8] = []
        for _ in 0..<height { raw.append(0); raw += [UInt8](repeating: 128, count: width) }
        // zlib header, then stored deflate blocks of at most 65535 bytes (their length field is 16-bit).
        var z: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            let final: UInt8 = offset + n == raw.count ? 1 : 0
            z += [final, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
            z += raw[offset..<(offset + n)]
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        z += be32(b << 16 | a)
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [8, 0, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", []))
    }
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
