import CStudioKernels
import Dispatch

/// Filters `[K, C, kh, kw]` in the vector convolution kernel's layout: blocks of 16 output channels,
/// `values[block][t][lane] = W[block·16 + lane][t]` with `t = (c·kh + i)·kw + j`, zeros past `K`.
public struct PackedFilters: Sendable {
    public let values: [Float]
    public let outChannels: Int
    public let kdim: Int

    /// Whether this CPU runs the vector kernel (x86-64 with AVX2 and FMA).
    public static let isAvailable: Bool = studio_conv_fast_available() != 0

    public init(_ filters: Tensor) {
        let k = filters.n, kdim = filters.c * filters.h * filters.w
        let count = studio_conv_packed_count(Int32(k), Int32(kdim))
        values = [Float](unsafeUninitializedCapacity: count) { buf, n in
            filters.data.withUnsafeBufferPointer { studio_conv_pack_filters($0.baseAddress!, Int32(k), Int32(kdim), buf.baseAddress!) }
            n = count
        }
        outChannels = k; self.kdim = kdim
    }
}

/// What follows a convolution in the same pass: an inference batch-norm (`scale · x + shift` per
/// channel, dlib's affine layer) and a ReLU, each optional, in that order after the bias.
public struct ConvEpilogue: Sendable {
    public var scale: [Float]?
    public var shift: [Float]?
    public var relu: Bool
    public init(scale: [Float]? = nil, shift: [Float]? = nil, relu: Bool = false) {
        precondition((scale == nil) == (shift == nil) && scale?.count == shift?.count, "ConvEpilogue: scale and shift go together")
        self.scale = scale; self.shift = shift; self.relu = relu
    }
    public static let none = ConvEpilogue()

    /// The same steps as separate passes over a finished convolution output.
    func apply(_ t: inout Tensor) {
        if let scale, let shift {
            if relu { Kernels.affineReluInPlace(&t, gamma: scale, beta: shift) } else { Kernels.affineInPlace(&t, gamma: scale, beta: shift) }
        } else if relu {
            Kernels.reluInPlace(&t)
        }
    }
}

extension Kernels {
    /// The convolution on the vector kernel (`CStudioKernels/conv.c`): an implicit GEMM that reads the
    /// zero-padded input in place of an im2col matrix and applies bias and `epilogue` as it stores.
    /// Work is split over `ComputeThreads.current` threads by groups of output positions.
    public static func conv2dPacked(_ input: Tensor, _ wts: ConvWeights, _ packed: PackedFilters,
                                    epilogue: ConvEpilogue = .none) -> Tensor {
        precondition(input.c == wts.inChannels, "conv2d: input has \(input.c) channels, filters expect \(wts.inChannels)")
        precondition(epilogue.scale == nil || epilogue.scale!.count == wts.outChannels, "conv2d: epilogue has the wrong channel count")
        let win = wts.window
        var shape = studio_conv_shape(c: Int32(input.c), h: Int32(input.h), w: Int32(input.w),
                                      k: Int32(wts.outChannels), kh: Int32(win.kh), kw: Int32(win.kw),
                                      sy: Int32(win.strideY), sx: Int32(win.strideX), py: Int32(win.padY), px: Int32(win.padX),
                                      oh: Int32(win.outHeight(input.h)), ow: Int32(win.outWidth(input.w)))
        let oh = Int(shape.oh), ow = Int(shape.ow), K = wts.outChannels
        if oh == 0 || ow == 0 { return Tensor(n: input.n, c: K, h: oh, w: ow) }
        var padded = [Float](unsafeUninitializedCapacity: studio_conv_padded_count(&shape)) { _, n in n = studio_conv_padded_count(&shape) }
        let groups = Int(studio_conv_tile_groups(&shape))
        let workers = max(1, min(ComputeThreads.current, groups))
        // Every output element belongs to exactly one stored tile lane, so no zero fill is needed.
        return Tensor(n: input.n, c: K, h: oh, w: ow) { op in
            for s in 0..<input.n {
                input.data.withUnsafeBufferPointer { ip in
                    padded.withUnsafeMutableBufferPointer { studio_conv_pad_input(&shape, ip.baseAddress! + s * input.c * input.h * input.w, $0.baseAddress!) }
                }
                runGroups(shape, padded, packed, wts.bias, epilogue, groups: groups, workers: workers,
                          out: op.baseAddress! + s * K * oh * ow)
            }
        }
    }

    /// Runs all tile groups of one sample, in `workers` contiguous ranges.
    private static func runGroups(_ shape: studio_conv_shape, _ padded: [Float], _ packed: PackedFilters, _ bias: [Float]?,
                                  _ epilogue: ConvEpilogue, groups: Int, workers: Int, out: UnsafeMutablePointer<Float>) {
        padded.withUnsafeBufferPointer { pp in
        packed.values.withUnsafeBufferPointer { ap in
        withOptionalPointer(bias) { bp in
        withOptionalPointer(epilogue.scale) { sp in
        withOptionalPointer(epilogue.shift) { hp in
            nonisolated(unsafe) let e = studio_conv_epilogue(bias: bp, scale: sp, shift: hp, relu: epilogue.relu ? 1 : 0)
            nonisolated(unsafe) let (pin, pa, pout) = (pp.baseAddress!, ap.baseAddress!, out)
            let run: @Sendable (Int) -> Void = { w in
                var sh = shape
                let g0 = groups * w / workers, g1 = groups * (w + 1) / workers
                let rc = studio_conv2d_packed(&sh, pin, pa, e, Int32(g0), Int32(g1), pout)
                precondition(rc == 0, "conv2dPacked: the vector kernel refused (CPU support was checked at load)")
            }
            if workers == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: run) }
        }}}}}
    }

    private static func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
