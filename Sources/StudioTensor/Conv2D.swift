import CBLAS

/// Geometry of a 2-D convolution or pooling window: kernel size, stride and zero padding.
public struct Window2D: Sendable, Hashable {
    public var kh: Int, kw: Int
    public var strideY: Int, strideX: Int
    public var padY: Int, padX: Int
    public init(kh: Int, kw: Int, strideY: Int, strideX: Int, padY: Int, padX: Int) {
        self.kh = kh; self.kw = kw; self.strideY = strideY; self.strideX = strideX; self.padY = padY; self.padX = padX
    }
    /// dlib's default padding: half the kernel for stride 1, none otherwise.
    public static func dlib(kh: Int, kw: Int, strideY: Int, strideX: Int) -> Window2D {
        Window2D(kh: kh, kw: kw, strideY: strideY, strideX: strideX,
                 padY: strideY == 1 ? kh / 2 : 0, padX: strideX == 1 ? kw / 2 : 0)
    }
    /// Output rows for `h` input rows: `1 + (h + 2*pad - k) / stride` (0 if the window does not fit).
    public func outHeight(_ h: Int) -> Int { h + 2 * padY < kh ? 0 : 1 + (h + 2 * padY - kh) / strideY }
    public func outWidth(_ w: Int) -> Int { w + 2 * padX < kw ? 0 : 1 + (w + 2 * padX - kw) / strideX }
}

/// Convolution weights: `filters` is `[outChannels, inChannels, kh, kw]`, `bias` has `outChannels` values.
public struct ConvWeights: Sendable {
    public let filters: Tensor
    public let bias: [Float]?
    public let window: Window2D
    /// The filters in the vector kernel's layout (`PackedFilters`), packed once here; nil where this
    /// CPU lacks that kernel, so `Kernels.conv2d` takes the im2col + SGEMM path.
    public let packed: PackedFilters?
    public init(filters: Tensor, bias: [Float]?, window: Window2D) {
        precondition(filters.h == window.kh && filters.w == window.kw, "ConvWeights: kernel shape mismatch")
        precondition(bias == nil || bias!.count == filters.n, "ConvWeights: bias count mismatch")
        self.filters = filters; self.bias = bias; self.window = window
        self.packed = PackedFilters.isAvailable ? PackedFilters(filters) : nil
    }
    public var outChannels: Int { filters.n }
    public var inChannels: Int { filters.c }
}

public enum Kernels {
    /// Limit on the im2col scratch buffer (floats); the output is produced in row blocks that fit.
    public static let im2colBudget = 8 << 20

    /// 2-D cross-correlation (what dlib and every framework call convolution), then `epilogue`.
    ///
    /// `out[k, y, x] = epilogue(bias[k] + Σ_{c,i,j} W[k, c, i, j] · in[c, y·sy − py + i, x·sx − px + j])`,
    /// with zeros outside the input, for every sample of `input`. Runs the vector kernel
    /// (`conv2dPacked`) where the weights carry packed filters, else im2col + SGEMM (`conv2dGEMM`).
    /// ### See Also
    /// `Reference.conv2d`, the direct loop both are tested against.
    public static func conv2d(_ input: Tensor, _ wts: ConvWeights, epilogue: ConvEpilogue = .none) -> Tensor {
        if let packed = wts.packed { return conv2dPacked(input, wts, packed, epilogue: epilogue) }
        var out = conv2dGEMM(input, wts)
        epilogue.apply(&out)
        return out
    }

