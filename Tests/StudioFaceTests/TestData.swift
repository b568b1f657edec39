import XCTest
import Foundation
import StudioKit
import StudioFace

/// Locations of committed fixtures and of the data set-up installs under $STUDIO_HOME.
enum TestData {
    static let paths = StudioPaths.fromEnvironment()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// A model file's path; fails the test with a set-up hint when it is missing.
    static func model(_ info: ModelInfo, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = paths.model(info.file)
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) is missing: run scripts/setup.sh (it installs the models)", file: file, line: line)
            throw XCTSkip("model missing")
        }
        return p
    }

    static func testImage(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = paths.testData + "/" + relative
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) is missing: run scripts/setup.sh (it installs the test images)", file: file, line: line)
            throw XCTSkip("test image missing")
        }
        return p
    }

    /// JSON objects of a fixture file, skipping `#` header lines.
    static func jsonLines(_ name: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: fixtures + "/" + name, encoding: .utf8)
        return try text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    static let pipeline: FacePipeline = {
        try! FacePipeline(modelsDirectory: paths.models)
    }()
}

extension Array where Element == Any {
    var floats: [Float] { map { Float(($0 as! NSNumber).doubleValue) } }
    var ints: [Int] { map { ($0 as! NSNumber).intValue } }
}
