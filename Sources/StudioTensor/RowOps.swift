#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-row operations of transformer layers, on `Matrix` rows (tokens). Statistics accumulate in
/// double, so the float result does not depend on the row's length or order of summation.
extension Kernels {
    /// PyTorch's `nn.LayerNorm` over each row: `(x - mean) / sqrt(var + eps) · gamma + beta`, with the
    /// biased variance.
    public static func layerNorm(_ x: Matrix, gamma: [Float], beta: [Float], eps: Float) -> Matrix {
        precondition(gamma.count == x.cols && beta.count == x.cols, "layerNorm: \(gamma.count) weights for \(x.cols) features")
        var y = x
        let n = Double(x.cols)
        for r in 0..<x.rows {
            let base = r * x.cols
            var mean = 0.0
            for c in 0..<x.cols { mean += Double(x.data[base + c]) }
            mean /= n
            var variance = 0.0
            for c in 0..<x.cols { let d = Double(x.data[base + c]) - mean; variance += d * d }
            let inv = 1 / (variance / n + Double(eps)).squareRoot()
            for c in 0..<x.cols {
                y.data[base + c] = Float((Double(x.data[base + c]) - mean) * inv) * gamma[c] + beta[c]
            }
        }
        return y
    }

    /// Softmax of each row in place, max-subtracted; `-infinity` entries (masked) become 0.
    public static func softmaxRowsInPlace(_ x: inout Matrix) {
        for r in 0..<x.rows {
            let base = r * x.cols
            var m = -Float.infinity
            for c in 0..<x.cols { m = max(m, x.data[base + c]) }
            var sum = 0.0
            for c in 0..<x.cols {
                let e = m == -.infinity ? 0 : expf(x.data[base + c] - m)
                x.data[base + c] = e
                sum += Double(e)
            }
            let inv = sum > 0 ? Float(1 / sum) : 0
            for c in 0..<x.cols { x.data[base + c] *= inv }
        }
    }

    /// The activations transformer MLPs name in their configs.
    public enum Activation: String, Sendable {
        /// `x · sigmoid(1.702 x)` (OpenAI CLIP's).
        case quickGELU = "quick_gelu"
        /// `0.5 x (1 + erf(x / √2))`.
        case gelu
        /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
        case geluTanh = "gelu_new"
        /// `x · sigmoid(x)` (swish).
        case silu
    }

    public static func activateInPlace(_ x: inout Matrix, _ f: Activation) {
        switch f {
        case .quickGELU: for i in x.data.indices { let v = x.data[i]; x.data[i] = v / (1 + expf(-1.702 * v)) }
        case .silu: for i in x.data.indices { let v = x.data[i]; x.data[i] = v / (1 + expf(-v)) }
        case .gelu: for i in x.data.indices { let v = x.data[i]; x.data[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
        case .geluTanh:
            for i in x.data.indices {
                let v = x.data[i]
                x.data[i] = 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v)))
            }
        }
    }

    /// `a += b`, element by element.
    public static func addInPlace(_ a: inout Matrix, _ b: Matrix) {
        precondition(a.rows == b.rows && a.cols == b.cols, "addInPlace: shapes differ")
        for i in a.data.indices { a.data[i] += b.data[i] }
    }
}
