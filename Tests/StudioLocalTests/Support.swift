import XCTest
import Foundation
import StudioKit
@testable import StudioLocal

/// Locations of the committed fixtures and of the weights set-up installs under $STUDIO_HOME.
enum LocalTestData {
    static let paths = StudioPaths.fromEnvironment()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// The generator's weights; fails the test with a set-up hint when they are missing.
    static func weights(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = paths.model(DCGANGenerator.weightsFile)
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("\(p) is missing: run scripts/setup.sh (its 'generator' step installs it)", file: file, line: line)
            throw XCTSkip("generator weights missing")
        }
        return p
    }

    static func weightBytes(file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try weights(file: file, line: line))))
    }

    /// Tests/Fixtures/gan-parity.json (written by tools/gan-oracle/oracle.py).
    static func parity() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/gan-parity.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static let generator: DCGANGenerator? = {
        let p = paths.model(DCGANGenerator.weightsFile)
        return try? DCGANGenerator(contentsOf: p)
    }()
}

extension Array where Element == Any {
    var doubles: [Double] { map { ($0 as! NSNumber).doubleValue } }
    var ints: [Int] { map { ($0 as! NSNumber).intValue } }
}

// MARK: - Building test archives

/// A minimal ZIP writer (STORED entries, no ZIP64), for synthetic and hostile checkpoints.
enum ZipWriter {
    struct Entry {
        var name: String
        var data: [UInt8]
        /// Compression method recorded in both headers (the data is written as given).
        var method: UInt16 = 0
        var flags: UInt16 = 0
    }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }

    static func archive(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for e in entries {
            let name = Array(e.name.utf8), crc = Int(CRC32.checksum(e.data))
            let offset = out.count
            out += le32(0x0403_4B50) + le16(20) + le16(Int(e.flags)) + le16(Int(e.method)) + le16(0) + le16(0)
            out += le32(crc) + le32(e.data.count) + le32(e.data.count) + le16(name.count) + le16(0) + name + e.data
            central += le32(0x0201_4B50) + le16(20) + le16(20) + le16(Int(e.flags)) + le16(Int(e.method)) + le16(0) + le16(0)
            central += le32(crc) + le32(e.data.count) + le32(e.data.count) + le16(name.count) + le16(0) + le16(0)
            central += le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let cdOffset = out.count
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
        out += le32(central.count) + le32(cdOffset) + le16(0)
        return out
    }
}

/// Emits pickle opcodes (protocol 2), for synthetic and hostile state dicts.
struct PickleWriter {
    var bytes: [UInt8] = [0x80, 2]

    mutating func op(_ b: UInt8) { bytes.append(b) }
    mutating func string(_ s: String) { op(0x58); bytes += ZipWriter.le32(s.utf8.count) + Array(s.utf8) }
    mutating func global(_ module: String, _ name: String) { op(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    /// BININT when it fits 32 bits, else LONG1 with 8 bytes.
    mutating func int(_ v: Int) {
        if v >= Int(Int32.min) && v <= Int(Int32.max) { op(0x4A); bytes += ZipWriter.le32(v) }
        else { op(0x8A); op(8); bytes += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    }
    mutating func mark() { op(0x28) }
    mutating func tuple() { op(0x74) }
    mutating func ints(_ v: [Int]) { mark(); for x in v { int(x) }; tuple() }
    mutating func emptyOrderedDict() { global("collections", "OrderedDict"); op(0x29); op(0x52) }
    mutating func stop() { op(0x2E) }

    struct TensorSpec {
        var name: String, key: String, storage = "FloatStorage", numel: Int
        var shape: [Int], stride: [Int], offset = 0
    }

    /// `_rebuild_tensor_v2((storage pid), offset, shape, stride, False, OrderedDict())`
    mutating func tensor(_ t: TensorSpec) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark(); string("storage"); global("torch", t.storage); string(t.key); string("cpu"); int(t.numel); tuple()
        op(0x51)                                   // BINPERSID
        int(t.offset); ints(t.shape); ints(t.stride); op(0x89); emptyOrderedDict()
        tuple()
        op(0x52)                                   // REDUCE
    }

    /// `{"sd": OrderedDict(name: tensor, ...)}`, as torch.save({"sd": model.state_dict()}) writes it.
    static func stateDict(_ tensors: [TensorSpec]) -> [UInt8] {
        var p = PickleWriter()
        p.op(0x7D); p.string("sd"); p.emptyOrderedDict()
        p.mark()
        for t in tensors { p.string(t.name); p.tensor(t) }
        p.op(0x75)                                 // SETITEMS
        p.op(0x73)                                 // SETITEM
        p.stop()
        return p.bytes
    }
}

/// A small valid checkpoint: "sd.w" (2x3 float), "sd.b" (3 float), "sd.n" (int64 scalar).
enum SyntheticCheckpoint {
    static let tensors: [PickleWriter.TensorSpec] = [
        .init(name: "w", key: "0", numel: 6, shape: [2, 3], stride: [3, 1]),
        .init(name: "b", key: "1", numel: 3, shape: [3], stride: [1]),
        .init(name: "n", key: "2", storage: "LongStorage", numel: 1, shape: [], stride: []),
    ]

    static func floats(_ v: [Float]) -> [UInt8] { v.flatMap { ZipWriter.le32(Int($0.bitPattern)) } }

    static func entries(pickle: [UInt8] = PickleWriter.stateDict(tensors)) -> [ZipWriter.Entry] {
        [.init(name: "archive/data.pkl", data: pickle),
         .init(name: "archive/byteorder", data: Array("little".utf8)),
         .init(name: "archive/data/0", data: floats([1, 2, 3, 4, 5, 6])),
         .init(name: "archive/data/1", data: floats([-1, 0.5, 1e-3])),
         .init(name: "archive/data/2", data: ZipWriter.le32(1234) + ZipWriter.le32(0)),
         .init(name: "archive/version", data: Array("3\n".utf8))]
    }

    static func archive(pickle: [UInt8] = PickleWriter.stateDict(tensors)) -> [UInt8] {
        ZipWriter.archive(entries(pickle: pickle))
    }
}

// MARK: - PNG (uncompressed deflate), for looking at generated faces

enum TestPNG {
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func encode(_ img: RGBImage) -> [UInt8] {
        var raw: [UInt8] = []
        for y in 0..<img.height {
            raw.append(0)
            raw += img.pixels[(y * img.width * 3)..<((y + 1) * img.width * 3)]
        }
        var z: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, raw.count - i)
            z.append(i + n == raw.count ? 1 : 0)
            z += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            z += raw[i..<(i + n)]
            i += n
        } while i < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for v in raw { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        z += be32(b << 16 | a)
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let td = Array(type.utf8) + data
            return be32(UInt32(data.count)) + td + be32(CRC32.checksum(td))
        }
        let ihdr = be32(UInt32(img.width)) + be32(UInt32(img.height)) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", [])
    }

    /// Tiles images in a grid, each scaled up by `scale` (nearest neighbour).
    static func montage(_ images: [RGBImage], columns: Int, scale: Int) -> RGBImage {
        let w = images[0].width, h = images[0].height
        let rows = (images.count + columns - 1) / columns
        var out = RGBImage(width: columns * w * scale, height: rows * h * scale)
        for (k, img) in images.enumerated() {
            let ox = (k % columns) * w * scale, oy = (k / columns) * h * scale
            for y in 0..<(h * scale) { for x in 0..<(w * scale) { for c in 0..<3 {
                out[ox + x, oy + y, c] = img[x / scale, y / scale, c]
            }}}
        }
        return out
    }
}
