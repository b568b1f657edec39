import StudioTensor

/// A group norm's weights with its group count and epsilon.
struct GroupNormWeights: Sendable {
    let gamma: [Float], beta: [Float], groups: Int, eps: Float
    init(_ w: WeightReader, _ name: String, channels: Int, groups: Int, eps: Float) throws(DiffusionModelError) {
        (gamma, beta) = try w.norm(name, channels)
        self.groups = groups; self.eps = eps
    }
    func apply(_ x: Tensor) -> Tensor { Kernels.groupNorm(x, groups: groups, gamma: gamma, beta: beta, eps: eps) }
}

/// diffusers' `ResnetBlock2D` (time-embedding norm "default"): `x' + conv2(silu(norm2(conv1(silu(norm1(x)))
/// + time_emb_proj(silu(t)))))`, the time term only where the block has `time_emb_proj` (the UNet's, not
/// the VAE's), `x'` through a 1x1 `conv_shortcut` when the channel count changes.
struct ResnetBlock: Sendable {
    let norm1: GroupNormWeights, conv1: ConvWeights, norm2: GroupNormWeights, conv2: ConvWeights, shortcut: ConvWeights?
    let timeProjection: (weight: [Float], bias: [Float])?
    let outChannels: Int

    init(_ w: WeightReader, in inputs: Int, out: Int, groups: Int, eps: Float, timeChannels: Int? = nil) throws(DiffusionModelError) {
        norm1 = try GroupNormWeights(w, "norm1", channels: inputs, groups: groups, eps: eps)
        conv1 = try w.conv("conv1", out: out, in: inputs, kernel: 3)
        norm2 = try GroupNormWeights(w, "norm2", channels: out, groups: groups, eps: eps)
        conv2 = try w.conv("conv2", out: out, in: out, kernel: 3)
        shortcut = inputs == out ? nil : try w.conv("conv_shortcut", out: out, in: inputs, kernel: 1)
        timeProjection = try timeChannels.map { t throws(DiffusionModelError) in try w.linear("time_emb_proj", out: out, in: t) }
        outChannels = out
    }

    /// `time`: the SiLU of the time embedding [1, time channels], for blocks that take one.
    func forward(_ x: Tensor, time: Matrix?) -> Tensor {
        var h = norm1.apply(x)
        Kernels.siluInPlace(&h)
        h = Kernels.conv2d(h, conv1)
        if let p = timeProjection, let time {
            let t = Kernels.linear(time, weight: p.weight, bias: p.bias, outFeatures: outChannels)
            let plane = h.h * h.w
            for c in 0..<outChannels { for i in 0..<plane { h.data[c * plane + i] += t.data[c] } }
        }
        h = norm2.apply(h)
        Kernels.siluInPlace(&h)
        h = Kernels.conv2d(h, conv2)
        Kernels.addInPlace(&h, shortcut.map { Kernels.conv2d(x, $0) } ?? x)
        return h
    }
}
