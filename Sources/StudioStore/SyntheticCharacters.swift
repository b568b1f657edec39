import StudioKit

/// Deterministic synthetic characters for benchmarks and tests: random identities, no references.
///
/// Identity values are uniform in [-0.25, 0.25) from `SplitMix64`, so distances between synthetic
/// characters are of the same order as between real dlib descriptors (about 1.0 to 1.6).
public enum SyntheticCharacters {
    /// The name of synthetic character `index` of `seed`.
    public static func name(index: Int, seed: UInt64) -> String { "synthetic-\(seed)-\(index)" }

    /// A random identity of `dimension` values, the same for the same `(index, seed)`.
    public static func identity(index: Int, seed: UInt64, dimension: Int = 128) -> FaceDescriptor {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03)
        return FaceDescriptor((0..<dimension).map { _ in Float(rng.next() >> 40) / Float(1 << 24) * 0.5 - 0.25 })
    }

    /// Synthetic character `index` of `seed` in `tenant`.
    public static func record(index: Int, tenant: String, seed: UInt64, dimension: Int = 128) -> CharacterRecord {
        CharacterRecord(id: "syn-\(seed)-\(index)", tenant: tenant, name: name(index: index, seed: seed),
                        createdAt: 1_700_000_000 + Int64(index), identity: identity(index: index, seed: seed, dimension: dimension),
                        references: [], attributes: FaceAttributes(), metadata: CharacterOrigin.synthetic.metadata)
    }
}
