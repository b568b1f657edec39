import XCTest
import Foundation
import StudioKit
@testable import StudioLocal

final class CheckpointTests: XCTestCase {
    /// The state dict of gan-face-generate 1.1.1's weights.tar: 25 tensors under "netG_state_dict.".
    static let expectedShapes: [String: [Int]] = {
        var s: [String: [Int]] = [:]
        let convs: [(Int, [Int])] = [(0, [100, 512, 4, 4]), (3, [512, 256, 4, 4]), (6, [256, 128, 4, 4]),
                                     (9, [128, 64, 4, 4]), (12, [64, 3, 4, 4])]
        for (m, shape) in convs {
            s["netG_state_dict.main.\(m).weight"] = shape
            if m < 12 {
                for k in ["weight", "bias", "running_mean", "running_var"] { s["netG_state_dict.main.\(m + 1).\(k)"] = [shape[1]] }
                s["netG_state_dict.main.\(m + 1).num_batches_tracked"] = []
            }
        }
        return s
    }()

    private func expectError(_ bytes: [UInt8], _ fragment: String? = nil, _ label: String = "",
                             file: StaticString = #filePath, line: UInt = #line) {
        do {
            let t = try TorchCheckpoint.load(bytes: bytes, file: "test.tar")
            XCTFail("\(label): loaded \(t.count) tensors, expected an error", file: file, line: line)
        } catch let e as CheckpointError {
            if let fragment { XCTAssertTrue(e.detail.contains(fragment), "\(label): '\(e.detail)' lacks '\(fragment)'", file: file, line: line) }
            XCTAssertEqual(e.file, "test.tar", file: file, line: line)
        } catch {
            XCTFail("\(label): unexpected error type \(error)", file: file, line: line)
        }
    }

    // MARK: real weights

    func testRealWeightsLoadWithExpectedNamesAndShapes() throws {
        let path = try LocalTestData.weights()
        let t0 = Date()
        let tensors = try TorchCheckpoint.load(contentsOf: path)
        let ms = Date().timeIntervalSince(t0) * 1000
        XCTAssertEqual(Set(tensors.keys), Set(Self.expectedShapes.keys))
        var total = 0
        for (name, shape) in Self.expectedShapes {
            let t = try XCTUnwrap(tensors[name], name)
            XCTAssertEqual(t.shape, shape, name)
            XCTAssertEqual(t.name, name)
            total += t.count
            if name.hasSuffix("num_batches_tracked") {
                XCTAssertEqual(t.dtype, .int64); XCTAssertEqual(t.integers.count, 1); XCTAssertTrue(t.values.isEmpty)
                XCTAssertGreaterThan(t.integers[0], 0, name)
            } else {
                XCTAssertEqual(t.dtype, .float32); XCTAssertEqual(t.values.count, t.count, name)
                XCTAssertTrue(t.values.allSatisfy { $0.isFinite }, name)
            }
            if name.hasSuffix("running_var") { XCTAssertTrue(t.values.allSatisfy { $0 > 0 }, name) }
        }
        XCTAssertEqual(total, 3_578_628)
        let bn = tensors["netG_state_dict.main.1.num_batches_tracked"]!.integers[0]
        print("[gan] weights.tar: \(tensors.count) tensors, \(total) values, loaded in \(String(format: "%.1f", ms)) ms; num_batches_tracked \(bn)")
    }

    func testMissingFileSaysItIsNotInstalled() {
        XCTAssertThrowsError(try TorchCheckpoint.load(contentsOf: "/nonexistent/studio/weights.tar")) { e in
            XCTAssertTrue((e as? CheckpointError)?.detail.contains("not installed") ?? false, "\(e)")
        }
    }

