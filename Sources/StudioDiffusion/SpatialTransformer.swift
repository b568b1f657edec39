import StudioTensor

/// diffusers' `Transformer2DModel` as Stable Diffusion's UNet uses it: group norm, a 1x1 convolution
/// (or, with `use_linear_projection`, a linear layer) into token rows, `BasicTransformerBlock`s, the
/// projection back, plus the input.
struct SpatialTransformer: Sendable {
    let norm: GroupNormWeights
    let projIn: Projection, projOut: Projection
    let blocks: [TransformerBlock]

    /// A 1x1 convolution or a linear layer over channels (the same map on token rows).
    enum Projection: Sendable {
        case conv(ConvWeights)
        case linear(weight: [Float], bias: [Float], out: Int)

        init(_ w: WeightReader, _ name: String, channels: Int, linear: Bool) throws(DiffusionModelError) {
            if linear {
                let l = try w.linear(name, out: channels, in: channels)
                self = .linear(weight: l.weight, bias: l.bias, out: channels)
            } else {
                self = .conv(try w.conv(name, out: channels, in: channels, kernel: 1))
            }
        }

        func apply(_ tokens: Matrix) -> Matrix {
            switch self {
            case .linear(let w, let b, let o): return Kernels.linear(tokens, weight: w, bias: b, outFeatures: o)
            case .conv(let c):
                // A 1x1 convolution with filters [out, in, 1, 1] is nn.Linear with weight [out, in].
                return Kernels.linear(tokens, weight: c.filters.data, bias: c.bias, outFeatures: c.outChannels)
            }
        }
    }

    init(_ w: WeightReader, channels: Int, heads: Int, contextChannels: Int, groups: Int, layers: Int, linearProjection: Bool) throws(DiffusionModelError) {
        norm = try GroupNormWeights(w, "norm", channels: channels, groups: groups, eps: 1e-6)
        projIn = try Projection(w, "proj_in", channels: channels, linear: linearProjection)
        projOut = try Projection(w, "proj_out", channels: channels, linear: linearProjection)
        var blocks: [TransformerBlock] = []
        for i in 0..<layers {
            blocks.append(try TransformerBlock(w.scoped("transformer_blocks.\(i)."), channels: channels, heads: heads, contextChannels: contextChannels))
        }
        self.blocks = blocks
    }

    /// `context`: the text encoder's states [tokens, context channels].
    func forward(_ x: Tensor, context: Matrix) -> Tensor {
        var tokens = projIn.apply(Kernels.tokens(norm.apply(x)))
        for b in blocks { tokens = b.forward(tokens, context: context) }
        var y = Kernels.planes(projOut.apply(tokens), h: x.h, w: x.w)
        Kernels.addInPlace(&y, x)
        return y
    }
}

/// diffusers' `BasicTransformerBlock` (layer norms): self-attention, cross-attention on the text
/// states, and a GEGLU feed-forward, each pre-normed and added to its input.
struct TransformerBlock: Sendable {
    typealias Norm = (gamma: [Float], beta: [Float])
    let norm1: Norm, norm2: Norm, norm3: Norm
    let selfAttention: AttentionWeights, crossAttention: AttentionWeights
    let geglu: (weight: [Float], bias: [Float]), ffOut: (weight: [Float], bias: [Float])
    let channels: Int, inner: Int
    static let eps: Float = 1e-5

    init(_ w: WeightReader, channels c: Int, heads: Int, contextChannels: Int) throws(DiffusionModelError) {
        norm1 = try w.norm("norm1", c); norm2 = try w.norm("norm2", c); norm3 = try w.norm("norm3", c)
        selfAttention = try AttentionWeights(w.scoped("attn1."), channels: c, keyChannels: c, heads: heads)
        crossAttention = try AttentionWeights(w.scoped("attn2."), channels: c, keyChannels: contextChannels, heads: heads)
        inner = 4 * c
        geglu = try w.linear("ff.net.0.proj", out: 2 * inner, in: c)
        ffOut = try w.linear("ff.net.2", out: c, in: inner)
        channels = c
    }

