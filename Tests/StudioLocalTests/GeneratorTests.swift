import XCTest
import Foundation
import StudioKit
import StudioTensor
@testable import StudioLocal

final class GeneratorTests: XCTestCase {
    private func generator() throws -> DCGANGenerator {
        _ = try LocalTestData.weights()
        return try XCTUnwrap(LocalTestData.generator, "the generator did not load")
    }

    private func cases() throws -> [[String: Any]] {
        try XCTUnwrap(LocalTestData.parity()["cases"] as? [[String: Any]])
    }

    func testSeedGivesTheFixtureLatentExactly() throws {
        for c in try cases() {
            let seed = try XCTUnwrap((c["seed"] as? NSNumber)?.uint64Value)
            let expected = (c["z"] as! [Any]).doubles.map { Float($0) }
            let z = DCGANGenerator.latent(seed: seed)
            XCTAssertEqual(z.count, DCGANGenerator.latentDimension)
            // The fixture holds float32 values written as doubles (JSONSerialization on Linux may parse
            // them an ulp of a double off, which rounding to Float removes): equal bit for bit.
            XCTAssertEqual(z, expected, "seed \(seed)")
        }
        XCTAssertEqual(DCGANGenerator.latent(seed: 7), DCGANGenerator.latent(seed: 7))
        XCTAssertNotEqual(DCGANGenerator.latent(seed: 7), DCGANGenerator.latent(seed: 8))
        // Roughly standard normal over many seeds.
        let all = (0..<200).flatMap { DCGANGenerator.latent(seed: UInt64($0)) }.map(Double.init)
        let mean = all.reduce(0, +) / Double(all.count)
        let variance = all.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(all.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03); XCTAssertEqual(variance, 1, accuracy: 0.05)
    }

    func testForwardMatchesNumpyOracle() throws {
        let gen = try generator()
        let cs = try cases()
        let z = cs.map { ($0["z"] as! [Any]).doubles.map { Float($0) } }
        let out = gen.forward(Tensor(n: z.count, c: 100, h: 1, w: 1, data: z.flatMap { $0 }))
        XCTAssertEqual(out.shape, [cs.count, 3, 64, 64])
        let images = gen.generate(z)
        let plane = 3 * 64 * 64
        var worst: Double = 0, worstMean: Double = 0, byteDiffs = 0
        for (k, c) in cs.enumerated() {
            let idx = (c["sample_index"] as! [Any]).ints, vals = (c["sample_value"] as! [Any]).doubles
            XCTAssertEqual(idx.count, vals.count)
            XCTAssertGreaterThanOrEqual(idx.count, 300)
            for (i, v) in zip(idx, vals) {
                let d = abs(Double(out.data[k * plane + i]) - v)
                worst = max(worst, d)
                XCTAssertLessThan(d, 1e-4, "case \(k) index \(i)")
            }
            let means = (c["channel_mean"] as! [Any]).doubles
            for ch in 0..<3 {
                let s = out.data[(k * plane + ch * 4096)..<(k * plane + (ch + 1) * 4096)].reduce(0.0) { $0 + Double($1) }
                worstMean = max(worstMean, abs(s / 4096 - means[ch]))
                XCTAssertEqual(s / 4096, means[ch], accuracy: 1e-4, "case \(k) channel \(ch) mean")
            }
            XCTAssertEqual(Double(out.data[(k * plane)..<((k + 1) * plane)].min()!), (c["min"] as! NSNumber).doubleValue, accuracy: 1e-4)
            XCTAssertEqual(Double(out.data[(k * plane)..<((k + 1) * plane)].max()!), (c["max"] as! NSNumber).doubleValue, accuracy: 1e-4)
            // 8-bit image: the oracle converts its float64 output rounded to float32; values within
            // ~1e-6 of a rounding boundary may land one step apart, nothing more.
            let first = (c["image_first_bytes"] as! [Any]).ints
            let img = images[k]
            XCTAssertEqual(img.width, 64); XCTAssertEqual(img.height, 64)
            for (i, b) in first.enumerated() {
                XCTAssertLessThanOrEqual(abs(Int(img.pixels[i]) - b), 1, "case \(k) byte \(i)")
                if Int(img.pixels[i]) != b { byteDiffs += 1 }
            }
            let sum = img.pixels.reduce(0) { $0 + Int($1) }
            XCTAssertLessThanOrEqual(abs(sum - (c["image_byte_sum"] as! NSNumber).intValue), 16, "case \(k) byte sum")
            // The image is exactly the documented mapping of the tensor.
            for (i, _) in zip(idx, vals) {
                let ch = i / 4096, y = (i % 4096) / 64, x = i % 64
                XCTAssertEqual(img[x, y, ch], DCGANGenerator.byte(out.data[k * plane + i]))
            }
        }
        print("[gan] parity vs numpy oracle: max |diff| \(String(format: "%.2e", worst)) over \(cs.count)x300 sampled values; "
              + "channel means \(String(format: "%.2e", worstMean)); first-48-byte mismatches \(byteDiffs)")
    }