    /// The convolution via im2col + SGEMM (no epilogue): the im2col matrix is built for blocks of
    /// output rows so memory stays bounded on large images.
    public static func conv2dGEMM(_ input: Tensor, _ wts: ConvWeights) -> Tensor {
        precondition(input.c == wts.inChannels, "conv2d: input has \(input.c) channels, filters expect \(wts.inChannels)")
        let win = wts.window
        let oh = win.outHeight(input.h), ow = win.outWidth(input.w)
        if oh == 0 || ow == 0 { return Tensor(n: input.n, c: wts.outChannels, h: oh, w: ow) }
        let kdim = input.c * win.kh * win.kw
        let rowsPerBlock = max(1, min(oh, im2colBudget / max(1, kdim * ow)))
        // im2col writes every element it hands to sgemm (zeros included), so no fill is needed.
        var col = [Float](unsafeUninitializedCapacity: kdim * rowsPerBlock * ow) { _, n in n = kdim * rowsPerBlock * ow }
        let K = wts.outChannels
        // SGEMM with beta = 0 writes every output element, so the output needs no zero fill.
        let out = Tensor(n: input.n, c: K, h: oh, w: ow) { op in
        input.data.withUnsafeBufferPointer { inp in
        wts.filters.data.withUnsafeBufferPointer { fp in
        col.withUnsafeMutableBufferPointer { cp in
            for s in 0..<input.n {
                let inBase = inp.baseAddress! + s * input.c * input.h * input.w
                let outBase = op.baseAddress! + s * K * oh * ow
                var y0 = 0
                while y0 < oh {
                    let rows = min(rowsPerBlock, oh - y0)
                    let ncols = rows * ow
                    im2col(inBase, c: input.c, h: input.h, w: input.w, win: win,
                           y0: y0, rows: rows, ow: ow, into: cp.baseAddress!)
                    // out[K, ncols] (ld = oh*ow, offset y0*ow) = F[K, kdim] * col[kdim, ncols]
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                Int32(K), Int32(ncols), Int32(kdim),
                                1, fp.baseAddress!, Int32(kdim),
                                cp.baseAddress!, Int32(ncols),
                                0, outBase + y0 * ow, Int32(oh * ow))
                    y0 += rows
                }
                if let bias = wts.bias {
                    for k in 0..<K {
                        let b = bias[k]
                        let p = outBase + k * oh * ow
                        for i in 0..<(oh * ow) { p[i] += b }
                    }
                }
            }
        }}}}
        return out
    }

    /// Writes the im2col matrix for output rows `y0 ..< y0+rows`: row `(c*kh + i)*kw + j`, column
    /// `(y - y0)*ow + x`, zero where the window falls outside the input.
    @usableFromInline
    static func im2col(_ src: UnsafePointer<Float>, c: Int, h: Int, w: Int, win: Window2D,
                       y0: Int, rows: Int, ow: Int, into dst: UnsafeMutablePointer<Float>) {
        let ncols = rows * ow
        let sx = win.strideX, px = win.padX
        // Range of x for which ix = x*sx - px + j lies in [0, w).
        for ch in 0..<c {
            let plane = src + ch * h * w
            for i in 0..<win.kh {
                for j in 0..<win.kw {
                    let row = dst + ((ch * win.kh + i) * win.kw + j) * ncols
                    // x valid when 0 <= x*sx - px + j <= w-1
                    let off = j - px
                    var xLo = off >= 0 ? 0 : (-off + sx - 1) / sx
                    var xHi = (w - 1 - off) < 0 ? -1 : (w - 1 - off) / sx
                    xLo = min(xLo, ow); xHi = min(xHi, ow - 1)
                    for r in 0..<rows {
                        let y = y0 + r
                        let iy = y * win.strideY - win.padY + i
                        let d = row + r * ow
                        if iy < 0 || iy >= h || xHi < xLo {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        if xLo > 0 { d.update(repeating: 0, count: xLo) }
                        let s = plane + iy * w + off
                        if sx == 1 {
                            (d + xLo).update(from: s + xLo, count: xHi - xLo + 1)
                        } else {
                            var x = xLo
                            while x <= xHi { d[x] = s[x * sx]; x += 1 }
                        }
                        if xHi + 1 < ow { (d + xHi + 1).update(repeating: 0, count: ow - xHi - 1) }
                    }
                }
            }
        }
    }
}
