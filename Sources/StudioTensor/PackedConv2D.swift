import CStudioKernels
import Dispatch

/// Filters `[K, C, kh, kw]` in the vector convolution kernel's layout: blocks of 16 output channels,
/// `values[block][t][lane] = W[block·16 + lane][t]` with `t = (c·kh + i)·kw + j`, zeros past `K`.
public struct PackedFilters: Sendable {
    /// The packed values, `studio_conv_packed_count(outChannels, kdim)` floats, 64-byte aligned: the
    /// kernel loads them 8 at a time, and a load across a cache-line boundary costs twice (at the
    /// 16-byte alignment the heap gives, half of them cross one: a face descriptor took 9.0 ms instead
    /// of 7.2).
    let storage: AlignedFloats
    public let outChannels: Int
    public let kdim: Int

    /// Whether this CPU runs the vector kernel (x86-64 with AVX2 and FMA).
    public static let isAvailable: Bool = studio_conv_fast_available() != 0

    public init(_ filters: Tensor) {
        let k = filters.n, kdim = filters.c * filters.h * filters.w
        let storage = AlignedFloats(count: studio_conv_packed_count(Int32(k), Int32(kdim)))
        filters.data.withUnsafeBufferPointer { studio_conv_pack_filters($0.baseAddress!, Int32(k), Int32(kdim), storage.base) }
        self.storage = storage
        outChannels = k; self.kdim = kdim
    }

    /// A copy of the packed values.
    public var values: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: storage.count)) }
}

/// A fixed block of floats at a 64-byte (cache-line) aligned address, written once by its owner
/// while it builds its value and only read after.
final class AlignedFloats: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
    }
    deinit { base.deallocate() }
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
    /// Work is split over `ComputeThreads.current` threads: a batch of at least that many samples by
    /// whole samples, a single sample by groups of output positions or by channel blocks.
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
        let threads = ComputeThreads.current
        let frozen = shape
        // Every output element belongs to exactly one stored tile lane, so no zero fill is needed.
        return Tensor(n: input.n, c: K, h: oh, w: ow) { op in
            nonisolated(unsafe) let out = op.baseAddress!
            /// Samples `w, w + step, …` with `split`, each padded into this part's own buffer.
            let samples: @Sendable (Int, Int, WorkSplit) -> Void = { w, step, split in
                var sh = frozen
                var padded = [Float](unsafeUninitializedCapacity: studio_conv_padded_count(&sh)) { _, n in n = studio_conv_padded_count(&sh) }
                for s in stride(from: w, to: input.n, by: step) {
                    input.data.withUnsafeBufferPointer { ip in
                        padded.withUnsafeMutableBufferPointer { studio_conv_pad_input(&sh, ip.baseAddress! + s * input.c * input.h * input.w, $0.baseAddress!) }
                    }
                    run(sh, padded, packed, wts.bias, epilogue, split, out: out + s * K * oh * ow)
                }
            }
            let groups = Int(studio_conv_tile_groups(&shape)), blocks = Int(studio_conv_channel_blocks(&shape))
            if threads > 1 && input.n >= threads {
                // A batch: whole samples per thread, no split inside one.
                let serial = WorkSplit(groups: groups, blocks: blocks, threads: 1)
                ParallelLoop.run(threads) { w in samples(w, threads, serial) }
            } else {
                samples(0, 1, WorkSplit(groups: groups, blocks: blocks, threads: threads))
            }
        }
    }

    /// How one sample's work is cut among threads: by position groups when there are enough of them,
    /// else by channel blocks (the last levels of a ResNet have a single group of positions).
    struct WorkSplit {
        let groups: Int, blocks: Int, workers: Int, byGroups: Bool
        init(groups: Int, blocks: Int, threads: Int) {
            self.groups = groups; self.blocks = blocks
            byGroups = groups >= threads || groups >= blocks
            workers = max(1, min(threads, byGroups ? groups : blocks))
        }
        /// Worker `w`'s groups and blocks.
        func ranges(_ w: Int) -> (Range<Int>, Range<Int>) {
            let n = byGroups ? groups : blocks
            let part = (n * w / workers)..<(n * (w + 1) / workers)
            return byGroups ? (part, 0..<blocks) : (0..<groups, part)
        }
    }

    /// Runs all work of one sample, `split.workers` parts at once.
    private static func run(_ shape: studio_conv_shape, _ padded: [Float], _ packed: PackedFilters, _ bias: [Float]?,
                            _ epilogue: ConvEpilogue, _ split: WorkSplit, out: UnsafeMutablePointer<Float>) {
        padded.withUnsafeBufferPointer { pp in
        withExtendedLifetime(packed.storage) {
        withOptionalPointer(bias) { bp in
        withOptionalPointer(epilogue.scale) { sp in
        withOptionalPointer(epilogue.shift) { hp in
            nonisolated(unsafe) let e = studio_conv_epilogue(bias: bp, scale: sp, shift: hp, relu: epilogue.relu ? 1 : 0)
            nonisolated(unsafe) let (pin, pa, pout) = (pp.baseAddress!, UnsafePointer(packed.storage.base), out)
            let part: @Sendable (Int) -> Void = { w in
                var sh = shape
                let (g, b) = split.ranges(w)
                let rc = studio_conv2d_packed(&sh, pin, pa, e, Int32(g.lowerBound), Int32(g.upperBound),
                                              Int32(b.lowerBound), Int32(b.upperBound), pout)
                precondition(rc == 0, "conv2dPacked: the vector kernel failed (CPU support was checked at load; out of memory?)")
            }
            ParallelLoop.run(split.workers, part)
        }}}}}
    }

    private static func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
