import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Kernels {
    /// Max pooling; window cells outside the input are skipped (never zero-filled).
    public static func maxPool(_ input: Tensor, _ win: Window2D) -> Tensor {
        let oh = win.outHeight(input.h), ow = win.outWidth(input.w)
        let h = input.h, w = input.w
        return Tensor(n: input.n, c: input.c, h: oh, w: ow) { op in
            input.data.withUnsafeBufferPointer { ip in
                for plane in 0..<(input.n * input.c) {
                    maxPoolPlane(ip.baseAddress! + plane * h * w, h: h, w: w, win,
                                 into: op.baseAddress! + plane * oh * ow, oh: oh, ow: ow)
                }
            }
        }
    }

    /// One channel of `maxPool`: for each output row, the window's input rows are first combined
    /// column by column into `vmax` (a whole row at once, so it vectorises), then each output takes the
    /// maximum of its columns of `vmax`; windows are clipped to the input and one with no cell inside
    /// gives 0. Comparisons are `Swift.max`'s (`v >= acc ? v : acc`), so the values equal the
    /// reference's; only which of +0 and −0 a tie keeps may differ, as the visiting order does.
    @inline(__always)
    static func maxPoolPlane(_ src: UnsafePointer<Float>, h: Int, w: Int, _ win: Window2D,
                             into dst: UnsafeMutablePointer<Float>, oh: Int, ow: Int) {
        withUnsafeTemporaryAllocation(of: (lo: Int, hi: Int).self, capacity: ow) { cols in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, w)) { vmax in
            for x in 0..<ow {
                let xStart = x * win.strideX - win.padX
                cols[x] = (max(0, xStart), min(w, xStart + win.kw))
            }
            for y in 0..<oh {
                let yStart = y * win.strideY - win.padY
                let yLo = max(0, yStart), yHi = min(h, yStart + win.kh)
                let rowOut = dst + y * ow
                if yLo >= yHi { rowOut.update(repeating: 0, count: ow); continue }
                vmax.baseAddress!.update(from: src + yLo * w, count: w)
                for yy in (yLo + 1)..<max(yLo + 1, yHi) {
                    let row = src + yy * w
                    for x in 0..<w { let v = row[x], a = vmax[x]; vmax[x] = v >= a ? v : a }
                }
                for x in 0..<ow {
                    let (lo, hi) = cols[x]
                    guard lo < hi else { rowOut[x] = 0; continue }
                    var a = vmax[lo]
                    for xx in (lo + 1)..<max(lo + 1, hi) { let v = vmax[xx]; a = v >= a ? v : a }
                    rowOut[x] = a
                }
            }
        }}
    }

    /// Average pooling over the cells of each window that lie inside the input.
    public static func avgPool(_ input: Tensor, _ win: Window2D) -> Tensor {
        pool(input, win, isMax: false)
    }

    static func pool(_ input: Tensor, _ win: Window2D, isMax: Bool) -> Tensor {
        let oh = win.outHeight(input.h), ow = win.outWidth(input.w)
        var out = Tensor(n: input.n, c: input.c, h: oh, w: ow)
        let h = input.h, w = input.w
        input.data.withUnsafeBufferPointer { ip in
        out.data.withUnsafeMutableBufferPointer { op in
            for plane in 0..<(input.n * input.c) {
                let src = ip.baseAddress! + plane * h * w
                let dst = op.baseAddress! + plane * oh * ow
                for y in 0..<oh {
                    let yStart = y * win.strideY - win.padY
                    let yLo = max(0, yStart), yHi = min(h, yStart + win.kh)
                    for x in 0..<ow {
                        let xStart = x * win.strideX - win.padX
                        let xLo = max(0, xStart), xHi = min(w, xStart + win.kw)
                        var acc: Float = isMax ? -.infinity : 0
                        for yy in yLo..<max(yLo, yHi) {
                            let row = src + yy * w
                            for xx in xLo..<max(xLo, xHi) {
                                if isMax { acc = max(acc, row[xx]) } else { acc += row[xx] }
                            }
                        }
                        let cells = max(0, yHi - yLo) * max(0, xHi - xLo)
                        dst[y * ow + x] = isMax ? (cells > 0 ? acc : 0) : (cells > 0 ? acc / Float(cells) : 0)
                    }
                }
            }
        }}
        return out
    }

    /// Mean over all rows and columns of each channel: `[n, c, h, w] -> [n, c, 1, 1]`.
    public static func globalAvgPool(_ input: Tensor) -> Tensor {
        var out = Tensor(n: input.n, c: input.c, h: 1, w: 1)
        let hw = input.h * input.w
        input.data.withUnsafeBufferPointer { ip in
            for p in 0..<(input.n * input.c) {
                var s: Float = 0
                let base = ip.baseAddress! + p * hw
                for i in 0..<hw { s += base[i] }
                out.data[p] = s / Float(hw)
            }
        }
        return out
    }

    /// Inference batch-norm per channel, in place: `x = gamma[c] * x + beta[c]`.
    public static func affineInPlace(_ t: inout Tensor, gamma: [Float], beta: [Float]) {
        precondition(gamma.count == t.c && beta.count == t.c, "affine: \(gamma.count) gammas for \(t.c) channels")
        let hw = t.h * t.w, c = t.c
        t.data.withUnsafeMutableBufferPointer { p in
            for s in 0..<t.n {
                for ch in 0..<c {
                    let g = gamma[ch], b = beta[ch]
                    let base = p.baseAddress! + (s * c + ch) * hw
                    for i in 0..<hw { base[i] = g * base[i] + b }
                }
            }
        }
    }

    /// `x = max(x, 0)` in place (branch-free so it vectorises).
    public static func reluInPlace(_ t: inout Tensor) {
        t.data.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = max(p[i], 0) }
        }
    }

    /// `x = max(gamma[c] * x + beta[c], 0)` in place: an affine layer and the ReLU after it in one
    /// pass over memory. Same arithmetic as `affineInPlace` then `reluInPlace`.
    public static func affineReluInPlace(_ t: inout Tensor, gamma: [Float], beta: [Float]) {
        precondition(gamma.count == t.c && beta.count == t.c, "affine: \(gamma.count) gammas for \(t.c) channels")
        let hw = t.h * t.w, c = t.c
        t.data.withUnsafeMutableBufferPointer { p in
            for s in 0..<t.n {
                for ch in 0..<c {
                    let g = gamma[ch], b = beta[ch]
                    let base = p.baseAddress! + (s * c + ch) * hw
                    for i in 0..<hw { base[i] = max(g * base[i] + b, 0) }
                }
            }
        }
    }

    /// `a += b` for tensors of the same shape, in place (the common case of `addZeroPadded`).
    public static func addInPlace(_ a: inout Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape, "addInPlace: shapes \(a.shape) and \(b.shape)")
        a.data.withUnsafeMutableBufferPointer { o in
            b.data.withUnsafeBufferPointer { bp in
                for i in 0..<o.count { o[i] += bp[i] }
            }
        }
    }

    /// `tanh` in place.
    public static func tanhInPlace(_ t: inout Tensor) {
        t.data.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = tanhf(p[i]) }
        }
    }

    /// Element-wise sum with dlib's `add_prev` rule: the result has the larger size in every
    /// dimension and a missing element counts as zero (tensors are aligned at index 0 in n, c, y, x).
    public static func addZeroPadded(_ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape == b.shape {
            var out = a
            out.data.withUnsafeMutableBufferPointer { o in
                b.data.withUnsafeBufferPointer { bp in
                    for i in 0..<o.count { o[i] += bp[i] }
                }
            }
            return out
        }
        var out = Tensor(n: max(a.n, b.n), c: max(a.c, b.c), h: max(a.h, b.h), w: max(a.w, b.w))
        for src in [a, b] {
            for s in 0..<src.n { for ch in 0..<src.c { for y in 0..<src.h {
                let si = ((s * src.c + ch) * src.h + y) * src.w
                let di = ((s * out.c + ch) * out.h + y) * out.w
                for x in 0..<src.w { out.data[di + x] += src.data[si + x] }
            }}}
        }
        return out
    }

    /// Fully connected layer in dlib's layout: `weights` is `[inputs, outputs]` row-major and
    /// `out[n, o] = Σ_i x[n, i] · W[i, o] (+ bias[o])`; the input is flattened per sample.
    public static func fullyConnected(_ input: Tensor, weights: [Float], outputs: Int, bias: [Float]? = nil) -> Tensor {
        let inputs = input.c * input.h * input.w
        precondition(weights.count == inputs * outputs, "fullyConnected: \(weights.count) weights for \(inputs)x\(outputs)")
        var out = Tensor(n: input.n, c: outputs, h: 1, w: 1)
        input.data.withUnsafeBufferPointer { x in
        weights.withUnsafeBufferPointer { wp in
        out.data.withUnsafeMutableBufferPointer { o in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(input.n), Int32(outputs), Int32(inputs),
                        1, x.baseAddress!, Int32(inputs), wp.baseAddress!, Int32(outputs), 0, o.baseAddress!, Int32(outputs))
        }}}
        if let bias {
            for s in 0..<input.n { for o in 0..<outputs { out.data[s * outputs + o] += bias[o] } }
        }
        return out
    }
}

