import CBLAS

// Transposed convolution ("deconvolution", PyTorch's `ConvTranspose2d`) and inference batch-norm
// folding. Square kernels' stride and padding are the same on both axes, as every layer of the DCGAN
// generator uses them.

extension Kernels {
    /// Output size of a transposed convolution along one axis: `(n - 1)·stride − 2·padding + k`.
    public static func convTranspose2dOutputSize(_ n: Int, kernel k: Int, stride: Int, padding: Int) -> Int {
        (n - 1) * stride - 2 * padding + k
    }

    /// 2-D transposed convolution, as PyTorch's `ConvTranspose2d` (groups 1, dilation 1, no output padding).
    ///
    /// `weights` is laid out as PyTorch stores a `ConvTranspose2d` weight: `[inC, outC, kh, kw]`, held
    /// in a `Tensor` as `n = inC, c = outC, h = kh, w = kw`. Every input pixel scatters a weighted
    /// kernel into the output:
    ///
    /// `out[s, o, y·stride − padding + i, x·stride − padding + j] += in[s, c, y, x] · W[c, o, i, j]`
    ///
    /// (positions outside `[0, OH) × [0, OW)` are dropped — that is the padding crop), plus `bias[o]`.
    /// The output is `OH = (H−1)·stride − 2·padding + kh` by `OW = (W−1)·stride − 2·padding + kw`.
    ///
    /// Implementation: for a group of samples at once, one SGEMM forms the column matrix
    /// `col[outC·kh·kw, g·H·W] = Wᵀ[outC·kh·kw, inC] × X[inC, g·H·W]` (`W` viewed row-major as
    /// `[inC, outC·kh·kw]`, so `Wᵀ` is a transposed operand, not a copy), then `col2im` scatter-adds
    /// each row into its output plane, skipping cropped positions. Groups are sized so `col` stays
    /// within `im2colBudget` floats.
    /// ### See Also
    /// `Reference.convTranspose2d`, the direct loop this is tested against.
    public static func convTranspose2d(_ input: Tensor, weights: Tensor, bias: [Float]?, stride: Int, padding: Int) -> Tensor {
        precondition(stride >= 1 && padding >= 0, "convTranspose2d: stride \(stride), padding \(padding)")
        precondition(weights.n == input.c,
                     "convTranspose2d: input has \(input.c) channels, weights expect \(weights.n) ([inC, outC, kh, kw])")
        precondition(bias == nil || bias!.count == weights.c, "convTranspose2d: bias count mismatch")
        let inC = input.c, outC = weights.c, kh = weights.h, kw = weights.w
        let h = input.h, w = input.w, n = input.n
        let oh = max(0, convTranspose2dOutputSize(h, kernel: kh, stride: stride, padding: padding))
        let ow = max(0, convTranspose2dOutputSize(w, kernel: kw, stride: stride, padding: padding))
        var out = Tensor(n: n, c: outC, h: oh, w: ow)
        let hw = h * w
        if n == 0 || oh == 0 || ow == 0 || outC == 0 { return out }
        if let bias {
            out.data.withUnsafeMutableBufferPointer { op in
                for s in 0..<n { for o in 0..<outC {
                    (op.baseAddress! + (s * outC + o) * oh * ow).update(repeating: bias[o], count: oh * ow)
                }}
            }
        }
        if inC == 0 || hw == 0 { return out }

        let rows = outC * kh * kw
        // Samples per SGEMM: as many as keep the column buffer within budget (at least one).
        let group = max(1, min(n, im2colBudget / max(1, rows * hw)))
        var col = [Float](repeating: 0, count: rows * group * hw)
        // Packed input for groups of more than one sample: X[inC, g·hw].
        var packed = [Float](repeating: 0, count: group > 1 ? inC * group * hw : 0)

        input.data.withUnsafeBufferPointer { ip in
        weights.data.withUnsafeBufferPointer { wp in
        col.withUnsafeMutableBufferPointer { cp in
        packed.withUnsafeMutableBufferPointer { pp in
        out.data.withUnsafeMutableBufferPointer { op in
            var s0 = 0
            while s0 < n {
                let g = min(group, n - s0)
                let ncols = g * hw
                let xPtr: UnsafePointer<Float>
                if g == 1 {
                    xPtr = UnsafePointer(ip.baseAddress! + s0 * inC * hw)
                } else {
                    // [g, inC, hw] -> [inC, g·hw]
                    for ch in 0..<inC {
                        for k in 0..<g {
                            (pp.baseAddress! + ch * ncols + k * hw)
                                .update(from: ip.baseAddress! + ((s0 + k) * inC + ch) * hw, count: hw)
                        }
                    }
                    xPtr = UnsafePointer(pp.baseAddress!)
                }
                // col[rows, ncols] = Wᵀ[rows, inC] · X[inC, ncols]; W is row-major [inC, rows].
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                            Int32(rows), Int32(ncols), Int32(inC),
                            1, wp.baseAddress!, Int32(rows),
                            xPtr, Int32(ncols),
                            0, cp.baseAddress!, Int32(ncols))
                for k in 0..<g {
                    col2imAdd(UnsafePointer(cp.baseAddress! + k * hw), ld: ncols, outC: outC, kh: kh, kw: kw,
                              h: h, w: w, stride: stride, padding: padding, oh: oh, ow: ow,
                              into: op.baseAddress! + (s0 + k) * outC * oh * ow)
                }
                s0 += g
            }
        }}}}}
        return out
    }

    /// Scatter-adds a column matrix into one sample's output: row `(o·kh + i)·kw + j`, column
    /// `y·w + x` (row stride `ld`) goes to `out[o, y·stride − padding + i, x·stride − padding + j]`
    /// when that lies inside `[0, oh) × [0, ow)`.
    @usableFromInline
    static func col2imAdd(_ col: UnsafePointer<Float>, ld: Int, outC: Int, kh: Int, kw: Int, h: Int, w: Int,
                          stride: Int, padding: Int, oh: Int, ow: Int, into dst: UnsafeMutablePointer<Float>) {
        for o in 0..<outC {
            let plane = dst + o * oh * ow
            for i in 0..<kh {
                // y valid when 0 <= y*stride - padding + i <= oh - 1
                let offY = i - padding
                let yLo = offY >= 0 ? 0 : (-offY + stride - 1) / stride
                let yHi = min(h - 1, (oh - 1 - offY) < 0 ? -1 : (oh - 1 - offY) / stride)
                if yHi < yLo { continue }
                for j in 0..<kw {
                    let row = col + ((o * kh + i) * kw + j) * ld
                    let offX = j - padding
                    let xLo = offX >= 0 ? 0 : (-offX + stride - 1) / stride
                    let xHi = min(w - 1, (ow - 1 - offX) < 0 ? -1 : (ow - 1 - offX) / stride)
                    if xHi < xLo { continue }
                    for y in yLo...yHi {
                        let src = row + y * w
                        let d = plane + (y * stride + offY) * ow + offX
                        if stride == 1 {
                            for x in xLo...xHi { d[x] += src[x] }
                        } else {
                            for x in xLo...xHi { d[x * stride] += src[x] }
                        }
                    }
                }
            }
        }
    }

    /// Folds inference batch-norm into a per-channel affine map for `affineInPlace` /
    /// `affineReluInPlace`.
    ///
    /// PyTorch's `BatchNorm2d` in eval mode computes `y = (x − mean) / sqrt(var + eps) · gamma + beta`.
    /// This returns `scale = gamma / sqrt(var + eps)` and `shift = beta − mean · scale`, computed in
    /// Double and rounded once to Float, so `y = scale · x + shift`. The result differs from PyTorch's
    /// float32 evaluation only by rounding (relative ~1e-7 per layer).
    public static func foldBatchNorm(mean: [Float], variance: [Float], gamma: [Float], beta: [Float],
                                     eps: Double = 1e-5) -> (scale: [Float], shift: [Float]) {
        let c = mean.count
        precondition(variance.count == c && gamma.count == c && beta.count == c, "foldBatchNorm: channel counts differ")
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for k in 0..<c {
            let s = Double(gamma[k]) / (Double(variance[k]) + eps).squareRoot()
            scale[k] = Float(s)
            shift[k] = Float(Double(beta[k]) - Double(mean[k]) * s)
        }
        return (scale, shift)
    }

    /// Inference batch-norm in place: `x = (x − mean[c]) / sqrt(var[c] + eps) · gamma[c] + beta[c]`,
    /// applied as the folded affine map of `foldBatchNorm` (one multiply-add per element).
    public static func batchNormInPlace(_ t: inout Tensor, mean: [Float], variance: [Float],
                                        gamma: [Float], beta: [Float], eps: Double = 1e-5) {
        let (scale, shift) = foldBatchNorm(mean: mean, variance: variance, gamma: gamma, beta: beta, eps: eps)
        affineInPlace(&t, gamma: scale, beta: shift)
    }
}

