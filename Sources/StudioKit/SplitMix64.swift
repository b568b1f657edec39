/// A small, fast, seedable random generator (SplitMix64, Steele et al. 2014).
///
/// Used wherever studio needs repeatable randomness: jitter, seeded generation, fuzz-style tests.
/// Not cryptographic.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SplitMix64 {
    /// `count` standard-normal values: for each pair, `u1 = ((next() >> 11) + 1) · 2⁻⁵³` (in (0, 1]),
    /// `u2 = (next() >> 11) · 2⁻⁵³` (in [0, 1)), `r = sqrt(−2 · ln u1)`, `θ = (2 · π) · u2`, then
    /// `Float(r · cos θ)`, `Float(r · sin θ)` (Box–Muller in Double, rounded once to Float; an odd
    /// count drops the last sine).
    public mutating func standardNormals(_ count: Int) -> [Float] {
        var z = [Float](repeating: 0, count: count)
        var k = 0
        while k < count {
            let u1 = Double((next() >> 11) + 1) * 0x1p-53
            let u2 = Double(next() >> 11) * 0x1p-53
            let r = (-2 * log(u1)).squareRoot()
            let theta = 2 * Double.pi * u2
            z[k] = Float(r * cos(theta))
            if k + 1 < count { z[k + 1] = Float(r * sin(theta)) }
            k += 2
        }
        return z
    }
}
