import StudioTensor

/// One layer of a dlib network architecture, listed input-side first.
///
/// dlib's file format stores parameters but not the network's type (the C++ template is the
/// type), so a reader must know the architecture it expects and checks the file against it.
public enum LayerSpec: Sendable, Equatable {
    case con(filters: Int, kernel: Int, stride: Int)
    case affine
    case relu
    case maxPool(kernel: Int, stride: Int)
    case avgPool(kernel: Int, stride: Int)
    case avgPoolEverything
    case fcNoBias(outputs: Int)
    case tag(Int)
    case skip(Int)
    case addPrev(tag: Int)

    var isTagOrSkip: Bool {
        switch self { case .tag, .skip: return true; default: return false }
    }
}

/// The expected input layer of a dlib network.
public enum InputSpec: Sendable, Equatable {
    /// `input_rgb_image_sized<N>`: an N x N RGB image.
    case rgbSized(Int)
    /// `input_rgb_image_pyramid<pyramid_down<6>>`: a tiled image pyramid.
    case rgbPyramid
}

/// The expected loss layer.
public enum LossSpec: Sendable, Equatable { case metric, mmod }

/// What a network of a given architecture looks like on disk.
public struct NetworkArchitecture: Sendable {
    public let name: String
    public let input: InputSpec
    public let layers: [LayerSpec]
    public let loss: LossSpec
}

/// A layer with its weights, ready to run.
enum LoadedLayer: Sendable {
    case conv(ConvWeights)
    case affine(gamma: [Float], beta: [Float])
    case relu
    case maxPool(Window2D)
    case avgPool(Window2D)
    case globalAvgPool
    case fc(weights: [Float], outputs: Int)
    case tag(Int)
    case skip(Int)
    case addPrev(Int)
}

/// The input layer's stored settings: per-channel means subtracted before scaling by 1/256.
public struct RGBInputSettings: Sendable, Equatable {
    public var avgRed: Float, avgGreen: Float, avgBlue: Float
    /// Pyramid inputs: padding between tiles and around the tiled image.
    public var pyramidPadding: Int, pyramidOuterPadding: Int
}

/// Options stored with an MMOD loss layer.
public struct MMODOptions: Sendable, Equatable {
    public struct Window: Sendable, Equatable { public var width: Int; public var height: Int; public var label: String }
    public var detectorWindows: [Window]
    public var lossPerFalseAlarm: Double
    public var lossPerMissedTarget: Double
    public var truthMatchIoU: Double
    public var nmsIoU: Double, nmsPercentCovered: Double
    public var ignoreIoU: Double, ignorePercentCovered: Double
    public var assumeImagePyramid: Bool
    public var useBoundingBoxRegression: Bool
}

/// A dlib DNN read from its serialized form, runnable on `Tensor`s.
public struct DlibNetwork: Sendable {
    public let architecture: NetworkArchitecture
    public let input: RGBInputSettings
    let layers: [LoadedLayer]
    public let mmod: MMODOptions?
    /// `loss_metric_2`'s margin and distance threshold (informational).
    public let metricMargin: Float?, metricDistanceThreshold: Float?

    /// Number of parameters (weights, biases, scales) in the network.
    public var parameterCount: Int {
        layers.reduce(0) { n, l in
            switch l {
            case .conv(let w): return n + w.filters.count + (w.bias?.count ?? 0)
            case .affine(let g, let b): return n + g.count + b.count
            case .fc(let w, _): return n + w.count
            default: return n
            }
        }
    }

