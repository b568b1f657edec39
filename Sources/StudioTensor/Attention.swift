/// Scaled dot-product attention of transformer layers.
extension Kernels {
    /// Multi-head attention: queries `q` [n, heads · d], keys `k` and values `v` [m, heads · d];
    /// for each head, `softmax(q_h k_hᵀ / √d) v_h`, heads side by side in the result [n, heads · d].
    /// `causal`: query i sees keys 0 ... i only (needs n == m).
    public static func attention(_ q: Matrix, _ k: Matrix, _ v: Matrix, heads: Int, causal: Bool = false) -> Matrix {
        precondition(q.cols == k.cols && k.cols == v.cols && k.rows == v.rows && q.cols % heads == 0, "attention: shapes do not fit")
        precondition(!causal || q.rows == k.rows, "attention: causal attention needs as many queries as keys")
        let d = q.cols / heads
        let scale = 1 / Float(d).squareRoot()
        var out = Matrix(rows: q.rows, cols: q.cols)
        for head in 0..<heads {
            var scores = matmulTransposed(q.columns(head * d, d), k.columns(head * d, d))
            for r in 0..<scores.rows {
                for c in 0..<scores.cols {
                    let i = r * scores.cols + c
                    scores.data[i] = causal && c > r ? -.infinity : scores.data[i] * scale
                }
            }
            softmaxRowsInPlace(&scores)
            let context = matmul(scores, v.columns(head * d, d))
            for r in 0..<q.rows { for c in 0..<d { out.data[r * q.cols + head * d + c] = context.data[r * d + c] } }
        }
        return out
    }

    /// The pixels of a [1, C, H, W] tensor as [H·W, C] token rows.
    public static func tokens(_ x: Tensor) -> Matrix {
        precondition(x.n == 1, "tokens: one sample")
        let pixels = x.h * x.w
        var m = Matrix(rows: pixels, cols: x.c)
        for ch in 0..<x.c { for p in 0..<pixels { m.data[p * x.c + ch] = x.data[ch * pixels + p] } }
        return m
    }

    /// [H·W, C] token rows back to a [1, C, H, W] tensor.
    public static func planes(_ m: Matrix, h: Int, w: Int) -> Tensor {
        precondition(m.rows == h * w, "planes: \(m.rows) tokens for \(h)x\(w)")
        var t = Tensor(c: m.cols, h: h, w: w)
        let pixels = h * w
        for ch in 0..<m.cols { for p in 0..<pixels { t.data[ch * pixels + p] = m.data[p * m.cols + ch] } }
        return t
    }

    /// Channels of `a` then of `b` (same sample count and size).
    public static func concatChannels(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.n == b.n && a.h == b.h && a.w == b.w, "concatChannels: \(a.shape) and \(b.shape)")
        let plane = a.h * a.w
        var out = Tensor(n: a.n, c: a.c + b.c, h: a.h, w: a.w)
        for s in 0..<a.n {
            let o = s * (a.c + b.c) * plane
            for i in 0..<(a.c * plane) { out.data[o + i] = a.data[s * a.c * plane + i] }
            for i in 0..<(b.c * plane) { out.data[o + a.c * plane + i] = b.data[s * b.c * plane + i] }
        }
        return out
    }
}