    func testBatchMatchesSingles() throws {
        let gen = try generator()
        let z = (0..<5).map { DCGANGenerator.latent(seed: UInt64(100 + $0)) }
        let batch = gen.forward(Tensor(n: 5, c: 100, h: 1, w: 1, data: z.flatMap { $0 }))
        for k in 0..<5 {
            let one = gen.forward(Tensor(n: 1, c: 100, h: 1, w: 1, data: z[k]))
            let slice = Tensor(n: 1, c: 3, h: 64, w: 64, data: Array(batch.data[(k * one.count)..<((k + 1) * one.count)]))
            XCTAssertLessThan(slice.maxAbsDifference(one), 1e-5, "sample \(k)")
        }
        XCTAssertTrue(batch.data.allSatisfy { $0 >= -1 && $0 <= 1 })
        XCTAssertEqual(gen.generate(seeds: [3]), gen.generate([DCGANGenerator.latent(seed: 3)]))
        XCTAssertEqual(gen.generate([]), [])
    }

    func testByteMapping() {
        XCTAssertEqual(DCGANGenerator.byte(-1), 0)
        XCTAssertEqual(DCGANGenerator.byte(1), 255)
        XCTAssertEqual(DCGANGenerator.byte(0), 128)            // 127.5 rounds away from zero
        XCTAssertEqual(DCGANGenerator.byte(-2), 0)
        XCTAssertEqual(DCGANGenerator.byte(3), 255)
        XCTAssertEqual(DCGANGenerator.byte(.nan), 0)
        XCTAssertEqual(DCGANGenerator.byte(-0.5), 64)           // 63.75
    }

    func testGeneratorRejectsBadTensors() throws {
        let path = try LocalTestData.weights()
        let tensors = try TorchCheckpoint.load(contentsOf: path)
        var missing = tensors; missing["netG_state_dict.main.6.weight"] = nil
        XCTAssertThrowsError(try DCGANGenerator(tensors: missing)) { XCTAssertTrue("\($0)".contains("main.6.weight is missing"), "\($0)") }
        var wrong = tensors
        wrong["netG_state_dict.main.4.bias"] = wrong["netG_state_dict.main.1.bias"]
        XCTAssertThrowsError(try DCGANGenerator(tensors: wrong)) { XCTAssertTrue("\($0)".contains("expected float32 [256]"), "\($0)") }
    }

    func testWriteFacesForVisualCheck() throws {
        let gen = try generator()
        let seeds: [UInt64] = Array(0..<16)
        let faces = gen.generate(seeds: seeds)
        for (s, img) in zip(seeds.prefix(4), faces) {
            try Data(TestPNG.encode(img)).write(to: URL(fileURLWithPath: "/tmp/gan-seed\(s).png"))
        }
        try Data(TestPNG.encode(TestPNG.montage(faces, columns: 4, scale: 3))).write(to: URL(fileURLWithPath: "/tmp/gan-montage.png"))
        print("[gan] wrote /tmp/gan-seed{0,1,2,3}.png and /tmp/gan-montage.png (seeds 0-15, 3x)")
        // Not a blank or saturated picture: a spread of values in every channel.
        for img in faces {
            for ch in 0..<3 {
                let v = stride(from: ch, to: img.pixels.count, by: 3).map { Int(img.pixels[$0]) }
                XCTAssertGreaterThan(v.max()! - v.min()!, 100)
            }
        }
    }

    func testTiming() throws {
        let gen = try generator()
        let before = ComputeThreads.current
        ComputeThreads.set(1)
        defer { ComputeThreads.set(before) }
        let z1 = [DCGANGenerator.latent(seed: 1)]
        let z16 = (0..<16).map { DCGANGenerator.latent(seed: UInt64($0)) }
        _ = gen.generate(z1); _ = gen.generate(z16)
        func median(_ runs: Int, _ body: () -> Void) -> Double {
            var t: [Double] = []
            for _ in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                t.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            return t.sorted()[runs / 2]
        }
        let one = median(21) { _ = gen.generate(z1) }
        let sixteen = median(7) { _ = gen.generate(z16) }
        print("[gan] timing (release, 1 BLAS thread): 1 image \(String(format: "%.2f", one)) ms; batch of 16 "
              + "\(String(format: "%.1f", sixteen)) ms (\(String(format: "%.2f", sixteen / 16)) ms/image)")
    }
}