    /// Runs every layer on an input tensor already normalised by the input layer.
    ///
    /// - Parameter observe: called with (layer index, output) after each layer; for debugging parity.
    public func forward(_ x: Tensor, observe: ((Int, Tensor) -> Void)? = nil) -> Tensor {
        var cur = x
        var tags: [Int: Tensor] = [:]
        var fusedThrough = -1
        for (i, layer) in layers.enumerated() {
            if i <= fusedThrough { observe?(i, cur); continue }
            switch layer {
            case .conv(let w):
                // conv, then affine and relu when they follow: one pass (not when observing each layer).
                let (epilogue, last) = observe == nil ? epilogueAfter(i) : (.none, i)
                cur = Kernels.conv2d(cur, w, epilogue: epilogue)
                fusedThrough = last
            case .affine(let g, let b):
                // affine followed by relu: one pass (skipped when observing every layer's output).
                if observe == nil, i + 1 < layers.count, case .relu = layers[i + 1] {
                    Kernels.affineReluInPlace(&cur, gamma: g, beta: b)
                    fusedThrough = i + 1
                } else {
                    Kernels.affineInPlace(&cur, gamma: g, beta: b)
                }
            case .relu: Kernels.reluInPlace(&cur)
            case .maxPool(let win): cur = Kernels.maxPool(cur, win)
            case .avgPool(let win): cur = Kernels.avgPool(cur, win)
            case .globalAvgPool: cur = Kernels.globalAvgPool(cur)
            case .fc(let w, let o): cur = Kernels.fullyConnected(cur, weights: w, outputs: o)
            case .tag(let id): tags[id] = cur
            case .skip(let id): cur = tags[id]!
            case .addPrev(let id):
                let other = tags.removeValue(forKey: id)!
                if other.shape == cur.shape { Kernels.addInPlace(&cur, other) } else { cur = Kernels.addZeroPadded(cur, other) }
            }
            observe?(i, cur)
        }
        return cur
    }

    /// The affine and relu layers directly after layer `conv`, as a convolution epilogue, and the index
    /// of the last layer it covers.
    private func epilogueAfter(_ conv: Int) -> (ConvEpilogue, Int) {
        var epilogue = ConvEpilogue.none, last = conv
        if last + 1 < layers.count, case .affine(let g, let b) = layers[last + 1] {
            epilogue = ConvEpilogue(scale: g, shift: b); last += 1
        }
        if last + 1 < layers.count, case .relu = layers[last + 1] {
            epilogue.relu = true; last += 1
        }
        return (epilogue, last)
    }
}

// MARK: - Reading

