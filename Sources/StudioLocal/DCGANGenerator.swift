import StudioKit
import StudioTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The 64x64 face generator of PyPI `gan-face-generate==1.1.1` (a DCGAN, as in PyTorch's DCGAN
/// tutorial), run natively from its PyTorch checkpoint.
///
/// **Licence:** the package's code is MIT, but the weights were trained on DigiFace-1M, whose
/// licence is research/non-commercial. Say so wherever this generator is offered.
///
/// Architecture (`gan_face_generate/models.py`, `Generator(ngpu, nc=3, nz=100, ngf=64)`), all
/// transposed convolutions without bias, BatchNorm2d with PyTorch's defaults (eps 1e-5; momentum
/// only matters in training) used in eval mode with its running statistics:
///
/// | module | layer | output |
/// |---|---|---|
/// | `main.0`  | ConvTranspose2d(100, 512, 4, stride 1, padding 0) | 512 x 4 x 4 |
/// | `main.1`, `main.2` | BatchNorm2d(512), ReLU | |
/// | `main.3`  | ConvTranspose2d(512, 256, 4, 2, 1) | 256 x 8 x 8 |
/// | `main.4`, `main.5` | BatchNorm2d(256), ReLU | |
/// | `main.6`  | ConvTranspose2d(256, 128, 4, 2, 1) | 128 x 16 x 16 |
/// | `main.7`, `main.8` | BatchNorm2d(128), ReLU | |
/// | `main.9`  | ConvTranspose2d(128, 64, 4, 2, 1) | 64 x 32 x 32 |
/// | `main.10`, `main.11` | BatchNorm2d(64), ReLU | |
/// | `main.12` | ConvTranspose2d(64, 3, 4, 2, 1) | 3 x 64 x 64 |
/// | `main.13` | Tanh | values in [-1, 1] |
///
/// The checkpoint is `{"netG_state_dict": OrderedDict}`; its keys are read as
/// `netG_state_dict.main.<i>.weight` (ConvT: `[inC, outC, 4, 4]`) and `netG_state_dict.main.<i>.{weight,
/// bias, running_mean, running_var}` (BatchNorm, `[C]`), plus `num_batches_tracked` (int64, unused).
/// Each BatchNorm is folded into a per-channel scale and shift (`Kernels.foldBatchNorm`).
public struct DCGANGenerator: Sendable {
    public static let latentDimension = 100
    /// The generator's identity in reports, calibrations and characters' metadata.
    public static let domain = "gan-face-generate-1.1.1"
    public static let imageSize = 64
    /// The weights' file name under `$STUDIO_HOME/models` (installed by `scripts/setup.sh`).
    public static let weightsFile = "gan_face_generate_weights.tar"
    public static let licence = "code MIT; weights trained on DigiFace-1M (research/non-commercial licence)"
    /// BatchNorm2d's epsilon (PyTorch's default; models.py does not change it).
    public static let batchNormEpsilon = 1e-5

    struct Layer: Sendable {
        /// `[inC, outC, kh, kw]`, as `Kernels.convTranspose2d` takes it.
        let weights: Tensor
        let stride: Int
        let padding: Int
        /// Folded BatchNorm (then ReLU); nil for the last layer (then Tanh).
        let scale: [Float]?
        let shift: [Float]?
    }

    let layers: [Layer]

    /// Loads the generator from the package's `weights.tar` (see `TorchCheckpoint`).
    public init(contentsOf path: String) throws {
        try self.init(tensors: TorchCheckpoint.load(contentsOf: path), file: path)
    }

    /// Builds the generator from a loaded checkpoint; every tensor's presence, type, shape and
    /// finiteness is checked.
    public init(tensors: [String: TorchTensor], file: String = "<memory>") throws {
        func fail(_ detail: String) -> CheckpointError { CheckpointError(file: file, detail: "DCGAN generator: " + detail) }
        func floats(_ key: String, _ shape: [Int]) throws -> [Float] {
            let name = "netG_state_dict." + key
            guard let t = tensors[name] else { throw fail("tensor \(name) is missing") }
            guard t.dtype == .float32, t.shape == shape else {
                throw fail("tensor \(name) is \(t.dtype.rawValue) \(t.shape), expected float32 \(shape)")
            }
            guard t.values.allSatisfy({ $0.isFinite }) else { throw fail("tensor \(name) holds non-finite values") }
            return t.values
        }
        // (module index of the ConvTranspose2d, inC, outC, stride, padding); BatchNorm is the next module.
        let plan: [(Int, Int, Int, Int, Int)] = [(0, 100, 512, 1, 0), (3, 512, 256, 2, 1), (6, 256, 128, 2, 1),
                                                  (9, 128, 64, 2, 1), (12, 64, 3, 2, 1)]
        var layers: [Layer] = []
        for (k, (m, inC, outC, stride, padding)) in plan.enumerated() {
            let w = Tensor(n: inC, c: outC, h: 4, w: 4, data: try floats("main.\(m).weight", [inC, outC, 4, 4]))
            if k < plan.count - 1 {
                let bn = "main.\(m + 1)."
                let gamma = try floats(bn + "weight", [outC]), beta = try floats(bn + "bias", [outC])
                let mean = try floats(bn + "running_mean", [outC]), variance = try floats(bn + "running_var", [outC])
                guard variance.allSatisfy({ $0 >= 0 }) else { throw fail("\(bn)running_var has negative values") }
                let (scale, shift) = Kernels.foldBatchNorm(mean: mean, variance: variance, gamma: gamma, beta: beta,
                                                           eps: Self.batchNormEpsilon)
                layers.append(Layer(weights: w, stride: stride, padding: padding, scale: scale, shift: shift))
            } else {
                layers.append(Layer(weights: w, stride: stride, padding: padding, scale: nil, shift: nil))
            }
        }
        self.layers = layers
    }

    /// Runs the network: `z` is `[n, 100, 1, 1]`; the result is `[n, 3, 64, 64]`, RGB, in [-1, 1].
    public func forward(_ z: Tensor) -> Tensor {
        precondition(z.c == Self.latentDimension && z.h == 1 && z.w == 1,
                     "DCGANGenerator.forward: z must be [n, \(Self.latentDimension), 1, 1], got \(z.shape)")
        var x = z
        for layer in layers {
            x = Kernels.convTranspose2d(x, weights: layer.weights, bias: nil, stride: layer.stride, padding: layer.padding)
            if let scale = layer.scale, let shift = layer.shift {
                Kernels.affineReluInPlace(&x, gamma: scale, beta: shift)
            } else {
                Kernels.tanhInPlace(&x)
            }
        }
        return x
    }

    /// One 64x64 image per latent vector (each of `latentDimension` values), in one batch.
    public func generate(_ z: [[Float]]) -> [RGBImage] {
        let d = Self.latentDimension
        for (i, v) in z.enumerated() {
            precondition(v.count == d, "DCGANGenerator.generate: latent \(i) has \(v.count) values, expected \(d)")
        }
        if z.isEmpty { return [] }
        let out = forward(Tensor(n: z.count, c: d, h: 1, w: 1, data: z.flatMap { $0 }))
        return (0..<z.count).map { Self.image(out, sample: $0) }
    }

    /// The images for seeds, each from `latent(seed:)`.
    public func generate(seeds: [UInt64]) -> [RGBImage] { generate(seeds.map(Self.latent(seed:))) }

    /// Converts one sample of the network's output to 8-bit RGB.
    ///
    /// Each value `v` in [-1, 1] becomes `round((v + 1) / 2 · 255)`, computed in Float as
    /// `((v + 1) · 0.5 · 255)`, rounded half away from zero and clamped to 0...255 (NaN gives 0).
    /// This is what `torchvision.utils.save_image` does for `normalize=True, value_range=(-1, 1)`
    /// up to its rounding (it adds 0.5 and truncates, the same for non-negative values).
    public static func image(_ output: Tensor, sample: Int) -> RGBImage {
        precondition(output.c == 3, "DCGANGenerator.image: expected 3 channels, got \(output.c)")
        let w = output.w, h = output.h, plane = w * h
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        output.data.withUnsafeBufferPointer { p in
            let base = p.baseAddress! + sample * 3 * plane
            for c in 0..<3 {
                let src = base + c * plane
                for i in 0..<plane { pixels[i * 3 + c] = byte(src[i]) }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// The documented [-1, 1] -> 0...255 mapping of `image(_:sample:)` for one value.
    @inlinable
    public static func byte(_ v: Float) -> UInt8 {
        let s = ((v + 1) * 0.5 * 255).rounded(.toNearestOrAwayFromZero)
        if !(s > 0) { return 0 }          // also NaN
        return s >= 255 ? 255 : UInt8(s)
    }

    /// A standard-normal latent vector for a seed; the same seed always gives the same vector (and so
    /// the same face).
    ///
    /// Procedure (reproduced by `tools/gan-oracle/oracle.py`): `SplitMix64(seed).standardNormals(100)`
    /// (Box–Muller in Double over successive pairs of draws, rounded once to Float).
    public static func latent(seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed)
        return g.standardNormals(latentDimension)
    }
}
