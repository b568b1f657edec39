import Foundation
import StudioTensor

/// The fields of a transformers `CLIPTextConfig` (`text_encoder/config.json`) the encoder needs.
public struct CLIPTextConfig: Sendable, Equatable, Decodable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var maxPositions: Int
    public var activation: String
    public var layerNormEps: Float
    public var eosTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case layers = "num_hidden_layers", heads = "num_attention_heads", maxPositions = "max_position_embeddings"
        case activation = "hidden_act", layerNormEps = "layer_norm_eps", eosTokenId = "eos_token_id"
    }
}

/// Stable Diffusion's text encoder: transformers' `CLIPTextModel` (token + position embeddings, pre-norm
/// transformer layers with causal self-attention, a final layer norm), from a diffusers `text_encoder/`
/// folder (`config.json`, `model.safetensors`) with every weight's shape checked at load.
public struct CLIPTextEncoder: Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: Matrix      // [vocab, hidden]
    let positionEmbedding: Matrix   // [positions, hidden]
    let layers: [Layer]
    let finalNorm: Norm
    let activation: Kernels.Activation

    struct Norm: Sendable { let gamma: [Float], beta: [Float] }
    struct Linear: Sendable { let weight: [Float], bias: [Float], outFeatures: Int }
    struct Layer: Sendable { let norm1: Norm, q: Linear, k: Linear, v: Linear, out: Linear, norm2: Norm, fc1: Linear, fc2: Linear }

    /// What one pass gives: per-token states [tokens, hidden] and the pooled state of the end token.
    public struct Output: Sendable {
        /// The final layer norm of the last layer's output (`last_hidden_state`).
        public let hidden: Matrix
        /// The final layer norm of the output `skip` layers before the last (diffusers' `clip_skip`).
        public let skipped: Matrix?
        /// `hidden`'s row at the first end token (`pooler_output`).
        public let pooled: [Float]
    }

    public init(folder: String) throws(DiffusionModelError) {
        try self.init(config: try ModelFolder.config(folder, as: "a CLIP text config"), weights: try ModelFolder.weights(folder, "model.safetensors"))
    }

    public init(config c: CLIPTextConfig, weights w: SafeTensors, prefix: String = "text_model.") throws(DiffusionModelError) {
        guard let act = Kernels.Activation(rawValue: c.activation) else { throw .badConfig("config.json", "unsupported hidden_act '\(c.activation)'") }
        guard c.hiddenSize > 0, c.heads > 0, c.hiddenSize % c.heads == 0, c.layers >= 1 else {
            throw .badConfig("config.json", "hidden_size \(c.hiddenSize) is not a positive multiple of num_attention_heads \(c.heads)")
        }
        let h = c.hiddenSize
        let r = WeightReader(file: w, prefix: prefix)
        func norm(_ name: String) throws(DiffusionModelError) -> Norm { let n = try r.norm(name, h); return Norm(gamma: n.gamma, beta: n.beta) }
        func linear(_ name: String, _ o: Int, _ i: Int) throws(DiffusionModelError) -> Linear {
            let l = try r.linear(name, out: o, in: i)
            return Linear(weight: l.weight, bias: l.bias, outFeatures: o)
        }
        tokenEmbedding = Matrix(rows: c.vocabSize, cols: h, data: try r.floats("embeddings.token_embedding.weight", [c.vocabSize, h]))
        positionEmbedding = Matrix(rows: c.maxPositions, cols: h, data: try r.floats("embeddings.position_embedding.weight", [c.maxPositions, h]))
        var layers: [Layer] = []
        for i in 0..<c.layers {
            let p = "encoder.layers.\(i)."
            layers.append(Layer(norm1: try norm(p + "layer_norm1"), q: try linear(p + "self_attn.q_proj", h, h), k: try linear(p + "self_attn.k_proj", h, h),
                                v: try linear(p + "self_attn.v_proj", h, h), out: try linear(p + "self_attn.out_proj", h, h),
                                norm2: try norm(p + "layer_norm2"), fc1: try linear(p + "mlp.fc1", c.intermediateSize, h),
                                fc2: try linear(p + "mlp.fc2", h, c.intermediateSize)))
        }
        self.layers = layers
        finalNorm = try norm("final_layer_norm")
        config = c
        activation = act
    }

    /// Encodes token ids (at most `maxPositions` of them, each below `vocabSize`); `skip` layers from
    /// the end for `skipped` (0: none).
    public func encode(_ ids: [Int], skip: Int = 0) throws(DiffusionModelError) -> Output {
        guard !ids.isEmpty, ids.count <= config.maxPositions else { throw .badInput("\(ids.count) tokens; the encoder takes 1 to \(config.maxPositions)") }
        if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw .badInput("token id \(bad) is outside the vocabulary of \(config.vocabSize)")
        }
        guard skip >= 0 && skip < layers.count else { throw .badInput("clip skip \(skip): the encoder has \(layers.count) layers") }
        return run(ids, skip: skip)
    }

    private func run(_ ids: [Int], skip: Int) -> Output {
        let h = config.hiddenSize
        var x = Matrix(rows: ids.count, cols: h)
        for (r, id) in ids.enumerated() {
            for c in 0..<h { x.data[r * h + c] = tokenEmbedding.data[id * h + c] + positionEmbedding.data[r * h + c] }
        }
        var skipped: Matrix? = nil
        for (i, layer) in layers.enumerated() {
            if skip > 0 && i == layers.count - skip { skipped = normed(x, finalNorm) }
            x = forward(layer, x)
        }
        let hidden = normed(x, finalNorm)
        let eos = config.eosTokenId.flatMap { e in ids.firstIndex(of: e) } ?? ids.indices.max(by: { ids[$0] < ids[$1] })!
        return Output(hidden: hidden, skipped: skipped, pooled: hidden.row(eos))
    }

    private func normed(_ x: Matrix, _ n: Norm) -> Matrix { Kernels.layerNorm(x, gamma: n.gamma, beta: n.beta, eps: config.layerNormEps) }

    private func apply(_ l: Linear, _ x: Matrix) -> Matrix { Kernels.linear(x, weight: l.weight, bias: l.bias, outFeatures: l.outFeatures) }

    /// One pre-norm layer: `x + attention(norm1(x))`, then `+ mlp(norm2(·))`.
    private func forward(_ layer: Layer, _ x: Matrix) -> Matrix {
        var y = x
        Kernels.addInPlace(&y, apply(layer.out, attention(layer, normed(x, layer.norm1))))
        var m = apply(layer.fc1, normed(y, layer.norm2))
        Kernels.activateInPlace(&m, activation)
        Kernels.addInPlace(&y, apply(layer.fc2, m))
        return y
    }

    /// Causal multi-head self-attention (each token sees itself and those before it).
    private func attention(_ layer: Layer, _ x: Matrix) -> Matrix {
        Kernels.attention(apply(layer.q, x), apply(layer.k, x), apply(layer.v, x), heads: config.heads, causal: true)
    }
}

/// Why a diffusion model (or one of its parts) could not be loaded or run.
public enum DiffusionModelError: Error, CustomStringConvertible {
    case missingFile(String)
    case badConfig(String, String)
    case weights(SafeTensorsError)
    case badInput(String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): the model file is missing"
        case .badConfig(let p, let why): return "\(p): \(why)"
        case .weights(let e): return e.description
        case .badInput(let why): return why
        }
    }
}