extension DlibNetwork {
    /// Reads a network of the given architecture from dlib's serialization format.
    ///
    /// Accepts the layer versions dlib 19.x writes (`con_4/5`, `affine_/affine_2`, `bn_con2` converted
    /// to affine as dlib does, `fc_2/3`, `relu_`, `max_pool_2`, `avg_pool_2`, `add_prev_`,
    /// `input_rgb_image_sized`, `input_rgb_image_pyramid[2]`, `loss_metric_[2]`, `loss_mmod_`).
    /// Anything else, a layer out of place, inconsistent shapes, or trailing bytes → `ModelFormatError`.
    public init(bytes: [UInt8], file: String, architecture arch: NetworkArchitecture) throws {
        var s = DlibStream(bytes: bytes, file: file)
        self.architecture = arch
        _ = try s.expectInt([1], "add_loss_layer version")
        var mmod: MMODOptions? = nil
        var margin: Float? = nil, distThresh: Float? = nil
        switch arch.loss {
        case .metric:
            let v = try s.version(["loss_metric_", "loss_metric_2"], "loss_metric layer")
            if v == "loss_metric_2" { margin = try s.float("margin"); distThresh = try s.float("dist_thresh") }
        case .mmod:
            try s.version(["loss_mmod_"], "loss_mmod layer")
            mmod = try Self.readMMODOptions(&s)
        }
        self.mmod = mmod; self.metricMargin = margin; self.metricDistanceThreshold = distThresh

        // Wrappers are written outermost (output side) first; record each add_layer's version.
        var wrapperVersion = [Int64](repeating: 0, count: arch.layers.count)
        for (i, spec) in arch.layers.enumerated().reversed() {
            if spec.isTagOrSkip {
                wrapperVersion[i] = try s.expectInt([1], "tag/skip layer version (layer \(i))")
            } else if i == 0 {
                wrapperVersion[i] = try s.expectInt([2, 3], "input add_layer version")
            } else {
                wrapperVersion[i] = try s.expectInt([1, 2], "add_layer version (layer \(i))")
            }
        }
        guard !arch.layers.isEmpty, !arch.layers[0].isTagOrSkip else { throw s.fail("architecture must start with a computational layer") }

        // Input layer details.
        var input = RGBInputSettings(avgRed: 0, avgGreen: 0, avgBlue: 0, pyramidPadding: 0, pyramidOuterPadding: 0)
        switch arch.input {
        case .rgbSized(let size):
            try s.version(["input_rgb_image_sized"], "input_rgb_image_sized layer")
            input.avgRed = try s.float("avg_red"); input.avgGreen = try s.float("avg_green"); input.avgBlue = try s.float("avg_blue")
            let nr = try s.count("input rows"), nc = try s.count("input columns")
            guard nr == size && nc == size else { throw s.fail("input is \(nr)x\(nc), expected \(size)x\(size)") }
        case .rgbPyramid:
            let v = try s.version(["input_rgb_image_pyramid", "input_rgb_image_pyramid2"], "input_rgb_image_pyramid layer")
            input.avgRed = try s.float("avg_red"); input.avgGreen = try s.float("avg_green"); input.avgBlue = try s.float("avg_blue")
            if v == "input_rgb_image_pyramid2" {
                input.pyramidPadding = try s.count("pyramid_padding", limit: 10_000)
                input.pyramidOuterPadding = try s.count("pyramid_outer_padding", limit: 10_000)
            } else {
                input.pyramidPadding = 10; input.pyramidOuterPadding = 11
            }
        }
        self.input = input

        // Layer details, input side first, tracking the channel count to validate shapes.
        var channels = 3
        var tagChannels: [Int: Int] = [:]
        var loaded: [LoadedLayer] = []
        for (i, spec) in arch.layers.enumerated() {
            let where_ = "layer \(i) (\(spec))"
            switch spec {
            case .tag(let id): tagChannels[id] = channels; loaded.append(.tag(id)); continue
            case .skip(let id):
                guard let c = tagChannels[id] else { throw s.fail("\(where_): skip to missing tag") }
                channels = c; loaded.append(.skip(id)); continue
            default: break
            }
            switch spec {
            case .con(let nf, let k, let stride):
                let v = try s.version(["con_4", "con_5"], where_)
                let params = try s.tensor("con params")
                let numFilters = try s.count("num_filters")
                let nr = try s.count("nr"), nc = try s.count("nc")
                let sy = try s.count("stride_y"), sx = try s.count("stride_x")
                let py = try s.count("padding_y"), px = try s.count("padding_x")
                let fdims = try s.aliasTensor("filters"), bdims = try s.aliasTensor("biases")
                for what in ["lr mult", "wd mult", "bias lr mult", "bias wd mult"] { _ = try s.double(what) }
                var useBias = true
                if v == "con_5" { useBias = try s.bool("use_bias") }
                let win = Window2D.dlib(kh: k, kw: k, strideY: stride, strideX: stride)
                guard numFilters == nf, nr == k, nc == k, sy == stride, sx == stride, py == win.padY, px == win.padX else {
                    throw s.fail("\(where_): file has con<\(numFilters),\(nr),\(nc),\(sy),\(sx)> padding \(py),\(px)")
                }
                guard fdims == [nf, channels, k, k] else { throw s.fail("\(where_): filters \(fdims), expected \([nf, channels, k, k])") }
                let fcount = nf * channels * k * k
                let hasBias = useBias && bdims.reduce(1, *) == nf
                guard params.values.count == fcount + (hasBias ? nf : 0) || params.values.count == fcount + nf else {
                    throw s.fail("\(where_): \(params.values.count) parameters for \(fcount) weights and \(nf) biases")
                }
                let filters = Tensor(n: nf, c: channels, h: k, w: k, data: Array(params.values[0..<fcount]))
                let bias = hasBias ? Array(params.values[fcount..<(fcount + nf)]) : nil
                loaded.append(.conv(ConvWeights(filters: filters, bias: bias, window: win)))
                channels = nf
            case .affine:
                let v = try s.version(["affine_", "affine_2", "bn_con2"], where_)
                if v == "bn_con2" {
                    loaded.append(try Self.readBatchNormAsAffine(&s, channels: channels, where_: where_))
                } else {
                    let params = try s.tensor("affine params")
                    let g = try s.aliasTensor("gamma"), b = try s.aliasTensor("beta")
                    let mode = try s.int("affine mode")
                    if v == "affine_2" { _ = try s.bool("disabled") }
                    guard mode == 0 else { throw s.fail("\(where_): affine in FC mode, expected CONV mode") }
                    guard g.reduce(1, *) == channels, b.reduce(1, *) == channels, params.values.count == 2 * channels else {
                        throw s.fail("\(where_): affine of \(params.values.count) parameters for \(channels) channels")
                    }
                    loaded.append(.affine(gamma: Array(params.values[0..<channels]), beta: Array(params.values[channels...])))
                }
            case .relu:
                try s.version(["relu_", "relu_2"], where_)
                loaded.append(.relu)
            case .maxPool(let k, let stride), .avgPool(let k, let stride):
                let isMax: Bool = { if case .maxPool = spec { return true } else { return false } }()
                try s.version([isMax ? "max_pool_2" : "avg_pool_2"], where_)
                let nr = try s.count("nr"), nc = try s.count("nc")
                let sy = try s.count("stride_y"), sx = try s.count("stride_x")
                let py = try s.count("padding_y"), px = try s.count("padding_x")
                let win = Window2D.dlib(kh: k, kw: k, strideY: stride, strideX: stride)
                guard nr == k, nc == k, sy == stride, sx == stride, py == win.padY, px == win.padX else {
                    throw s.fail("\(where_): file has pool \(nr)x\(nc)/\(sy),\(sx) padding \(py),\(px)")
                }
                loaded.append(isMax ? .maxPool(win) : .avgPool(win))
            case .avgPoolEverything:
                try s.version(["avg_pool_2"], where_)
                let vals = try (0..<6).map { _ in try s.count("pool setting") }
                guard vals == [0, 0, 1, 1, 0, 0] else { throw s.fail("\(where_): not avg_pool_everything: \(vals)") }
                loaded.append(.globalAvgPool)
            case .fcNoBias(let outputs):
                let v = try s.version(["fc_2", "fc_3"], where_)
                let numOutputs = try s.count("num_outputs"), numInputs = try s.count("num_inputs")
                let params = try s.tensor("fc params")
                _ = try s.aliasTensor("weights"); _ = try s.aliasTensor("biases")
                let biasMode = try s.int("bias_mode")
                for what in ["lr mult", "wd mult", "bias lr mult", "bias wd mult"] { _ = try s.double(what) }
                if v == "fc_3" { _ = try s.bool("use_bias") }
                guard numOutputs == outputs, numInputs == channels, biasMode == 1,
                      params.values.count == numInputs * numOutputs else {
                    throw s.fail("\(where_): fc \(numInputs)->\(numOutputs) bias mode \(biasMode) with \(params.values.count) parameters")
                }
                loaded.append(.fc(weights: params.values, outputs: outputs))
                channels = outputs
            case .addPrev(let id):
                try s.version(["add_prev_"], where_)
                guard let c = tagChannels[id] else { throw s.fail("\(where_): add_prev of missing tag") }
                channels = max(channels, c)
                loaded.append(.addPrev(id))
            case .tag, .skip:
                break
            }
            // add_layer bookkeeping after the details.
            for what in ["this_layer_setup_called", "gradient_input_is_stale", "get_output_and_gradient_input_disabled"] {
                _ = try s.bool(what)
            }
            _ = try s.tensor("x_grad"); _ = try s.tensor("cached_output")
            if i == 0 {
                _ = try s.tensor("grad_final")
                if wrapperVersion[0] == 3 { _ = try s.count("sample_expansion_factor", limit: Int64(UInt32.max)) }
            } else if wrapperVersion[i] == 2 {
                _ = try s.tensor("params_grad")
            }
        }
        guard s.atEnd else { throw s.fail("\(s.remaining) unexpected bytes after the network") }
        self.layers = loaded
    }