extension Reference {
    /// Direct transposed convolution: every input element scatters `x · W[c, o, i, j]` into the
    /// uncropped output, accumulated in Double; then the padding is cropped and the bias added.
    /// `weights` is `[inC, outC, kh, kw]` as in `Kernels.convTranspose2d`.
    public static func convTranspose2d(_ input: Tensor, weights: Tensor, bias: [Float]?, stride: Int, padding: Int) -> Tensor {
        let outC = weights.c, kh = weights.h, kw = weights.w
        let fullH = (input.h - 1) * stride + kh, fullW = (input.w - 1) * stride + kw
        let oh = max(0, fullH - 2 * padding), ow = max(0, fullW - 2 * padding)
        var out = Tensor(n: input.n, c: outC, h: oh, w: ow)
        for s in 0..<input.n {
            var acc = [Double](repeating: 0, count: outC * fullH * fullW)
            for c in 0..<input.c { for y in 0..<input.h { for x in 0..<input.w {
                let v = Double(input[s, c, y, x])
                for o in 0..<outC { for i in 0..<kh { for j in 0..<kw {
                    acc[(o * fullH + y * stride + i) * fullW + x * stride + j] += v * Double(weights[c, o, i, j])
                }}}
            }}}
            for o in 0..<outC { for y in 0..<oh { for x in 0..<ow {
                out[s, o, y, x] = Float(acc[(o * fullH + y + padding) * fullW + x + padding] + Double(bias?[o] ?? 0))
            }}}
        }
        return out
    }

    /// Inference batch-norm by its definition, in Double.
    public static func batchNorm(_ input: Tensor, mean: [Float], variance: [Float], gamma: [Float], beta: [Float],
                                 eps: Double = 1e-5) -> Tensor {
        var out = input
        for s in 0..<input.n { for c in 0..<input.c { for y in 0..<input.h { for x in 0..<input.w {
            let v = (Double(input[s, c, y, x]) - Double(mean[c])) / (Double(variance[c]) + eps).squareRoot()
            out[s, c, y, x] = Float(v * Double(gamma[c]) + Double(beta[c]))
        }}}}
        return out
    }
}
