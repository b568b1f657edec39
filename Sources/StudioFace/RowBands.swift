import StudioTensor

/// How a fully convolutional network's output rows depend on its input rows.
///
/// Output row `j` reads input rows `j*stride - reach ..< j*stride - reach + span` (zeros beyond
/// the edges), through every layer's zero padding.
struct RowGeometry: Sendable, Equatable {
    /// Product of the layers' vertical strides.
    var stride: Int
    /// Rows above `j*stride` the receptive field starts at (the padding, in input rows).
    var reach: Int
    /// Height of the receptive field in input rows.
    var span: Int
}

extension DlibNetwork {
    /// The row geometry, for networks made only of convolutions, pools and per-position layers
    /// (the MMOD detector); nil for any other (fully connected, global pooling, skips).
    var rowGeometry: RowGeometry? {
        var g = RowGeometry(stride: 1, reach: 0, span: 1)
        for layer in layers {
            let win: Window2D
            switch layer {
            case .conv(let w): win = w.window
            case .maxPool(let w), .avgPool(let w): win = w
            case .affine, .relu: continue
            default: return nil
            }
            g.reach += win.padY * g.stride
            g.span += (win.kh - 1) * g.stride
            g.stride *= win.strideY
        }
        return g
    }

    /// `forward(x)`, computed for bands of output rows so that only one band of every layer's
    /// activations is held at a time: the peak is the input plus about `bandPixels` input pixels'
    /// worth of activations, instead of every layer's full output.
    ///
    /// Each band runs the network on the input rows its receptive field needs (`RowGeometry`),
    /// starting on a multiple of the stride so every layer's grid lines up with the full run's; the
    /// rows whose receptive field reaches past a cut (they saw zero padding there instead of the
    /// neighbouring rows) are dropped. What is kept is therefore computed from exactly the values
    /// the full run uses, in the same order: the result equals `forward(x)`.
    ///
    /// - Parameters:
    ///   - x: one sample, `[1, C, H, W]`.
    ///   - bandPixels: the input pixels (rows x W) one band may cover; at least enough rows for a
    ///     few output rows beyond the receptive field are always used.
    /// - Returns: `forward(x)`; networks without a row geometry, or inputs that fit in one band,
    ///   run `forward` directly.
    func forwardInRowBands(_ x: Tensor, bandPixels: Int) -> Tensor {
        guard x.n == 1, x.w > 0, let g = rowGeometry else { return forward(x) }
        let outH = outputHeight(forInputHeight: x.h)
        let bandRows = max(g.span + g.reach + 4 * g.stride, bandPixels / x.w)
        let outRowsPerBand = max(1, (bandRows - g.span - g.reach) / g.stride + 1)
        if outH <= outRowsPerBand { return forward(x) }
        var out: Tensor? = nil
        var o0 = 0
        while o0 < outH {
            let o1 = min(outH, o0 + outRowsPerBand)
            let first = max(0, o0 * g.stride - g.reach) / g.stride * g.stride
            let end = min(x.h, (o1 - 1) * g.stride - g.reach + g.span)
            let y = forward(x.rows(first..<end))
            let shift = first / g.stride
            precondition(y.h >= o1 - shift, "forwardInRowBands: band produced \(y.h) rows, needs \(o1 - shift)")
            if out == nil { out = Tensor(n: 1, c: y.c, h: outH, w: y.w) }
            out!.copyRows(from: y, sourceRows: (o0 - shift)..<(o1 - shift), to: o0)
            o0 = o1
        }
        return out!
    }

    /// Output rows for `h` input rows, through every windowed layer.
    func outputHeight(forInputHeight h: Int) -> Int {
        var rows = h
        for layer in layers {
            switch layer {
            case .conv(let w): rows = w.window.outHeight(rows)
            case .maxPool(let w), .avgPool(let w): rows = w.outHeight(rows)
            default: break
            }
        }
        return rows
    }
}

extension Tensor {
    /// Rows `range` of every channel of a one-sample tensor: `[1, C, range.count, W]`.
    func rows(_ range: Range<Int>) -> Tensor {
        precondition(n == 1 && range.lowerBound >= 0 && range.upperBound <= h, "Tensor.rows: \(range) outside 0..<\(h)")
        let plane = h * w, rh = range.count
        return Tensor(n: 1, c: c, h: rh, w: w) { dst in
            data.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    (dst.baseAddress! + ch * rh * w).update(from: src.baseAddress! + ch * plane + range.lowerBound * w, count: rh * w)
                }
            }
        }
    }

    /// Copies rows `sourceRows` of every channel of `source` (same channels and width) to rows
    /// starting at `row`.
    mutating func copyRows(from source: Tensor, sourceRows: Range<Int>, to row: Int) {
        precondition(n == 1 && source.n == 1 && source.c == c && source.w == w, "Tensor.copyRows: shapes differ")
        precondition(sourceRows.lowerBound >= 0 && sourceRows.upperBound <= source.h && row + sourceRows.count <= h,
                     "Tensor.copyRows: rows out of range")
        let plane = h * w, splane = source.h * source.w
        let count = sourceRows.count * w
        source.data.withUnsafeBufferPointer { src in
            data.withUnsafeMutableBufferPointer { dst in
                for ch in 0..<c {
                    (dst.baseAddress! + ch * plane + row * w).update(from: src.baseAddress! + ch * splane + sourceRows.lowerBound * w, count: count)
                }
            }
        }
    }
}