    /// `bn_con2` read and converted to an affine layer exactly as dlib's `affine_(const bn_&)`:
    /// `g = gamma / sqrt(running_var + eps)`, `b = beta - g * running_mean`, in float.
    static func readBatchNormAsAffine(_ s: inout DlibStream, channels: Int, where_: String) throws -> LoadedLayer {
        let params = try s.tensor("bn params")
        _ = try s.aliasTensor("gamma"); _ = try s.aliasTensor("beta")
        _ = try s.tensor("means"); _ = try s.tensor("invstds")
        let rm = try s.tensor("running_means"), rv = try s.tensor("running_variances")
        _ = try s.count("num_updates", limit: Int64.max); _ = try s.count("running_stats_window_size", limit: Int64.max)
        for what in ["lr mult", "wd mult", "bias lr mult", "bias wd mult"] { _ = try s.double(what) }
        let eps = try s.double("eps")
        guard params.values.count == 2 * channels, rm.values.count == channels, rv.values.count == channels else {
            throw s.fail("\(where_): batch norm sizes do not match \(channels) channels")
        }
        let epsF = Float(eps)
        var g = [Float](repeating: 0, count: channels), b = g
        for c in 0..<channels {
            g[c] = params.values[c] / (rv.values[c] + epsF).squareRoot()
            b[c] = params.values[channels + c] - g[c] * rm.values[c]
        }
        return .affine(gamma: g, beta: b)
    }

