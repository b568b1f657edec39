import StudioKit
import StudioTensor

/// One denoising step rule over a timestep sequence: `step` turns the model's output at step `index`
/// and the current sample into the next sample.
public protocol DiffusionScheduler: Sendable {
    /// The timesteps the model is evaluated at, first to last (fractional for the Euler family).
    var timesteps: [Float] { get }
    /// The scale of the initial noise (1 for DDIM; about the largest sigma for the Euler family).
    var initNoiseSigma: Float { get }
    func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor
    mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor) -> Tensor
}

/// Where a stochastic sampler's fresh noise comes from (`next(like:)`: unit-variance values of that shape).
public protocol NoiseSource: Sendable {
    mutating func next(like shape: Tensor) -> Tensor
}

/// Standard-normal noise from a seed (`SplitMix64.standardNormals`): the same seed, the same draws.
public struct SeededNoise: NoiseSource {
    private var generator: SplitMix64
    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    public mutating func next(like shape: Tensor) -> Tensor {
        Tensor(n: shape.n, c: shape.c, h: shape.h, w: shape.w, data: generator.standardNormals(shape.count))
    }
}

/// diffusers' `DDIMScheduler`, deterministic (eta 0): `x_prev = √ᾱ_prev · x̂0 + √(1 - ᾱ_prev) · ε̂`.
public struct DDIMScheduler: DiffusionScheduler {
    public let schedule: NoiseSchedule
    public let steps: [Int]
    public var timesteps: [Float] { steps.map(Float.init) }
    public var initNoiseSigma: Float { 1 }
    private let alphasCumprod: [Double]
    private let stepsCount: Int

    public init(schedule: NoiseSchedule, steps: Int) throws(DiffusionModelError) {
        if let why = schedule.unsupported { throw .badConfig("scheduler_config.json", "unsupported schedule: \(why)") }
        guard steps >= 1 && steps <= schedule.trainTimesteps else {
            throw .badInput("\(steps) steps; DDIM takes 1 to \(schedule.trainTimesteps)")
        }
        self.schedule = schedule
        stepsCount = steps
        alphasCumprod = schedule.alphasCumprod
        // DDIM rounds linspace timesteps to integers (half to even, as numpy does).
        self.steps = schedule.spacedTimesteps(steps, fallback: "leading").map { Int($0.rounded(.toNearestOrEven)) }
    }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor { sample }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample x: Tensor) -> Tensor {
        let t = steps[index]
        let previous = t - schedule.trainTimesteps / stepsCount
        let a = alphasCumprod[min(max(t, 0), alphasCumprod.count - 1)]
        let aPrev = previous >= 0 ? alphasCumprod[previous] : (schedule.setAlphaToOne ? 1 : alphasCumprod[0])
        let sa = Float(a.squareRoot()), sb = Float((1 - a).squareRoot())
        let sPrev = Float(aPrev.squareRoot()), dPrev = Float((1 - aPrev).squareRoot())
        var out = x
        let v = schedule.predictionType == "v_prediction"
        for i in out.data.indices {
            let e = modelOutput.data[i], xi = x.data[i]
            let x0 = v ? sa * xi - sb * e : (xi - sb * e) / sa
            let eps = v ? sa * e + sb * xi : e
            out.data[i] = sPrev * x0 + dPrev * eps
        }
        return out
    }
}
