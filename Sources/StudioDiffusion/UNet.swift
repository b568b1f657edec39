import Foundation
import StudioTensor

/// Stable Diffusion's denoiser, diffusers' `UNet2DConditionModel` (SD 1.x and 2.x layouts), from a
/// diffusers `unet/` folder: predicts the noise in latents [1, C, h, w] at a timestep, conditioned on
/// the text encoder's states [tokens, cross_attention_dim]. Down blocks (resnets with the time
/// embedding, spatial transformers in the cross-attention ones, a stride-2 convolution), the mid block,
/// up blocks taking the down path's states as skip connections, group norm, SiLU and `conv_out`.
public struct UNet: Sendable {
    public let config: UNetConfig
    let timeLinear1: (weight: [Float], bias: [Float]), timeLinear2: (weight: [Float], bias: [Float])
    let timeChannels: Int
    let convIn: ConvWeights
    let down: [Block]
    let mid: (first: ResnetBlock, transformer: SpatialTransformer, second: ResnetBlock)
    let up: [Block]
    let normOut: GroupNormWeights
    let convOut: ConvWeights

    /// A down or up block: resnets, each optionally followed by a transformer, then a resampling convolution.
    struct Block: Sendable {
        let resnets: [ResnetBlock]
        let transformers: [SpatialTransformer]
        let resample: ConvWeights?
    }

    public init(folder: String) throws(DiffusionModelError) {
        let config: UNetConfig = try ModelFolder.config(folder, as: "a UNet2DConditionModel config")
        if let why = config.unsupported { throw .badConfig(folder + "/config.json", "unsupported UNet layout: \(why)") }
        try self.init(config: config, weights: WeightReader(file: try ModelFolder.weights(folder, "diffusion_pytorch_model.safetensors"), prefix: ""))
    }

    init(config c: UNetConfig, weights w: WeightReader) throws(DiffusionModelError) {
        let ch = c.blockOutChannels, g = c.normGroups, eps = c.normEps
        let t = ch[0] * 4
        timeChannels = t
        timeLinear1 = try w.linear("time_embedding.linear_1", out: t, in: ch[0])
        timeLinear2 = try w.linear("time_embedding.linear_2", out: t, in: t)
        convIn = try w.conv("conv_in", out: ch[0], in: c.inChannels, kernel: 3)
        func transformer(_ r: WeightReader, _ channels: Int, _ heads: Int) throws(DiffusionModelError) -> SpatialTransformer {
            try SpatialTransformer(r, channels: channels, heads: heads, contextChannels: c.crossAttentionDim, groups: g,
                                   layers: c.transformerLayers, linearProjection: c.linearProjection)
        }
        var down: [Block] = []
        var output = ch[0]
        for (i, type) in c.downBlockTypes.enumerated() {
            let input = output
            output = ch[i]
            let r = w.scoped("down_blocks.\(i).")
            var resnets: [ResnetBlock] = [], transformers: [SpatialTransformer] = []
            for j in 0..<c.layersPerBlock {
                resnets.append(try ResnetBlock(r.scoped("resnets.\(j)."), in: j == 0 ? input : output, out: output, groups: g, eps: eps, timeChannels: t))
                if type == "CrossAttnDownBlock2D" { transformers.append(try transformer(r.scoped("attentions.\(j)."), output, c.heads[i])) }
            }
            let last = i == ch.count - 1
            let resample: ConvWeights? = last ? nil : try Self.stride2(r.conv("downsamplers.0.conv", out: output, in: output, kernel: 3))
            down.append(Block(resnets: resnets, transformers: transformers, resample: resample))
        }
        self.down = down
        let top = ch[ch.count - 1]
        mid = (try ResnetBlock(w.scoped("mid_block.resnets.0."), in: top, out: top, groups: g, eps: eps, timeChannels: t),
               try transformer(w.scoped("mid_block.attentions.0."), top, c.heads[c.heads.count - 1]),
               try ResnetBlock(w.scoped("mid_block.resnets.1."), in: top, out: top, groups: g, eps: eps, timeChannels: t))
        var up: [Block] = []
        let reversed = Array(ch.reversed()), reversedHeads = Array(c.heads.reversed())
        output = reversed[0]
        for (i, type) in c.upBlockTypes.enumerated() {
            let previous = output
            output = reversed[i]
            let input = reversed[min(i + 1, ch.count - 1)]
            let r = w.scoped("up_blocks.\(i).")
            var resnets: [ResnetBlock] = [], transformers: [SpatialTransformer] = []
            let layers = c.layersPerBlock + 1
            for j in 0..<layers {
                let skip = j == layers - 1 ? input : output
                resnets.append(try ResnetBlock(r.scoped("resnets.\(j)."), in: (j == 0 ? previous : output) + skip, out: output,
                                               groups: g, eps: eps, timeChannels: t))
                if type == "CrossAttnUpBlock2D" { transformers.append(try transformer(r.scoped("attentions.\(j)."), output, reversedHeads[i])) }
            }
            let last = i == ch.count - 1
            up.append(Block(resnets: resnets, transformers: transformers,
                            resample: last ? nil : try r.conv("upsamplers.0.conv", out: output, in: output, kernel: 3)))
        }
        self.up = up
        normOut = try GroupNormWeights(w, "conv_norm_out", channels: ch[0], groups: g, eps: eps)
        convOut = try w.conv("conv_out", out: c.outChannels, in: ch[0], kernel: 3)
        config = c
    }

