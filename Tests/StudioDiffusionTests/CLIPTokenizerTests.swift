import Foundation
import XCTest
import StudioKit
@testable import StudioDiffusion

/// Parity with Hugging Face's CLIPTokenizer (with ftfy) on 200 prompts: unicode, punctuation, HTML
/// references, control characters, special tokens, over-long (`Tests/Fixtures/diffusion/clip-tokenizer.json`).
final class CLIPTokenizerTests: XCTestCase {
    static let mergesPath = StudioPaths.fromEnvironment().testData + "/clip/bpe_simple_vocab_16e6.txt"

    static func merges(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard let text = try? String(contentsOfFile: mergesPath, encoding: .utf8) else {
            XCTFail("\(mergesPath) is missing: run `bash scripts/setup.sh test` (it installs CLIP's merges)", file: file, line: line)
            throw XCTSkip("no CLIP merges")
        }
        return text
    }

    private func cases() throws -> [(prompt: String, ids: [Int], padded: [Int])] {
        let doc = try DiffusionFixtures.json("clip-tokenizer.json")
        return (doc["cases"] as! [[String: Any]]).map { ($0["prompt"] as! String, $0["ids"] as! [Int], $0["padded"] as! [Int]) }
    }

    func testIdsMatchHuggingFaceOnTwoHundredPrompts() throws {
        let tokenizer = try CLIPTokenizer(merges: try Self.merges())
        let all = try cases()
        XCTAssertEqual(all.count, 200)
        var mismatches = 0
        for c in all {
            let ids = [tokenizer.startId] + tokenizer.ids(c.prompt) + [tokenizer.endId]
            if ids != c.ids { mismatches += 1 }
            XCTAssertEqual(ids, c.ids, "prompt \(c.prompt.debugDescription)")
            let (padded, truncated) = tokenizer.encode(c.prompt)
            XCTAssertEqual(padded, c.padded, "padded: \(c.prompt.debugDescription)")
            XCTAssertEqual(truncated, c.ids.count > CLIPTokenizer.contextLength, c.prompt.debugDescription)
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertTrue(all.contains { $0.ids.count > 77 }, "the fixture has over-long prompts")
    }

    func testDerivedVocabularyIsCLIPs() throws {
        let t = try CLIPTokenizer(merges: try Self.merges())
        XCTAssertEqual(t.vocabulary.count, 49_408)
        XCTAssertEqual([t.startId, t.endId, t.padId], [49_406, 49_407, 49_407])
        XCTAssertEqual(t.vocabulary["!"], 0)
        XCTAssertEqual(t.vocabulary["a</w>"], 320)
    }

    /// A diffusers tokenizer folder, SD 2.x style (pad "!"), and the files' refusals.
    func testFolderLayoutAndItsErrors() throws {
        let base = try CLIPTokenizer(merges: try Self.merges())
        let dir = NSTemporaryDirectory() + "studio-tokenizer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try CLIPTokenizer(folder: dir)) { XCTAssertEqual($0 as? TokenizerError, .missingFile(dir + "/vocab.json")) }
        try JSONSerialization.data(withJSONObject: base.vocabulary).write(to: URL(fileURLWithPath: dir + "/vocab.json"))
        try (try Self.merges()).write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        try #"{"pad_token": {"content": "!", "lstrip": false}}"#.write(toFile: dir + "/special_tokens_map.json", atomically: true, encoding: .utf8)
        let sd2 = try CLIPTokenizer(folder: dir)
        XCTAssertEqual(sd2.padId, 0)
        let prompt = "a photo of a cat"
        XCTAssertEqual(sd2.ids(prompt), base.ids(prompt))
        XCTAssertEqual(sd2.encode(prompt).ids.suffix(10), ArraySlice(Array(repeating: 0, count: 10)))

        try "not json".write(toFile: dir + "/vocab.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer(folder: dir)) { XCTAssertEqual($0 as? TokenizerError, .badVocabulary(dir + "/vocab.json")) }
        XCTAssertThrowsError(try CLIPTokenizer(merges: "#version\na b c\n")) { XCTAssertEqual($0 as? TokenizerError, .badMerges(line: 2, "a b c")) }
        XCTAssertThrowsError(try CLIPTokenizer(merges: "#v\na b\n", vocabulary: ["ab": 0])) { XCTAssertEqual($0 as? TokenizerError, .missingSpecialTokens) }
        XCTAssertThrowsError(try CLIPTokenizer(merges: "#v\n", padToken: "<pad>")) { XCTAssertEqual($0 as? TokenizerError, .unknownPadToken("<pad>")) }
    }

    /// Random scalars from every plane (controls, combining marks, surrogate-adjacent, private use):
    /// 77 ids in the vocabulary's range, every time.
    func testArbitraryTextAlwaysEncodes() throws {
        let t = try CLIPTokenizer(merges: try Self.merges())
        var g = SplitMix64(seed: 11)
        let ranges: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0x7FF, 0x300...0x36F, 0x3000...0x30FF, 0xD7F0...0xD7FF, 0xE000...0xF8FF,
                                             0xFE00...0xFFFF, 0x1F300...0x1FAFF, 0xE0000...0xE007F, 0x10FFF0...0x10FFFF]
        for _ in 0..<300 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...120, using: &g) {
                let r = ranges[Int.random(in: 0..<ranges.count, using: &g)]
                if let s = Unicode.Scalar(UInt32.random(in: r, using: &g)) { text.append(s) }
            }
            let (ids, _) = t.encode(String(text))
            XCTAssertEqual(ids.count, 77)
            XCTAssertTrue(ids.allSatisfy { (0..<t.vocabulary.count).contains($0) })
        }
    }
}