    static func readMMODOptions(_ s: inout DlibStream) throws -> MMODOptions {
        let version = try s.expectInt([1, 2, 3, 4], "mmod_options version")
        var windows: [MMODOptions.Window] = []
        if version == 1 {
            let w = try s.count("window width"), h = try s.count("window height")
            windows = [.init(width: w, height: h, label: "")]
        } else {
            let n = try s.count("detector window count", limit: 1000)
            for _ in 0..<n {
                let v = try s.expectInt([1, 2], "detector window version")
                let w = try s.count("window width"), h = try s.count("window height")
                let label = v == 2 ? try s.string("label", maxLength: 4096) : ""
                windows.append(.init(width: w, height: h, label: label))
            }
        }
        guard !windows.isEmpty else { throw s.fail("MMOD options have no detector windows") }
        var o = MMODOptions(detectorWindows: windows, lossPerFalseAlarm: 0, lossPerMissedTarget: 0, truthMatchIoU: 0,
                            nmsIoU: 0, nmsPercentCovered: 0, ignoreIoU: 0, ignorePercentCovered: 0,
                            assumeImagePyramid: true, useBoundingBoxRegression: false)
        o.lossPerFalseAlarm = try s.double("loss_per_false_alarm")
        o.lossPerMissedTarget = try s.double("loss_per_missed_target")
        o.truthMatchIoU = try s.double("truth_match_iou_threshold")
        o.nmsIoU = try s.double("overlaps_nms iou"); o.nmsPercentCovered = try s.double("overlaps_nms percent covered")
        o.ignoreIoU = try s.double("overlaps_ignore iou"); o.ignorePercentCovered = try s.double("overlaps_ignore percent covered")
        if version >= 3 { o.assumeImagePyramid = try s.byte() != 0 }
        if version >= 4 { o.useBoundingBoxRegression = try s.bool("use_bounding_box_regression"); _ = try s.double("bbr_lambda") }
        return o
    }
}
