import XCTest
import StudioTensor
import StudioKit

final class TransposedConvTests: XCTestCase {
    private func uniform(n: Int = 1, c: Int, h: Int, w: Int, seed: UInt64) -> Tensor {
        var g = SplitMix64(seed: seed)
        return Tensor(n: n, c: c, h: h, w: w, data: (0..<(n * c * h * w)).map { _ in Float.random(in: -1...1, using: &g) })
    }

    func testMatchesReferenceAcrossGeometries() {
        // (n, inC, h, w, outC, kh, kw, stride, padding): the generator's own geometries (stride 1 pad 0
        // from a 1x1 input; stride 2 pad 1), odd sizes, non-square kernels and inputs, stride larger
        // than the kernel (gaps in the output), padding that crops whole kernel rows, batches.
        let cases: [(n: Int, c: Int, h: Int, w: Int, k: Int, kh: Int, kw: Int, s: Int, p: Int)] = [
            (1, 100, 1, 1, 16, 4, 4, 1, 0), (3, 7, 1, 1, 5, 4, 4, 1, 0),
            (1, 8, 4, 4, 6, 4, 4, 2, 1), (2, 5, 5, 7, 3, 4, 4, 2, 1),
            (1, 3, 7, 5, 4, 3, 3, 2, 1), (4, 2, 3, 3, 2, 5, 3, 3, 2),
            (1, 4, 6, 6, 3, 2, 2, 3, 0), (2, 6, 9, 4, 7, 3, 5, 1, 1),
            (5, 3, 2, 2, 2, 4, 4, 2, 1), (1, 1, 1, 1, 1, 1, 1, 1, 0),
        ]
        for (i, t) in cases.enumerated() {
            let x = uniform(n: t.n, c: t.c, h: t.h, w: t.w, seed: UInt64(10 + i))
            let wts = uniform(n: t.c, c: t.k, h: t.kh, w: t.kw, seed: UInt64(100 + i))
            let bias: [Float]? = i % 2 == 0 ? uniform(c: t.k, h: 1, w: 1, seed: UInt64(200 + i)).data : nil
            let fast = Kernels.convTranspose2d(x, weights: wts, bias: bias, stride: t.s, padding: t.p)
            let ref = Reference.convTranspose2d(x, weights: wts, bias: bias, stride: t.s, padding: t.p)
            let oh = (t.h - 1) * t.s - 2 * t.p + t.kh, ow = (t.w - 1) * t.s - 2 * t.p + t.kw
            XCTAssertEqual(fast.shape, [t.n, t.k, oh, ow], "case \(i)")
            XCTAssertEqual(ref.shape, fast.shape, "case \(i)")
            XCTAssertLessThan(fast.maxAbsDifference(ref), 1e-4, "case \(i)")
        }
    }

    func testBatchGroupingMatchesPerSample() {
        // A batch large enough that the column buffer is split into several groups.
        let x = uniform(n: 9, c: 16, h: 16, w: 16, seed: 1)
        let wts = uniform(n: 16, c: 256, h: 4, w: 4, seed: 2)
        let batch = Kernels.convTranspose2d(x, weights: wts, bias: nil, stride: 2, padding: 1)
        XCTAssertGreaterThan(256 * 16 * 256 * 9, Kernels.im2colBudget)   // column rows x columns x samples
        let plane = 16 * 256
        for s in 0..<9 {
            let one = Tensor(c: 16, h: 16, w: 16, data: Array(x.data[(s * plane)..<((s + 1) * plane)]))
            let single = Kernels.convTranspose2d(one, weights: wts, bias: nil, stride: 2, padding: 1)
            let slice = Tensor(c: 256, h: 32, w: 32, data: Array(batch.data[(s * single.count)..<((s + 1) * single.count)]))
            XCTAssertLessThan(slice.maxAbsDifference(single), 1e-5, "sample \(s)")
        }
    }

    func testOneHotScatterIsTheKernel() {
        // One input pixel at (1, 2) with value 1 places the kernel at (1·2−1, 2·2−1) = (1, 3).
        var x = Tensor(c: 1, h: 3, w: 4)
        x[0, 0, 1, 2] = 1
        let wts = Tensor(n: 1, c: 1, h: 4, w: 4, data: (0..<16).map(Float.init))
        let y = Kernels.convTranspose2d(x, weights: wts, bias: nil, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [1, 1, 6, 8])
        for oy in 0..<6 { for ox in 0..<8 {
            let i = oy - 1, j = ox - 3
            let expected: Float = (0..<4).contains(i) && (0..<4).contains(j) ? Float(i * 4 + j) : 0
            XCTAssertEqual(y[0, 0, oy, ox], expected, "(\(oy), \(ox))")
        }}
    }

    func testBatchNormFoldingMatchesDefinition() {
        let x = uniform(n: 2, c: 5, h: 3, w: 4, seed: 3)
        let mean = uniform(c: 5, h: 1, w: 1, seed: 4).data
        let variance = uniform(c: 5, h: 1, w: 1, seed: 5).data.map { $0 * $0 + 0.01 }
        let gamma = uniform(c: 5, h: 1, w: 1, seed: 6).data, beta = uniform(c: 5, h: 1, w: 1, seed: 7).data
        var fast = x
        Kernels.batchNormInPlace(&fast, mean: mean, variance: variance, gamma: gamma, beta: beta)
        let ref = Reference.batchNorm(x, mean: mean, variance: variance, gamma: gamma, beta: beta)
        XCTAssertLessThan(fast.maxAbsDifference(ref), 1e-5)
    }
}