    func testRealWeightsTruncatedAtManyCutPointsFail() throws {
        let bytes = try LocalTestData.weightBytes()
        var cuts: Set<Int> = [0, 1, 4, 21, 22, 30, 64, 2000, bytes.count / 2]
        var g = SplitMix64(seed: 11)
        for _ in 0..<100 { cuts.insert(Int(g.next() % UInt64(bytes.count))) }
        for k in 1...120 { cuts.insert(bytes.count - k) }           // inside the directory and end records
        for cut in cuts.sorted() {
            expectError(Array(bytes[0..<cut]), nil, "cut at \(cut)")
        }
    }

    func testBitFlipsInRealZipDirectoryErrorOrChangeNothing() throws {
        let bytes = try LocalTestData.weightBytes()
        let original = try TorchCheckpoint.load(bytes: bytes)
        let zip = try StoredZip(bytes: bytes, file: "x", maxEntries: 100)
        let cdStart = zip.entries.values.map(\.centralHeaderOffset).min()!
        var g = SplitMix64(seed: 12)
        var errors = 0, unchanged = 0
        for _ in 0..<200 {
            var b = bytes
            let at = cdStart + Int(g.next() % UInt64(bytes.count - cdStart))
            b[at] ^= UInt8(1 << (g.next() % 8))
            do {
                let t = try TorchCheckpoint.load(bytes: b, file: "flip")
                // Only fields the reader does not use (times, attributes, version, ZIP64 end records) may flip silently.
                XCTAssertEqual(t, original, "flip at \(at) changed the tensors without an error")
                unchanged += 1
            } catch is CheckpointError { errors += 1 }
        }
        print("[gan] directory bit flips: \(errors) refused, \(unchanged) in unused fields (tensors unchanged)")
        XCTAssertGreaterThan(errors, 100)
    }

    func testBitFlipsInRealPickleNeverCrash() throws {
        let bytes = try LocalTestData.weightBytes()
        let zip = try StoredZip(bytes: bytes, file: "x", maxEntries: 100)
        let pkl = zip.entries["weights/data.pkl"]!
        var g = SplitMix64(seed: 13)
        // Without fixing the CRC, every flip is caught by the CRC check.
        for _ in 0..<30 {
            var b = bytes
            b[pkl.dataOffset + Int(g.next() % UInt64(pkl.size))] ^= UInt8(1 << (g.next() % 8))
            expectError(b, "CRC-32", "pickle flip")
        }
        // With the CRC patched, the pickle VM itself sees the damage: an error or some state dict, never a crash.
        var refused = 0, loaded = 0
        for _ in 0..<300 {
            var b = bytes
            let at = pkl.dataOffset + Int(g.next() % UInt64(pkl.size))
            b[at] ^= UInt8(1 << (g.next() % 8))
            let crc = CRC32.checksum(b[pkl.dataOffset..<(pkl.dataOffset + pkl.size)])
            b.replaceSubrange((pkl.centralHeaderOffset + 16)..<(pkl.centralHeaderOffset + 20), with: ZipWriter.le32(Int(crc)))
            do { _ = try TorchCheckpoint.load(bytes: b, file: "flip"); loaded += 1 } catch is CheckpointError { refused += 1 }
        }
        print("[gan] pickle bit flips with a valid CRC: \(refused) refused, \(loaded) still a valid state dict")
        XCTAssertGreaterThan(refused, 150)
    }

    func testCompressedEntryIsRefused() throws {
        // Synthetic: an entry recorded as DEFLATE.
        var entries = SyntheticCheckpoint.entries()
        entries[2].method = 8
        expectError(ZipWriter.archive(entries), "compressed (method 8, DEFLATE)")
        // The real file with one entry's method patched to DEFLATE in both headers.
        let bytes = try LocalTestData.weightBytes()
        let e = try StoredZip(bytes: bytes, file: "x", maxEntries: 100).entries["weights/data/3"]!
        var b = bytes
        b[e.centralHeaderOffset + 10] = 8
        b[e.localHeaderOffset + 8] = 8
        expectError(b, "compressed")
    }

