/// Plain, obviously-correct kernels that the optimised ones in `Kernels` are tested against.
///
/// These loop over every output element directly; they are slow and meant only for tests.
public enum Reference {
    /// Direct 2-D cross-correlation with zero padding.
    public static func conv2d(_ input: Tensor, _ wts: ConvWeights) -> Tensor {
        let win = wts.window
        let oh = win.outHeight(input.h), ow = win.outWidth(input.w)
        var out = Tensor(n: input.n, c: wts.outChannels, h: oh, w: ow)
        for s in 0..<input.n { for k in 0..<wts.outChannels { for y in 0..<oh { for x in 0..<ow {
            var acc: Double = Double(wts.bias?[k] ?? 0)
            for c in 0..<input.c { for i in 0..<win.kh { for j in 0..<win.kw {
                let iy = y * win.strideY - win.padY + i, ix = x * win.strideX - win.padX + j
                if iy >= 0 && iy < input.h && ix >= 0 && ix < input.w {
                    acc += Double(wts.filters[k, c, i, j]) * Double(input[s, c, iy, ix])
                }
            }}}
            out[s, k, y, x] = Float(acc)
        }}}}
        return out
    }

    /// Direct max or average pooling over in-bounds window cells.
    public static func pool(_ input: Tensor, _ win: Window2D, isMax: Bool) -> Tensor {
        let oh = win.outHeight(input.h), ow = win.outWidth(input.w)
        var out = Tensor(n: input.n, c: input.c, h: oh, w: ow)
        for s in 0..<input.n { for c in 0..<input.c { for y in 0..<oh { for x in 0..<ow {
            var vals: [Float] = []
            for i in 0..<win.kh { for j in 0..<win.kw {
                let iy = y * win.strideY - win.padY + i, ix = x * win.strideX - win.padX + j
                if iy >= 0 && iy < input.h && ix >= 0 && ix < input.w { vals.append(input[s, c, iy, ix]) }
            }}
            out[s, c, y, x] = vals.isEmpty ? 0 : (isMax ? vals.max()! : vals.reduce(0, +) / Float(vals.count))
        }}}}
        return out
    }

    /// Zero-padded element-wise sum (dlib's `add_prev`), by coordinates.
    public static func addZeroPadded(_ a: Tensor, _ b: Tensor) -> Tensor {
        var out = Tensor(n: max(a.n, b.n), c: max(a.c, b.c), h: max(a.h, b.h), w: max(a.w, b.w))
        for s in 0..<out.n { for c in 0..<out.c { for y in 0..<out.h { for x in 0..<out.w {
            var v: Float = 0
            if s < a.n && c < a.c && y < a.h && x < a.w { v += a[s, c, y, x] }
            if s < b.n && c < b.c && y < b.h && x < b.w { v += b[s, c, y, x] }
            out[s, c, y, x] = v
        }}}}
        return out
    }

    /// Fully connected, `W` as `[inputs, outputs]`.
    public static func fullyConnected(_ input: Tensor, weights: [Float], outputs: Int, bias: [Float]? = nil) -> Tensor {
        let inputs = input.c * input.h * input.w
        var out = Tensor(n: input.n, c: outputs, h: 1, w: 1)
        for s in 0..<input.n { for o in 0..<outputs {
            var acc = Double(bias?[o] ?? 0)
            for i in 0..<inputs { acc += Double(input.data[s * inputs + i]) * Double(weights[i * outputs + o]) }
            out.data[s * outputs + o] = Float(acc)
        }}
        return out
    }
}

extension Reference {
    /// `nn.Linear` as the plain loop (double accumulation): `y[r, o] = b[o] + Σ_i x[r, i] · W[o, i]`.
    public static func linear(_ x: Matrix, weight: [Float], bias: [Float]?, outFeatures: Int) -> Matrix {
        var y = Matrix(rows: x.rows, cols: outFeatures)
        for r in 0..<x.rows { for o in 0..<outFeatures {
            var acc = Double(bias?[o] ?? 0)
            for i in 0..<x.cols { acc += Double(x.data[r * x.cols + i]) * Double(weight[o * x.cols + i]) }
            y.data[r * outFeatures + o] = Float(acc)
        }}
        return y
    }
}
