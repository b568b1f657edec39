import Foundation
import XCTest
import StudioKit
@testable import StudioDiffusion

/// The reader against files the reference library wrote (`Tests/Fixtures/diffusion/reference.*`,
/// from tools/diffusion-oracle/make-fixtures.sh), the writer against the reader and torch's rounding.
final class SafeTensorsTests: XCTestCase {
    private func expected() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: DiffusionFixtures.folder + "/reference.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func testReadsWhatTheReferenceLibraryWrote() throws {
        let file = try SafeTensors(path: DiffusionFixtures.folder + "/reference.safetensors")
        XCTAssertEqual(file.metadata["regenerate"], "tools/diffusion-oracle/make-fixtures.sh")
        let want = try expected()["tensors"] as! [String: [String: Any]]
        XCTAssertEqual(Set(file.tensors.map(\.name)), Set(want.keys))
        let dtypes = ["float32": SafeTensorDType.f32, "float16": .f16, "bfloat16": .bf16, "int64": .i64, "float64": .f64]
        for (name, w) in want {
            let t = try XCTUnwrap(file.info(name))
            XCTAssertEqual(t.dtype, dtypes[w["dtype"] as! String], name)
            XCTAssertEqual(t.shape, w["shape"] as! [Int], name)
            if let bits = w["f32_bits"] as? [UInt32] {
                // torch's own conversion to float32, bit for bit (infinities and subnormals included;
                // a NaN's payload is the converter's choice, torch's differs from IEEE's: NaN is NaN).
                let got = try file.floats(name)
                XCTAssertEqual(got.count, bits.count, name)
                for (g, b) in zip(got, bits) {
                    let w = Float(bitPattern: b)
                    if w.isNaN { XCTAssertTrue(g.isNaN, name) } else { XCTAssertEqual(g.bitPattern, b, "\(name): \(g) vs \(w)") }
                }
            } else {
                XCTAssertThrowsError(try file.floats(name), name) { e in
                    XCTAssertEqual((e as! SafeTensorsError).kind, .entry(name, "holds I64 values, not floating point"))
                }
            }
        }
        XCTAssertEqual(try file.floats("f32.matrix", shape: [2, 3]).count, 6)
        XCTAssertThrowsError(try file.floats("f32.matrix", shape: [3, 2]))
        XCTAssertThrowsError(try file.floats("nope")) { XCTAssertEqual(($0 as! SafeTensorsError).kind, .unknownTensor("nope")) }
    }

    func testWriterRoundsAsTorchDoes() throws {
        let r = try expected()["rounding"] as! [String: [UInt32]]
        let floats = r["f32_bits"]!.map { Float(bitPattern: $0) }
        XCTAssertEqual(floats.map { UInt32(HalfFloat.bits(from: $0)) }, r["f16_bits"]!)
        XCTAssertEqual(floats.map { UInt32(SafeTensorsWriter.bfloat16Bits($0)) }, r["bf16_bits"]!)
        // And F16 -> F32 is exact for every one of the 65,536 patterns (NaNs stay NaN).
        for h in 0...UInt16.max {
            let f = HalfFloat.float(fromHalfBits: h)
            if f.isNaN { XCTAssertEqual(h & 0x7C00, 0x7C00); continue }
            XCTAssertEqual(HalfFloat.bits(from: f), h, "half \(h)")
        }
    }

    func testWriterOutputReadsBack() throws {
        var g = SplitMix64(seed: 3)
        let values = (0..<60).map { _ in Float.random(in: -4...4, using: &g) }
        let tensors = [
            SafeTensorsWriter.Tensor(name: "b", shape: [3, 4, 5], floats: values),
            SafeTensorsWriter.Tensor(name: "a.half", shape: [60], floats: values, as: .f16),
            SafeTensorsWriter.Tensor(name: "c.bf16", shape: [6, 10], floats: values, as: .bf16),
            SafeTensorsWriter.Tensor(name: "empty", dtype: .u8, shape: [0], bytes: []),
        ]
        let file = try mapped(SafeTensorsWriter.encode(tensors, metadata: ["k": "v"]))
        XCTAssertEqual(file.metadata, ["k": "v"])
        XCTAssertEqual(file.tensors.map(\.name), ["b", "a.half", "c.bf16", "empty"], "file order")
        XCTAssertEqual(try file.floats("b"), values)
        XCTAssertEqual(try file.floats("a.half"), values.map { HalfFloat.float(fromHalfBits: HalfFloat.bits(from: $0)) })
        for (x, y) in zip(try file.floats("c.bf16"), values) { XCTAssertEqual(x, y, accuracy: abs(y) / 128) }
    }

    private func mapped(_ bytes: [UInt8]) throws -> SafeTensors {
        let path = NSTemporaryDirectory() + "studio-safetensors-\(UUID().uuidString).safetensors"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try SafeTensors(path: path)
    }
}