    // MARK: synthetic checkpoints

    func testSyntheticCheckpointLoads() throws {
        let t = try TorchCheckpoint.load(bytes: SyntheticCheckpoint.archive())
        XCTAssertEqual(Set(t.keys), ["sd.w", "sd.b", "sd.n"])
        XCTAssertEqual(t["sd.w"]?.shape, [2, 3]); XCTAssertEqual(t["sd.w"]?.values, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t["sd.b"]?.values, [-1, 0.5, 1e-3])
        XCTAssertEqual(t["sd.n"]?.integers, [1234]); XCTAssertEqual(t["sd.n"]?.shape, []); XCTAssertEqual(t["sd.n"]?.count, 1)
        // A view at an offset into a larger storage, and size-1 dimensions with arbitrary strides.
        let specs: [PickleWriter.TensorSpec] = [.init(name: "v", key: "0", numel: 6, shape: [1, 2], stride: [99, 1], offset: 3)]
        var entries = SyntheticCheckpoint.entries(pickle: PickleWriter.stateDict(specs))
        entries.removeAll { $0.name == "archive/data/1" || $0.name == "archive/data/2" }
        XCTAssertEqual(try TorchCheckpoint.load(bytes: ZipWriter.archive(entries))["sd.v"]?.values, [4, 5])
    }

    func testSyntheticTruncationAndEveryByteFlipNeverCrash() {
        let bytes = SyntheticCheckpoint.archive()
        for cut in 0..<bytes.count { expectError(Array(bytes[0..<cut]), nil, "cut at \(cut)") }
        var refused = 0
        for at in 0..<bytes.count {
            for bit in [0, 3, 7] {
                var b = bytes
                b[at] ^= UInt8(1 << bit)
                do { _ = try TorchCheckpoint.load(bytes: b) } catch is CheckpointError { refused += 1 } catch { XCTFail("\(error)") }
            }
        }
        XCTAssertGreaterThan(refused, bytes.count)
    }

