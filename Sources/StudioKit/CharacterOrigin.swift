/// Where a character's identity came from: the one typed reading and writing of the origin keys of
/// `CharacterRecord.metadata` ("origin", "generator", "seed"), which is how sealed records store it.
public enum CharacterOrigin: Sendable, Equatable {
    /// Registered from reference photos (also what a record without origin keys reads as).
    case photos
    /// Drawn from a local generator at a seed (the local backend's latent anchor).
    case generated(generator: String, seed: UInt64)
    /// Made up for a benchmark or a test (no face behind it).
    case synthetic
    /// An origin this build does not know, kept as written.
    case other(String)

    /// Reads the origin keys; a "generated" origin without a readable generator and seed is `other`.
    public init(metadata: [String: String]) {
        switch metadata["origin"] {
        case nil, "photos": self = .photos
        case "synthetic": self = .synthetic
        case "generated":
            if let g = metadata["generator"], let s = metadata["seed"].flatMap(UInt64.init) {
                self = .generated(generator: g, seed: s)
            } else {
                self = .other("generated")
            }
        case let o?: self = .other(o)
        }
    }

    /// The origin keys as stored.
    public var metadata: [String: String] {
        switch self {
        case .photos: return ["origin": "photos"]
        case .synthetic: return ["origin": "synthetic"]
        case .generated(let g, let s): return ["origin": "generated", "generator": g, "seed": String(s)]
        case .other(let o): return ["origin": o]
        }
    }

    /// "photos", "generated", "synthetic" or the unknown name.
    public var name: String { metadata["origin"]! }

    /// The generator seed of a generated character.
    public var seed: UInt64? {
        if case .generated(_, let s) = self { return s }
        return nil
    }
}

extension CharacterRecord {
    /// The typed origin; setting it replaces the origin keys and keeps any other metadata.
    public var origin: CharacterOrigin {
        get { CharacterOrigin(metadata: metadata) }
        set {
            for k in ["origin", "generator", "seed"] { metadata[k] = nil }
            metadata.merge(newValue.metadata) { _, new in new }
        }
    }
}
