import XCTest
import StudioKit
import StudioTensor

final class MatrixOpsTests: XCTestCase {
    private func random(_ n: Int, _ g: inout SplitMix64) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &g) } }

    func testLinearAndMatmulMatchTheReferenceLoop() {
        var g = SplitMix64(seed: 1)
        let x = Matrix(rows: 5, cols: 7, data: random(35, &g))
        let w = random(3 * 7, &g), b = random(3, &g)
        for bias in [b, nil] {
            let want = Reference.linear(x, weight: w, bias: bias, outFeatures: 3)
            XCTAssertLessThan(Kernels.linear(x, weight: w, bias: bias, outFeatures: 3).maxAbsDifference(want), 1e-5)
        }
        let k = Matrix(rows: 3, cols: 7, data: w)
        XCTAssertLessThan(Kernels.matmulTransposed(x, k).maxAbsDifference(Reference.linear(x, weight: w, bias: nil, outFeatures: 3)), 1e-5)
        // a · b against a · (bᵀ)ᵀ through the transposed product.
        let bm = Matrix(rows: 7, cols: 3, data: random(21, &g))
        var bt = Matrix(rows: 3, cols: 7)
        for r in 0..<7 { for c in 0..<3 { bt.data[c * 7 + r] = bm.data[r * 3 + c] } }
        XCTAssertLessThan(Kernels.matmul(x, bm).maxAbsDifference(Kernels.matmulTransposed(x, bt)), 1e-6)
    }

    func testLayerNormSoftmaxAndActivations() {
        let x = Matrix(rows: 2, cols: 4, data: [1, 2, 3, 4, -1, -1, -1, -1])
        let n = Kernels.layerNorm(x, gamma: [1, 1, 1, 1], beta: [0, 0, 0, 0], eps: 0)
        XCTAssertEqual(n.row(0).map { Double($0) }, [-1.3416407865, -0.4472135955, 0.4472135955, 1.3416407865].map { $0 }, accuracy: 1e-6)
        XCTAssertEqual(Kernels.layerNorm(x, gamma: [1, 1, 1, 1], beta: [0, 0, 0, 0], eps: 1e-5).row(1), [0, 0, 0, 0], "a constant row")
        var s = Matrix(rows: 2, cols: 3, data: [0, 0, -.infinity, 1000, 1000, 1000])
        Kernels.softmaxRowsInPlace(&s)
        XCTAssertEqual(s.data, [0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3].map(Float.init), "masked entries get 0; large inputs do not overflow")
        var a = Matrix(rows: 1, cols: 3, data: [-1, 0, 2])
        Kernels.activateInPlace(&a, .quickGELU)
        XCTAssertEqual(a.data.map(Double.init), [-1 / (1 + exp(1.702)), 0, 2 / (1 + exp(-3.404))], accuracy: 1e-6)
        var e = Matrix(rows: 1, cols: 2, data: [1, -1])
        Kernels.activateInPlace(&e, .gelu)
        XCTAssertEqual(e.data.map(Double.init), [0.8413447461, -0.1586552539], accuracy: 1e-6)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, message, file: file, line: line) }
}
