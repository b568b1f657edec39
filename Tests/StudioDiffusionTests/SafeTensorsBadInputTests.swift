import Foundation
import XCTest
import StudioKit
@testable import StudioDiffusion

/// Files that lie: every refusal is a typed error naming what is wrong; nothing crashes.
final class SafeTensorsBadInputTests: XCTestCase {
    /// A file with `header` as its JSON, `data` after it, and a header length of `declared` (default: true).
    private func file(_ header: String, data: [UInt8] = [], declared: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: (declared ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
        return out + json + data
    }

    private func kind(_ bytes: [UInt8]) -> SafeTensorsError.Kind? {
        bytes.withUnsafeBytes { raw -> SafeTensorsError.Kind? in
            do { _ = try SafeTensorsHeader.parse(raw, file: "t"); return nil } catch { return (error as? SafeTensorsError)?.kind }
        }
    }

    private func entry(_ dtype: String = "F32", shape: String = "[2]", offsets: String = "[0,8]") -> String {
        #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    func testAValidMinimalFileParses() {
        XCTAssertNil(kind(file(#"{"a":\#(entry())}"#, data: Array(repeating: 0, count: 8))))
        XCTAssertNil(kind(file("{}")), "no tensors, no data")
        XCTAssertNil(kind(file(#"{"__metadata__":{"x":"y"}}   "#)), "metadata only, padded with spaces")
    }

    func testTruncatedOrOutOfBoundsLengths() {
        func isTruncated(_ k: SafeTensorsError.Kind?) -> Bool { if case .truncated = k { return true }; return false }
        XCTAssertTrue(isTruncated(kind([])))
        XCTAssertTrue(isTruncated(kind([1, 0, 0, 0, 0])))
        XCTAssertTrue(isTruncated(kind(file("{}", declared: 1000))), "header runs past the end")
        XCTAssertTrue(isTruncated(kind(file("{}", declared: 200_000_000))), "beyond the format's limit")
        XCTAssertTrue(isTruncated(kind(file("{}", declared: UInt64.max))), "a length that would overflow Int")
    }

    func testHeadersThatAreNotTheFormatsJSON() {
        for header in ["[1,2]", " {}", "{not json", #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#,
                       #"{"a":{"dtype":true,"shape":[2],"data_offsets":[0,8]}}"#, #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#,
                       #"{"__metadata__":{"a":1}}"#, #"{"a":7}"#] {
            guard case .header = kind(file(header, data: Array(repeating: 0, count: 8))) else {
                return XCTFail("\(header): \(String(describing: kind(file(header))))")
            }
        }
        XCTAssertEqual(kind(file(#"{"a":{}}"#)), .entry("a", "is a map of strings, not a tensor entry"))
    }

    func testEntriesThatLie() {
        let data = [UInt8](repeating: 0, count: 8)
        let cases: [(String, String)] = [
            (entry("F12"), "has the unknown dtype 'F12'"),
            (entry(shape: "[3]"), "spans 8 bytes but shape [3] of F32 needs 12"),
            (entry(offsets: "[8,0]"), "has data_offsets [8, 0], not [begin, end] with 0 <= begin <= end"),
            (entry(offsets: "[0]"), "has data_offsets [0], not [begin, end] with 0 <= begin <= end"),
            (entry(offsets: "[-8,0]"), "has data_offsets [-8, 0], not [begin, end] with 0 <= begin <= end"),
            (entry(shape: "[-2, -1]"), "has a negative dimension in shape [-2, -1]"),
            (entry(shape: "[4611686018427387903, 4]"), "has a shape [4611686018427387903, 4] whose element count overflows"),
            (entry(shape: "[2305843009213693952]"), "spans 8 bytes but shape [2305843009213693952] of F32 needs more than Int.max"),
        ]
        for (e, why) in cases { XCTAssertEqual(kind(file(#"{"a":\#(e)}"#, data: data)), .entry("a", why), e) }
    }

    func testTensorsThatDoNotTileTheBuffer() {
        let eight = [UInt8](repeating: 0, count: 8), sixteen = [UInt8](repeating: 0, count: 16)
        func isLayout(_ k: SafeTensorsError.Kind?, _ fragment: String) -> Bool {
            if case .layout(let why) = k { return why.contains(fragment) }; return false
        }
        XCTAssertTrue(isLayout(kind(file(#"{"a":\#(entry()),"b":\#(entry(offsets: "[4,12]"))}"#, data: sixteen)), "overlaps"))
        XCTAssertTrue(isLayout(kind(file(#"{"a":\#(entry()),"b":\#(entry(offsets: "[12,20]"))}"#, data: eight + sixteen)), "belong to no tensor"))
        XCTAssertTrue(isLayout(kind(file(#"{"a":\#(entry(offsets: "[0,8]")),"b":\#(entry(offsets: "[8,16]"))}"#, data: eight)), "truncated?"))
        XCTAssertTrue(isLayout(kind(file(#"{"a":\#(entry())}"#, data: sixteen)), "after the last tensor"))
    }

    func testMissingAndUnreadableFiles() {
        XCTAssertThrowsError(try SafeTensors(path: "/nonexistent/unet.safetensors")) { e in
            XCTAssertEqual((e as! SafeTensorsError).kind, .missing)
            XCTAssertEqual("\(e)", "/nonexistent/unet.safetensors: the weights file is missing")
        }
        XCTAssertThrowsError(try SafeTensors(path: NSTemporaryDirectory())) { e in
            guard case .unreadable(let why) = (e as! SafeTensorsError).kind else { return XCTFail("\(e)") }
            XCTAssertTrue(why.contains("not a regular file"), why)
        }
    }

    /// Random mutations of a valid file: the parser either accepts (and then every tensor lies inside
    /// the file and decodes) or throws its typed error.
    func testMutatedFilesNeverCrash() {
        var g = SplitMix64(seed: 2026)
        let valid = SafeTensorsWriter.encode([
            .init(name: "w", shape: [4, 3], floats: (0..<12).map(Float.init)),
            .init(name: "h", shape: [5], floats: [1, 2, 3, 4, 5], as: .f16),
            .init(name: "ids", dtype: .i64, shape: [2], bytes: Array(repeating: 0, count: 16)),
        ], metadata: ["regenerate": "x"])
        var accepted = 0
        for _ in 0..<3000 {
            var b = valid
            switch Int.random(in: 0..<5, using: &g) {
            case 0: for _ in 0..<Int.random(in: 1...4, using: &g) { b[Int.random(in: 0..<b.count, using: &g)] = UInt8.random(in: 0...255, using: &g) }
            case 1: b = Array(b.prefix(Int.random(in: 0..<b.count, using: &g)))
            case 2: b.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64.random(in: 0...UInt64(b.count + 64), using: &g).littleEndian, Array.init))
            case 3: b.insert(contentsOf: Array("[]{}\",:0-9e".utf8).shuffled(using: &g).prefix(3), at: Int.random(in: 8..<b.count, using: &g))
            default: let i = Int.random(in: 8..<b.count, using: &g); if b[i] >= 0x30 && b[i] <= 0x39 { b[i] = UInt8.random(in: 0x30...0x39, using: &g) }
            }
            b.withUnsafeBytes { raw in
                guard let (infos, _) = try? SafeTensorsHeader.parse(raw, file: "fuzz") else { return }
                accepted += 1
                for t in infos {
                    XCTAssertLessThanOrEqual(t.offset + t.byteCount, raw.count)
                    if t.dtype.isFloatingPoint {
                        XCTAssertEqual(t.dtype.decodeFloats(UnsafeRawBufferPointer(rebasing: raw[t.offset..<(t.offset + t.byteCount)]), count: t.count).count, t.count)
                    }
                }
            }
        }
        XCTAssertGreaterThan(accepted, 100, "mutations that keep a valid file (data bytes) were accepted")
    }
}
