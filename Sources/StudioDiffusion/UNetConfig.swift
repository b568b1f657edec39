/// The fields of a diffusers `UNet2DConditionModel` config (`unet/config.json`) the runtime reads, and
/// the checks that it is a layout the runtime implements (Stable Diffusion 1.x and 2.x).
public struct UNetConfig: Sendable, Equatable, Decodable {
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var crossAttentionDim: Int
    public var normGroups: Int
    public var normEps: Float
    /// Heads per block (diffusers keeps SD 1.x's head count under `attention_head_dim`).
    public var heads: [Int]
    public var linearProjection: Bool
    public var transformerLayers: Int
    public var flipSinToCos: Bool
    public var freqShift: Float
    public var midBlockType: String
    public var additionEmbedType: String?
    public var timeEmbeddingType: String
    public var classEmbedType: String?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case crossAttentionDim = "cross_attention_dim", normGroups = "norm_num_groups", normEps = "norm_eps"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case linearProjection = "use_linear_projection", transformerLayers = "transformer_layers_per_block"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift", midBlockType = "mid_block_type"
        case additionEmbedType = "addition_embed_type", timeEmbeddingType = "time_embedding_type", classEmbedType = "class_embed_type"
    }

    /// An integer or one per block.
    private struct PerBlock: Decodable {
        let values: [Int]
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(Int.self) { values = [one] } else { values = try c.decode([Int].self) }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decode(Int.self, forKey: .inChannels)
        outChannels = try c.decode(Int.self, forKey: .outChannels)
        blockOutChannels = try c.decode([Int].self, forKey: .blockOutChannels)
        layersPerBlock = try c.decode(Int.self, forKey: .layersPerBlock)
        downBlockTypes = try c.decode([String].self, forKey: .downBlockTypes)
        upBlockTypes = try c.decode([String].self, forKey: .upBlockTypes)
        crossAttentionDim = try c.decode(Int.self, forKey: .crossAttentionDim)
        normGroups = try c.decodeIfPresent(Int.self, forKey: .normGroups) ?? 32
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5
        let heads = try c.decodeIfPresent(PerBlock.self, forKey: .numAttentionHeads) ?? c.decode(PerBlock.self, forKey: .attentionHeadDim)
        self.heads = heads.values.count == 1 ? Array(repeating: heads.values[0], count: blockOutChannels.count) : heads.values
        linearProjection = try c.decodeIfPresent(Bool.self, forKey: .linearProjection) ?? false
        let layers = try c.decodeIfPresent(PerBlock.self, forKey: .transformerLayers)?.values ?? [1]
        transformerLayers = layers.count == 1 ? layers[0] : -1
        flipSinToCos = try c.decodeIfPresent(Bool.self, forKey: .flipSinToCos) ?? true
        freqShift = try c.decodeIfPresent(Float.self, forKey: .freqShift) ?? 0
        midBlockType = try c.decodeIfPresent(String.self, forKey: .midBlockType) ?? "UNetMidBlock2DCrossAttn"
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        timeEmbeddingType = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingType) ?? "positional"
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
    }

    /// Why the runtime cannot run this layout, or nil.
    public var unsupported: String? {
        let n = blockOutChannels.count
        if n == 0 || downBlockTypes.count != n || upBlockTypes.count != n || heads.count != n {
            return "block_out_channels, down_block_types, up_block_types and the head counts must have one entry per block"
        }
        if let bad = downBlockTypes.first(where: { $0 != "DownBlock2D" && $0 != "CrossAttnDownBlock2D" }) { return "down block type \(bad)" }
        if let bad = upBlockTypes.first(where: { $0 != "UpBlock2D" && $0 != "CrossAttnUpBlock2D" }) { return "up block type \(bad)" }
        if midBlockType != "UNetMidBlock2DCrossAttn" { return "mid block type \(midBlockType)" }
        if let a = additionEmbedType { return "addition_embed_type \(a) (SDXL's extra conditioning is not implemented yet)" }
        if let cl = classEmbedType { return "class_embed_type \(cl)" }
        if timeEmbeddingType != "positional" { return "time_embedding_type \(timeEmbeddingType)" }
        if transformerLayers < 1 { return "transformer_layers_per_block per block (SDXL)" }
        if normGroups < 1 || blockOutChannels.contains(where: { $0 <= 0 || $0 % normGroups != 0 }) {
            return "block_out_channels \(blockOutChannels) are not positive multiples of norm_num_groups \(normGroups)"
        }
        if zip(blockOutChannels, heads).contains(where: { $1 <= 0 || $0 % $1 != 0 }) { return "channels \(blockOutChannels) do not split into heads \(heads)" }
        return nil
    }
}
