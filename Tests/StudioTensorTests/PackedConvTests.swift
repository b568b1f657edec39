import XCTest
import StudioTensor
import StudioKit

/// The vector convolution kernel (CStudioKernels) against the direct reference loop.
final class PackedConvTests: XCTestCase {
    private func weights(c: Int, k: Int, kh: Int, kw: Int, window: Window2D, seed: UInt64) throws -> ConvWeights {
        guard PackedFilters.isAvailable else { throw XCTSkip("this CPU has no AVX2 + FMA: the vector kernel is not used here") }
        let f = randomTensor(n: k, c: c, h: kh, w: kw, seed: seed)
        let bias = randomTensor(c: k, h: 1, w: 1, seed: seed + 1).data
        return ConvWeights(filters: f, bias: bias, window: window)
    }

    func testGeometriesTheTilingTreatsApart() throws {
        // Channel counts below, at and past a 16-channel block; maps narrower than a 6-position tile,
        // rows that are not a multiple of 6 (stride 1 tiles cross rows, other strides do not), unequal
        // strides and paddings, 1x1 and 7x7 kernels, and a stride larger than the kernel.
        let cases: [(c: Int, h: Int, w: Int, k: Int, kh: Int, kw: Int, sy: Int, sx: Int, py: Int, px: Int)] = [
            (32, 35, 35, 32, 3, 3, 1, 1, 1, 1), (3, 150, 150, 32, 7, 7, 2, 2, 0, 0), (64, 8, 8, 128, 3, 3, 1, 1, 1, 1),
            (256, 3, 3, 256, 3, 3, 1, 1, 1, 1), (7, 1, 1, 17, 3, 3, 1, 1, 1, 1), (5, 11, 13, 15, 3, 5, 1, 2, 1, 2),
            (3, 9, 14, 33, 1, 1, 1, 1, 0, 0), (2, 13, 10, 16, 2, 2, 3, 3, 0, 0), (4, 6, 25, 9, 5, 3, 2, 1, 2, 0),
        ]
        for (i, t) in cases.enumerated() {
            let win = Window2D(kh: t.kh, kw: t.kw, strideY: t.sy, strideX: t.sx, padY: t.py, padX: t.px)
            let wts = try weights(c: t.c, k: t.k, kh: t.kh, kw: t.kw, window: win, seed: UInt64(300 + 7 * i))
            let x = randomTensor(n: 2, c: t.c, h: t.h, w: t.w, seed: UInt64(500 + i))
            let got = Kernels.conv2dPacked(x, wts, wts.packed!), want = Reference.conv2d(x, wts)
            XCTAssertEqual(got.shape, want.shape, "case \(i)")
            // Sums of up to 2304 products of values in [-1, 1]: float32 reassociation stays far below this.
            XCTAssertLessThan(got.maxAbsDifference(want), 2e-4, "case \(i) \(t)")
        }
    }

    func testEpilogueIsTheSeparatePasses() throws {
        let win = Window2D.dlib(kh: 3, kw: 3, strideY: 1, strideX: 1)
        let wts = try weights(c: 24, k: 40, kh: 3, kw: 3, window: win, seed: 41)
        let x = randomTensor(c: 24, h: 10, w: 7, seed: 42)
        let scale = randomTensor(c: 40, h: 1, w: 1, seed: 43).data, shift = randomTensor(c: 40, h: 1, w: 1, seed: 44).data
        for relu in [false, true] {
            let fused = Kernels.conv2dPacked(x, wts, wts.packed!, epilogue: ConvEpilogue(scale: scale, shift: shift, relu: relu))
            var separate = Kernels.conv2dPacked(x, wts, wts.packed!)
            if relu { Kernels.affineReluInPlace(&separate, gamma: scale, beta: shift) } else { Kernels.affineInPlace(&separate, gamma: scale, beta: shift) }
            // The same accumulators, then the same roundings: equal bit for bit.
            XCTAssertEqual(fused.data, separate.data, "relu \(relu)")
            if relu { XCTAssertTrue(fused.data.contains(0) && fused.data.allSatisfy { $0 >= 0 }) }
        }
    }

    func testThreadCountDoesNotChangeTheResult() throws {
        // Many position groups (split by groups) and a single group of 256 channels (split by blocks).
        let shapes: [(c: Int, k: Int, h: Int, w: Int)] = [(16, 32, 40, 33), (64, 256, 4, 4)]
        let before = ComputeThreads.current
        defer { ComputeThreads.set(before) }
        // Batches of 1 (split inside the sample), 2 and 5 (whole samples per thread, 5 unevenly).
        for (i, t) in shapes.enumerated() {
            let wts = try weights(c: t.c, k: t.k, kh: 3, kw: 3, window: .dlib(kh: 3, kw: 3, strideY: 1, strideX: 1), seed: UInt64(61 + i))
            for n in [1, 2, 5] {
                let x = randomTensor(n: n, c: t.c, h: t.h, w: t.w, seed: UInt64(71 + i))
                ComputeThreads.set(1)
                let one = Kernels.conv2dPacked(x, wts, wts.packed!)
                for threads in [2, 3] {
                    ComputeThreads.set(threads)
                    XCTAssertEqual(Kernels.conv2dPacked(x, wts, wts.packed!).data, one.data, "shape \(i), batch \(n), \(threads) threads")
                }
            }
        }
    }
}
