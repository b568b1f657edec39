import Foundation
import StudioTensor

/// The fields of a diffusers `AutoencoderKL` config (`vae/config.json`) the decoder needs.
public struct AutoencoderConfig: Sendable, Equatable, Decodable {
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var latentChannels: Int
    public var outChannels: Int
    public var normGroups: Int
    public var scalingFactor: Float
    public var activation: String?
    public var usePostQuantConv: Bool?
    public var midBlockAttention: Bool?

    enum CodingKeys: String, CodingKey {
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", latentChannels = "latent_channels"
        case outChannels = "out_channels", normGroups = "norm_num_groups", scalingFactor = "scaling_factor"
        case activation = "act_fn", usePostQuantConv = "use_post_quant_conv", midBlockAttention = "mid_block_add_attention"
    }
}

/// The decoder half of Stable Diffusion's VAE (diffusers' `AutoencoderKL.decode`): latents [1, 4, h, w]
/// to an image [1, 3, 8h, 8w] in about -1 ... 1, through `post_quant_conv`, `conv_in`, the mid block
/// (resnet, single-head spatial self-attention, resnet), the up blocks (resnets, nearest 2x upsampling
/// and a convolution), group norm, SiLU and `conv_out`. Latents are taken as the sampler leaves them
/// divided by nothing: the caller divides by `config.scalingFactor` first, as the pipelines do.
public struct VAEDecoder: Sendable {
    public let config: AutoencoderConfig
    let postQuant: ConvWeights?
    let convIn: ConvWeights
    let mid: (first: ResnetBlock, attention: SpatialAttention?, second: ResnetBlock)
    let upBlocks: [(resnets: [ResnetBlock], upsample: ConvWeights?)]
    let normOut: GroupNormWeights
    let convOut: ConvWeights

    static let eps: Float = 1e-6

    public init(folder: String) throws(DiffusionModelError) {
        let config: AutoencoderConfig = try ModelFolder.config(folder, as: "an AutoencoderKL config")
        try self.init(config: config, weights: WeightReader(file: try ModelFolder.weights(folder, "diffusion_pytorch_model.safetensors"), prefix: ""))
    }

    init(config c: AutoencoderConfig, weights w: WeightReader) throws(DiffusionModelError) {
        guard let top = c.blockOutChannels.last, let bottom = c.blockOutChannels.first, c.normGroups > 0,
              c.blockOutChannels.allSatisfy({ $0 > 0 && $0 % c.normGroups == 0 }) else {
            throw .badConfig("config.json", "block_out_channels \(c.blockOutChannels) are not positive multiples of norm_num_groups \(c.normGroups)")
        }
        guard (c.activation ?? "silu") == "silu" else { throw .badConfig("config.json", "unsupported act_fn '\(c.activation!)'") }
        let g = c.normGroups
        let d = w.scoped("decoder.")
        postQuant = (c.usePostQuantConv ?? true) ? try w.conv("post_quant_conv", out: c.latentChannels, in: c.latentChannels, kernel: 1) : nil
        convIn = try d.conv("conv_in", out: top, in: c.latentChannels, kernel: 3)
        mid = (try ResnetBlock(d.scoped("mid_block.resnets.0."), in: top, out: top, groups: g, eps: Self.eps),
               (c.midBlockAttention ?? true) ? try SpatialAttention(d.scoped("mid_block.attentions.0."), channels: top, groups: g) : nil,
               try ResnetBlock(d.scoped("mid_block.resnets.1."), in: top, out: top, groups: g, eps: Self.eps))
        var blocks: [(resnets: [ResnetBlock], upsample: ConvWeights?)] = []
        var channels = top
        for (i, out) in c.blockOutChannels.reversed().enumerated() {
            let b = d.scoped("up_blocks.\(i).")
            var resnets: [ResnetBlock] = []
            for j in 0...c.layersPerBlock {
                resnets.append(try ResnetBlock(b.scoped("resnets.\(j)."), in: j == 0 ? channels : out, out: out, groups: g, eps: Self.eps))
            }
            let last = i == c.blockOutChannels.count - 1
            blocks.append((resnets, last ? nil : try b.conv("upsamplers.0.conv", out: out, in: out, kernel: 3)))
            channels = out
        }
        upBlocks = blocks
        normOut = try GroupNormWeights(d, "conv_norm_out", channels: bottom, groups: g, eps: Self.eps)
        convOut = try d.conv("conv_out", out: c.outChannels, in: bottom, kernel: 3)
        config = c
    }

    /// The image of `latents` ([1, latent channels, h, w]).
    public func decode(_ latents: Tensor) throws(DiffusionModelError) -> Tensor {
        guard latents.n == 1, latents.c == config.latentChannels, latents.h > 0, latents.w > 0 else {
            throw .badInput("latents of shape \(latents.shape); the decoder takes [1, \(config.latentChannels), h, w]")
        }
        var x = postQuant.map { Kernels.conv2d(latents, $0) } ?? latents
        x = Kernels.conv2d(x, convIn)
        x = mid.first.forward(x, time: nil)
        if let a = mid.attention { x = a.forward(x) }
        x = mid.second.forward(x, time: nil)
        for block in upBlocks {
            for r in block.resnets { x = r.forward(x, time: nil) }
            if let up = block.upsample { x = Kernels.conv2d(Kernels.upsampleNearest2x(x), up) }
        }
        x = normOut.apply(x)
        Kernels.siluInPlace(&x)
        return Kernels.conv2d(x, convOut)
    }
}

/// diffusers' `Attention` over the pixels of a feature map with one head (the VAE's mid block): group
/// norm, q/k/v projections of each pixel's channels, softmax(q kᵀ / √C) v, `to_out.0`, plus the input.
struct SpatialAttention: Sendable {
    let norm: GroupNormWeights
    let q: (weight: [Float], bias: [Float]), k: (weight: [Float], bias: [Float]), v: (weight: [Float], bias: [Float])
    let out: (weight: [Float], bias: [Float])
    let channels: Int

    init(_ w: WeightReader, channels c: Int, groups: Int) throws(DiffusionModelError) {
        norm = try GroupNormWeights(w, "group_norm", channels: c, groups: groups, eps: VAEDecoder.eps)
        q = try w.linear("to_q", out: c, in: c); k = try w.linear("to_k", out: c, in: c); v = try w.linear("to_v", out: c, in: c)
        out = try w.linear("to_out.0", out: c, in: c)
        channels = c
    }

    func forward(_ x: Tensor) -> Tensor {
        let tokens = Kernels.tokens(norm.apply(x))
        func project(_ l: (weight: [Float], bias: [Float]), _ m: Matrix) -> Matrix { Kernels.linear(m, weight: l.weight, bias: l.bias, outFeatures: channels) }
        let attended = project(out, Kernels.attention(project(q, tokens), project(k, tokens), project(v, tokens), heads: 1))
        var y = x
        Kernels.addInPlace(&y, Kernels.planes(attended, h: x.h, w: x.w))
        return y
    }
}
