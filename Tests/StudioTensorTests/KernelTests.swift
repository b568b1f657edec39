import XCTest
import StudioTensor
import StudioKit

func randomTensor(n: Int = 1, c: Int, h: Int, w: Int, seed: UInt64) -> Tensor {
    var g = SplitMix64(seed: seed)
    return Tensor(n: n, c: c, h: h, w: w, data: (0..<(n * c * h * w)).map { _ in Float.random(in: -1...1, using: &g) })
}

final class KernelTests: XCTestCase {
    func testConvMatchesReferenceAcrossGeometries() {
        // Shapes cover stride 1/2, dlib's default padding, odd sizes, kernels larger than stride, and
        // an input small enough that some windows see only padding.
        let cases: [(c: Int, h: Int, w: Int, k: Int, kh: Int, kw: Int, s: Int, p: Int)] = [
            (3, 17, 23, 8, 3, 3, 1, 1), (3, 20, 19, 5, 7, 7, 2, 0), (4, 9, 9, 6, 5, 5, 2, 2),
            (2, 5, 4, 3, 3, 3, 2, 0), (1, 12, 12, 4, 9, 9, 1, 4), (5, 2, 3, 2, 3, 3, 1, 1),
            // Maps of a few positions, as the ResNet's last levels have.
            (40, 3, 3, 24, 3, 3, 1, 1), (17, 8, 8, 9, 3, 3, 2, 0), (3, 4, 4, 5, 1, 1, 1, 0),
        ]
        for (i, t) in cases.enumerated() {
            let x = randomTensor(c: t.c, h: t.h, w: t.w, seed: UInt64(10 + i))
            let f = randomTensor(n: t.k, c: t.c, h: t.kh, w: t.kw, seed: UInt64(100 + i))
            let bias = randomTensor(c: t.k, h: 1, w: 1, seed: UInt64(200 + i)).data
            let win = Window2D(kh: t.kh, kw: t.kw, strideY: t.s, strideX: t.s, padY: t.p, padX: t.p)
            let wts = ConvWeights(filters: f, bias: bias, window: win)
            let ref = Reference.conv2d(x, wts)
            var paths = [("gemm", Kernels.conv2dGEMM(x, wts))]
            if let packed = wts.packed { paths.append(("packed", Kernels.conv2dPacked(x, wts, packed))) }
            for (name, fast) in paths {
                XCTAssertEqual(fast.shape, ref.shape, "case \(i), \(name)")
                XCTAssertLessThan(fast.maxAbsDifference(ref), 1e-4, "case \(i), \(name)")
            }
        }
    }

    func testConvRowBlockingGivesSameResult() {
        // An input whose im2col matrix is far larger than one block forces many sgemm calls.
        let x = randomTensor(c: 3, h: 301, w: 257, seed: 7)
        let f = randomTensor(n: 4, c: 3, h: 5, w: 5, seed: 8)
        let wts = ConvWeights(filters: f, bias: nil, window: .dlib(kh: 5, kw: 5, strideY: 2, strideX: 2))
        XCTAssertGreaterThan(3 * 25 * wts.window.outWidth(257) * wts.window.outHeight(301), 0)
        let fast = Kernels.conv2d(x, wts)
        // Check a sample of outputs against direct sums (the full reference is slow in debug builds).
        var g = SplitMix64(seed: 99)
        for _ in 0..<200 {
            let k = Int.random(in: 0..<4, using: &g), y = Int.random(in: 0..<fast.h, using: &g)
            let xo = Int.random(in: 0..<fast.w, using: &g)
            var acc = 0.0
            for c in 0..<3 { for i in 0..<5 { for j in 0..<5 {
                acc += Double(f[k, c, i, j]) * Double(x[0, c, y * 2 + i, xo * 2 + j])
            }}}
            XCTAssertEqual(Double(fast[0, k, y, xo]), acc, accuracy: 1e-4)
        }
    }

    func testPoolingMatchesReference() {
        let x = randomTensor(n: 2, c: 3, h: 35, w: 17, seed: 3)
        for win in [Window2D(kh: 3, kw: 3, strideY: 2, strideX: 2, padY: 0, padX: 0),
                    Window2D(kh: 2, kw: 2, strideY: 2, strideX: 2, padY: 0, padX: 0),
                    Window2D(kh: 3, kw: 3, strideY: 1, strideX: 1, padY: 1, padX: 1)] {
            XCTAssertLessThan(Kernels.maxPool(x, win).maxAbsDifference(Reference.pool(x, win, isMax: true)), 1e-6)
            XCTAssertLessThan(Kernels.avgPool(x, win).maxAbsDifference(Reference.pool(x, win, isMax: false)), 1e-6)
        }
        XCTAssertEqual(Window2D(kh: 3, kw: 3, strideY: 2, strideX: 2, padY: 0, padX: 0).outHeight(72), 35)
    }

    func testAddZeroPaddedFollowsDlibRule() {
        // residual_down at 8x8: conv branch 64x3x3 plus avg-pool branch 32x4x4 -> 64x4x4.
        let a = randomTensor(c: 64, h: 3, w: 3, seed: 1), b = randomTensor(c: 32, h: 4, w: 4, seed: 2)
        let s = Kernels.addZeroPadded(a, b)
        XCTAssertEqual(s.shape, [1, 64, 4, 4])
        XCTAssertLessThan(s.maxAbsDifference(Reference.addZeroPadded(a, b)), 1e-7)
        XCTAssertEqual(s[0, 40, 3, 3], 0)                      // outside both
        XCTAssertEqual(s[0, 40, 1, 1], a[0, 40, 1, 1])         // only a
        XCTAssertEqual(s[0, 5, 3, 0], b[0, 5, 3, 0])           // only b
        XCTAssertEqual(s[0, 5, 0, 0], a[0, 5, 0, 0] + b[0, 5, 0, 0], accuracy: 1e-7)
    }

    func testFullyConnectedAffineReluGlobalPool() {
        let x = randomTensor(n: 3, c: 4, h: 2, w: 2, seed: 5)
        let w = randomTensor(c: 16 * 7, h: 1, w: 1, seed: 6).data
        let bias = randomTensor(c: 7, h: 1, w: 1, seed: 9).data
        let fast = Kernels.fullyConnected(x, weights: w, outputs: 7, bias: bias)
        XCTAssertLessThan(fast.maxAbsDifference(Reference.fullyConnected(x, weights: w, outputs: 7, bias: bias)), 1e-5)

        var t = Tensor(c: 2, h: 1, w: 2, data: [-1, 2, 3, -4])
        Kernels.affineInPlace(&t, gamma: [2, -1], beta: [0.5, 1])
        XCTAssertEqual(t.data, [-1.5, 4.5, -2, 5])
        Kernels.reluInPlace(&t)
        XCTAssertEqual(t.data, [0, 4.5, 0, 5])
        let g = Kernels.globalAvgPool(Tensor(c: 2, h: 2, w: 2, data: [1, 2, 3, 4, 5, 6, 7, 8]))
        XCTAssertEqual(g.data, [2.5, 6.5])
        var th = Tensor(c: 1, h: 1, w: 3, data: [0, 1, -30])
        Kernels.tanhInPlace(&th)
        XCTAssertEqual(th.data[1], 0.7615942, accuracy: 1e-6)
        XCTAssertEqual(th.data[2], -1, accuracy: 1e-6)
    }
}