    func forward(_ x: Matrix, context: Matrix) -> Matrix {
        var h = x
        let n1 = Kernels.layerNorm(h, gamma: norm1.gamma, beta: norm1.beta, eps: Self.eps)
        Kernels.addInPlace(&h, selfAttention.forward(n1, keysFrom: n1))
        Kernels.addInPlace(&h, crossAttention.forward(Kernels.layerNorm(h, gamma: norm2.gamma, beta: norm2.beta, eps: Self.eps), keysFrom: context))
        Kernels.addInPlace(&h, feedForward(Kernels.layerNorm(h, gamma: norm3.gamma, beta: norm3.beta, eps: Self.eps)))
        return h
    }

    /// GEGLU: the projection's first half times GELU of its second half, then the output layer.
    private func feedForward(_ x: Matrix) -> Matrix {
        let p = Kernels.linear(x, weight: geglu.weight, bias: geglu.bias, outFeatures: 2 * inner)
        var hidden = p.columns(0, inner)
        var gate = p.columns(inner, inner)
        Kernels.activateInPlace(&gate, .gelu)
        for i in hidden.data.indices { hidden.data[i] *= gate.data[i] }
        return Kernels.linear(hidden, weight: ffOut.weight, bias: ffOut.bias, outFeatures: channels)
    }
}

/// diffusers' `Attention` in a transformer block: `to_q`, `to_k`, `to_v` without bias, `to_out.0` with.
struct AttentionWeights: Sendable {
    let q: [Float], k: [Float], v: [Float], out: (weight: [Float], bias: [Float])
    let channels: Int, heads: Int

    init(_ w: WeightReader, channels c: Int, keyChannels: Int, heads: Int) throws(DiffusionModelError) {
        q = try w.floats("to_q.weight", [c, c])
        k = try w.floats("to_k.weight", [c, keyChannels])
        v = try w.floats("to_v.weight", [c, keyChannels])
        out = try w.linear("to_out.0", out: c, in: c)
        channels = c; self.heads = heads
    }

    func forward(_ x: Matrix, keysFrom source: Matrix) -> Matrix {
        let a = Kernels.attention(Kernels.linear(x, weight: q, bias: nil, outFeatures: channels),
                                  Kernels.linear(source, weight: k, bias: nil, outFeatures: channels),
                                  Kernels.linear(source, weight: v, bias: nil, outFeatures: channels), heads: heads)
        return Kernels.linear(a, weight: out.weight, bias: out.bias, outFeatures: channels)
    }

    /// IP-Adapter's decoupled cross-attention (diffusers' `IPAdapterAttnProcessor2_0`): attention on the
    /// text's keys and values plus `scale` times attention on the image tokens' keys and values (the
    /// adapter's `to_k_ip`, `to_v_ip`), through `to_out.0`. `scale` is the identity strength.
    func forward(_ x: Matrix, text: Matrix, image: Matrix, adapter: IPAdapterProjections, scale: Float) -> Matrix {
        let query = Kernels.linear(x, weight: q, bias: nil, outFeatures: channels)
        var a = Kernels.attention(query, Kernels.linear(text, weight: k, bias: nil, outFeatures: channels),
                                  Kernels.linear(text, weight: v, bias: nil, outFeatures: channels), heads: heads)
        let b = Kernels.attention(query, Kernels.linear(image, weight: adapter.k, bias: nil, outFeatures: channels),
                                  Kernels.linear(image, weight: adapter.v, bias: nil, outFeatures: channels), heads: heads)
        for i in a.data.indices { a.data[i] += scale * b.data[i] }
        return Kernels.linear(a, weight: out.weight, bias: out.bias, outFeatures: channels)
    }
}

/// An IP-Adapter's key and value projections of image tokens for one cross-attention layer
/// (`to_k_ip.0.weight`, `to_v_ip.0.weight`: [channels, image token width], no bias).
struct IPAdapterProjections: Sendable {
    let k: [Float], v: [Float]
    init(_ w: WeightReader, channels: Int, tokenChannels: Int) throws(DiffusionModelError) {
        k = try w.floats("to_k_ip.0.weight", [channels, tokenChannels])
        v = try w.floats("to_v_ip.0.weight", [channels, tokenChannels])
    }
}