    func testForbiddenGlobalWithReduceIsAnErrorNotExecution() {
        let marker = NSTemporaryDirectory() + "studio-pickle-pwned-\(getpid())"
        for (module, name) in [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("__builtin__", "getattr"),
                               ("subprocess", "Popen"), ("torch", "load"), ("collections", "defaultdict"),
                               ("torch._utils", "_rebuild_parameter")] {
            var p = PickleWriter()
            p.global(module, name); p.string("touch " + marker); p.op(0x85); p.op(0x52); p.stop()
            expectError(SyntheticCheckpoint.archive(pickle: p.bytes), "forbidden GLOBAL '\(module) \(name)'", "\(module).\(name)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        // Allowed globals used the wrong way: a storage type called, OrderedDict with arguments.
        var p = PickleWriter()
        p.global("torch", "FloatStorage"); p.op(0x29); p.op(0x52); p.stop()
        expectError(SyntheticCheckpoint.archive(pickle: p.bytes), "storages may appear only in persistent ids")
        p = PickleWriter()
        p.global("collections", "OrderedDict"); p.mark(); p.int(1); p.tuple(); p.op(0x52); p.stop()
        expectError(SyntheticCheckpoint.archive(pickle: p.bytes), "OrderedDict with arguments")
        // REDUCE of something that is not a global at all.
        p = PickleWriter()
        p.string("x"); p.op(0x29); p.op(0x52); p.stop()
        expectError(SyntheticCheckpoint.archive(pickle: p.bytes), "not an allowed global")
    }

    func testForbiddenOpcodesAreNamed() {
        let cases: [([UInt8], String)] = [
            ([0x69] + Array("os\nsystem\n".utf8), "INST"), ([0x28, 0x6F], "OBJ"), ([0x81], "NEWOBJ"),
            ([0x93], "STACK_GLOBAL"), ([0x82, 1], "EXT1"), ([0x50] + Array("0\n".utf8), "PERSID"),
            ([0x67] + Array("0\n".utf8), "GET"), ([0x32], "DUP"), ([0x47], "BINFLOAT"), ([0x43, 1, 0], "SHORT_BINBYTES"),
            ([0x8F], "EMPTY_SET"), ([0x95], "FRAME"), ([0x94], "MEMOIZE"), ([0xFF], "unknown opcode"),
        ]
        for (ops, name) in cases {
            expectError(SyntheticCheckpoint.archive(pickle: [0x80, 2] + ops + [0x2E]), name, name)
        }
        expectError(SyntheticCheckpoint.archive(pickle: [0x80, 4, 0x7D, 0x2E]), "protocol 4")
    }

    func testMalformedPicklesAreErrors() {
        func pk(_ build: (inout PickleWriter) -> Void) -> [UInt8] {
            var p = PickleWriter(); build(&p); return SyntheticCheckpoint.archive(pickle: p.bytes)
        }
        expectError(pk { $0.op(0x7D) }, "unexpected end of the pickle")                                 // no STOP
        expectError(pk { $0.op(0x7D); $0.stop(); $0.op(0x4E) }, "after STOP")
        expectError(pk { $0.stop() }, "STOP with 0 values")
        expectError(pk { $0.op(0x7D); $0.op(0x7D); $0.stop() }, "STOP with 2 values")
        expectError(pk { $0.op(0x68); $0.op(7) }, "never stored")                                        // BINGET
        expectError(pk { $0.op(0x73) }, "stack underflow")                                               // SETITEM
        expectError(pk { $0.op(0x74) }, "without MARK")
        expectError(pk { $0.op(0x5D); $0.string("k"); $0.op(0x4E); $0.op(0x73); $0.stop() }, "not a dict")
        expectError(pk { $0.op(0x7D); $0.op(0x4E); $0.op(0x4E); $0.op(0x73); $0.stop() }, "keys must be")
        expectError(pk { $0.op(0x7D); $0.mark(); $0.string("k"); $0.op(0x75); $0.stop() }, "odd number")
        expectError(pk { $0.op(0x4E); $0.stop() }, "not a dict")                                          // root
        expectError(pk { $0.op(0x58); $0.bytes += [0xFF, 0xFF, 0xFF, 0x7F] }, "runs past the pickle")
        expectError(pk { $0.op(0x58); $0.bytes += [2, 0, 0, 0, 0xC3, 0x28]; $0.stop() }, "not valid UTF-8")
        expectError(pk { $0.op(0x8A); $0.op(9) }, "LONG1 of 9 bytes")
        expectError(pk { $0.global("collections", String(repeating: "x", count: 300)) }, "bad module or name")
        // A dict that contains itself.
        expectError(pk { $0.op(0x7D); $0.op(0x71); $0.op(0); $0.string("a"); $0.op(0x68); $0.op(0); $0.op(0x73); $0.stop() },
                    "contains itself")
        // Deep nesting of tuples (flat objects: no recursion to overflow) and a flood of MARKs.
        expectError(pk { p in p.op(0x29); for _ in 0..<200_000 { p.op(0x85) }; p.stop() }, "not a dict")
        expectError(pk { p in for _ in 0..<100_000 { p.mark() } }, "too many MARKs")
        expectError(pk { p in for _ in 0..<100_000 { p.op(0x4E) } }, "stack deeper")
        // Persistent ids that are not storages.
        expectError(pk { $0.mark(); $0.string("module"); $0.tuple(); $0.op(0x51); $0.stop() }, "persistent id")
        expectError(pk { $0.mark(); $0.string("storage"); $0.global("torch", "FloatStorage"); $0.string("../../etc/passwd")
                         $0.string("cpu"); $0.int(1); $0.tuple(); $0.op(0x51); $0.stop() }, "bad storage key")
    }

    func testAbsurdTensorGeometryIsRefused() {
        func check(_ spec: PickleWriter.TensorSpec, _ fragment: String, storageBytes: Int = 24) {
            var entries = SyntheticCheckpoint.entries(pickle: PickleWriter.stateDict([spec]))
            entries[2].data = [UInt8](repeating: 0, count: storageBytes)
            expectError(ZipWriter.archive(entries), fragment, "\(spec)")
        }
        check(.init(name: "x", key: "0", numel: 6, shape: [Int(Int32.max), Int(Int32.max), Int(Int32.max)],
                    stride: [1, 1, 1]), "overflows")
        check(.init(name: "x", key: "0", numel: 6, shape: [65536, 65536], stride: [65536, 1]), "outside its storage")
        check(.init(name: "x", key: "0", numel: 1 << 40, shape: [6], stride: [1]), "holds 24 bytes")
        check(.init(name: "x", key: "0", numel: 6, shape: [4], stride: [1], offset: 3), "outside its storage")
        check(.init(name: "x", key: "0", numel: 6, shape: [2, 3], stride: [1, 2]), "not contiguous")
        check(.init(name: "x", key: "9", numel: 6, shape: [6], stride: [1]), "is missing")
        check(.init(name: "x", key: "0", numel: 6, shape: [6], stride: [1]), "holds 20 bytes", storageBytes: 20)
        check(.init(name: "x", key: "0", numel: 6, shape: [6, 1], stride: [1]), "strides")
        check(.init(name: "x", key: "0", numel: 6, shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], stride: [1, 1, 1, 1, 1, 1, 1, 1, 1]), "dimensions")
        check(.init(name: "x", key: "0", numel: 6, shape: [-1], stride: [1]), "integer in")
        check(.init(name: "x", key: "0", storage: "HalfStorage", numel: 6, shape: [6], stride: [1]), "forbidden GLOBAL 'torch HalfStorage'")
        // The same storage declared with two sizes.
        let two: [PickleWriter.TensorSpec] = [.init(name: "a", key: "0", numel: 6, shape: [6], stride: [1]),
                                              .init(name: "b", key: "0", numel: 5, shape: [5], stride: [1])]
        expectError(SyntheticCheckpoint.archive(pickle: PickleWriter.stateDict(two)), "declared twice")
    }

    func testHostileZipStructureIsRefused() {
        let good = SyntheticCheckpoint.archive()
        let eocd = good.count - 22
        func patched(_ at: Int, _ value: [UInt8]) -> [UInt8] {
            var b = good; b.replaceSubrange(at..<(at + value.count), with: value); return b
        }
        expectError([], "too short")
        expectError([UInt8](repeating: 0x50, count: 5000), "no end-of-central-directory")
        expectError(patched(eocd + 16, ZipWriter.le32(0x7FFF_FFF0)), "lies outside the file")      // directory offset
        expectError(patched(eocd + 12, ZipWriter.le32(0x7FFF_FFF0)), "lies outside the file")      // directory size
        expectError(patched(eocd + 8, [0xFF, 0xFF]) , "disagree")
        expectError(patched(eocd + 8, [0xFF, 0xFF]) |> { b in var b = b; b.replaceSubrange((eocd + 10)..<(eocd + 12), with: [0xFF, 0xFF]); return b },
                    "ZIP64 values without a ZIP64 locator")
        expectError(patched(eocd + 8, [60, 0]) |> { b in var b = b; b.replaceSubrange((eocd + 10)..<(eocd + 12), with: [60, 0]); return b },
                    "cannot fit")
        expectError(patched(eocd + 4, [1, 0]), "multi-disk")
        // The first central entry's local-header offset pointed past the data, and at another entry.
        let cd = Int(good[eocd + 16]) | Int(good[eocd + 17]) << 8 | Int(good[eocd + 18]) << 16
        expectError(patched(cd + 42, ZipWriter.le32(0x7FFF_0000)), "out of bounds")
        expectError(patched(cd + 20, ZipWriter.le32(1)), "compressed size")
        expectError(patched(cd + 24, ZipWriter.le32(0x7FFF_0000)) |> { b in
            var b = b; b.replaceSubrange((cd + 20)..<(cd + 24), with: ZipWriter.le32(0x7FFF_0000)); return b }, "run past")
        expectError(patched(cd + 8, [1, 0]), "encrypted")
        expectError(patched(cd + 28, [0xFF, 0xFF]), "runs past the directory")                   // name length
        expectError(patched(cd + 16, [0, 0, 0, 0]), "CRC-32")
        // Names: traversal, absolute, backslash, control characters, duplicates, local/central mismatch.
        for bad in ["../data.pkl", "archive/../../x", "/etc/passwd", "archive\\data.pkl", "archive/./data.pkl", "a\u{1}b"] {
            var e = SyntheticCheckpoint.entries(); e.append(.init(name: bad, data: [1]))
            expectError(ZipWriter.archive(e), "unsafe entry name", bad)
        }
        var dup = SyntheticCheckpoint.entries(); dup.append(dup[3])
        expectError(ZipWriter.archive(dup), "duplicate entry")
        let localName = 30   // first local header's name starts at 30
        expectError(patched(localName + 1, [UInt8(ascii: "X")]), "names a different file")
        // Archive shape: no data.pkl, two of them, big-endian.
        var e = SyntheticCheckpoint.entries(); e.removeFirst()
        expectError(ZipWriter.archive(e), "no <archive>/data.pkl")
        e = SyntheticCheckpoint.entries(); e.append(.init(name: "other/data.pkl", data: e[0].data))
        expectError(ZipWriter.archive(e), "more than one data.pkl")
        e = SyntheticCheckpoint.entries(); e[1].data = Array("big".utf8)
        expectError(ZipWriter.archive(e), "only 'little'")
        // Limits: too many entries, a pickle over the limit.
        var limits = TorchCheckpoint.Limits(); limits.maxEntries = 3
        XCTAssertThrowsError(try TorchCheckpoint.load(bytes: good, limits: limits)) { XCTAssertTrue("\($0)".contains("limit")) }
        limits = TorchCheckpoint.Limits(); limits.maxPickleBytes = 100
        XCTAssertThrowsError(try TorchCheckpoint.load(bytes: good, limits: limits)) { XCTAssertTrue("\($0)".contains("limit")) }
    }

    func testOverlappingEntriesAreRefused() {
        // Entry B's local header and data hidden inside entry A's data, both listed in the directory.
        let le16 = ZipWriter.le16, le32 = ZipWriter.le32
        func local(_ name: String, _ data: [UInt8]) -> [UInt8] {
            le32(0x0403_4B50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(Int(CRC32.checksum(data)))
                + le32(data.count) + le32(data.count) + le16(name.utf8.count) + le16(0) + Array(name.utf8) + data
        }
        func central(_ name: String, _ data: [UInt8], _ offset: Int) -> [UInt8] {
            le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(Int(CRC32.checksum(data)))
                + le32(data.count) + le32(data.count) + le16(name.utf8.count) + le16(0) + le16(0) + le16(0) + le16(0)
                + le32(0) + le32(offset) + Array(name.utf8)
        }
        let inner = local("archive/data/1", [1, 2, 3, 4])
        let outer = local("archive/data.pkl", inner)
        let cd = central("archive/data.pkl", inner, 0) + central("archive/data/1", [1, 2, 3, 4], 30 + 16)
        let b = outer + cd + le32(0x0605_4B50) + le16(0) + le16(0) + le16(2) + le16(2) + le32(cd.count) + le32(outer.count) + le16(0)
        expectError(b, "overlap")
    }
}

infix operator |> : AdditionPrecedence
func |> <T>(value: T, f: (T) -> T) -> T { f(value) }