    private static func stride2(_ w: ConvWeights) -> ConvWeights {
        ConvWeights(filters: w.filters, bias: w.bias, window: Window2D(kh: 3, kw: 3, strideY: 2, strideX: 2, padY: 1, padX: 1))
    }

    /// The predicted noise for `latents` ([1, in_channels, h, w], h and w divisible by 2^(blocks-1))
    /// at `timestep`, given `context` [tokens, cross_attention_dim].
    public func predictNoise(_ latents: Tensor, timestep: Float, context: Matrix) throws(DiffusionModelError) -> Tensor {
        let scale = 1 << (config.blockOutChannels.count - 1)
        guard latents.n == 1, latents.c == config.inChannels, latents.h > 0, latents.w > 0,
              latents.h % scale == 0, latents.w % scale == 0 else {
            throw .badInput("latents of shape \(latents.shape); the UNet takes [1, \(config.inChannels), h, w] with h and w divisible by \(scale)")
        }
        guard context.cols == config.crossAttentionDim, context.rows > 0 else {
            throw .badInput("text states with \(context.cols) channels; the UNet's cross-attention takes \(config.crossAttentionDim)")
        }
        var time = timeEmbedding(timestep)
        Kernels.activateInPlace(&time, .silu)
        var x = Kernels.conv2d(latents, convIn)
        var skips = [x]
        for block in down {
            for (j, r) in block.resnets.enumerated() {
                x = r.forward(x, time: time)
                if j < block.transformers.count { x = block.transformers[j].forward(x, context: context) }
                skips.append(x)
            }
            if let d = block.resample { x = Kernels.conv2d(x, d); skips.append(x) }
        }
        x = mid.second.forward(mid.transformer.forward(mid.first.forward(x, time: time), context: context), time: time)
        for block in up {
            for (j, r) in block.resnets.enumerated() {
                x = r.forward(Kernels.concatChannels(x, skips.removeLast()), time: time)
                if j < block.transformers.count { x = block.transformers[j].forward(x, context: context) }
            }
            if let u = block.resample { x = Kernels.conv2d(Kernels.upsampleNearest2x(x), u) }
        }
        x = normOut.apply(x)
        Kernels.siluInPlace(&x)
        return Kernels.conv2d(x, convOut)
    }

    /// diffusers' sinusoidal `Timesteps` (in float32 as it computes them) through `time_embedding`: [1, 4·C0].
    func timeEmbedding(_ timestep: Float) -> Matrix {
        let dim = config.blockOutChannels[0], half = dim / 2
        var sinusoid = [Float](repeating: 0, count: dim)
        let logPeriod = Float(-log(10000.0))
        for i in 0..<half {
            let exponent = logPeriod * Float(i) / (Float(half) - config.freqShift)
            let angle = timestep * expf(exponent)
            let (s, c) = (sinf(angle), cosf(angle))
            if config.flipSinToCos { sinusoid[i] = c; sinusoid[half + i] = s } else { sinusoid[i] = s; sinusoid[half + i] = c }
        }
        var h = Kernels.linear(Matrix(rows: 1, cols: dim, data: sinusoid), weight: timeLinear1.weight, bias: timeLinear1.bias, outFeatures: timeChannels)
        Kernels.activateInPlace(&h, .silu)
        return Kernels.linear(h, weight: timeLinear2.weight, bias: timeLinear2.bias, outFeatures: timeChannels)
    }
}
