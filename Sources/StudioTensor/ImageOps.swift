#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Operations of diffusion networks on NCHW tensors.
extension Kernels {
    /// PyTorch's `nn.GroupNorm`: channels split into `groups` consecutive groups; each (sample, group)
    /// normalised over its channels and pixels with the biased variance (statistics in double), then
    /// `· gamma[c] + beta[c]`.
    public static func groupNorm(_ x: Tensor, groups: Int, gamma: [Float], beta: [Float], eps: Float) -> Tensor {
        precondition(groups > 0 && x.c % groups == 0, "groupNorm: \(x.c) channels in \(groups) groups")
        precondition(gamma.count == x.c && beta.count == x.c, "groupNorm: \(gamma.count) weights for \(x.c) channels")
        var y = x
        let per = x.c / groups, plane = x.h * x.w, count = Double(per * plane)
        for s in 0..<x.n {
            for g in 0..<groups {
                let base = (s * x.c + g * per) * plane
                var mean = 0.0
                for i in 0..<(per * plane) { mean += Double(x.data[base + i]) }
                mean /= count
                var variance = 0.0
                for i in 0..<(per * plane) { let d = Double(x.data[base + i]) - mean; variance += d * d }
                let inv = 1 / (variance / count + Double(eps)).squareRoot()
                for k in 0..<per {
                    let c = g * per + k, start = base + k * plane
                    for i in 0..<plane { y.data[start + i] = Float((Double(x.data[start + i]) - mean) * inv) * gamma[c] + beta[c] }
                }
            }
        }
        return y
    }

    /// SiLU (swish): `x · sigmoid(x)`.
    public static func siluInPlace(_ t: inout Tensor) {
        for i in t.data.indices { let v = t.data[i]; t.data[i] = v / (1 + expf(-v)) }
    }

    /// Nearest-neighbour upsampling by 2 in both directions (`F.interpolate(scale_factor=2, mode="nearest")`).
    public static func upsampleNearest2x(_ x: Tensor) -> Tensor {
        let oh = x.h * 2, ow = x.w * 2
        return Tensor(n: x.n, c: x.c, h: oh, w: ow) { out in
            for p in 0..<(x.n * x.c) {
                for r in 0..<oh {
                    let src = p * x.h * x.w + (r / 2) * x.w, dst = p * oh * ow + r * ow
                    for c in 0..<ow { out[dst + c] = x.data[src + c / 2] }
                }
            }
        }
    }
}
