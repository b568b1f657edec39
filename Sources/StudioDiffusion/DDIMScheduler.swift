import StudioTensor

/// One denoising step rule over a timestep sequence. `step` turns the model's output at `timestep` and
/// the current sample into the next sample.
public protocol DiffusionScheduler: Sendable {
    /// The timesteps to run, first to last.
    var timesteps: [Int] { get }
    /// The scale of the initial noise (1 for DDIM; the largest sigma for the Euler family).
    var initNoiseSigma: Float { get }
    func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor
    mutating func step(_ modelOutput: Tensor, timestep: Int, sample: Tensor) -> Tensor
}

/// diffusers' `DDIMScheduler`, deterministic (eta 0): `x_prev = √ᾱ_prev · x̂0 + √(1 - ᾱ_prev) · ε̂`.
public struct DDIMScheduler: DiffusionScheduler {
    public let schedule: NoiseSchedule
    public let timesteps: [Int]
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
        timesteps = Self.spacing(schedule, steps)
    }

    /// diffusers' `set_timesteps` for DDIM.
    static func spacing(_ s: NoiseSchedule, _ steps: Int) -> [Int] {
        let n = s.trainTimesteps
        switch s.timestepSpacing {
        case "linspace":
            return (0..<steps).map { i in Int((Double(n - 1) * Double(i) / Double(max(steps - 1, 1))).rounded(.toNearestOrEven)) }.reversed()
        case "trailing":
            let ratio = Double(n) / Double(steps)
            return stride(from: Double(n), to: 0, by: -ratio).map { Int($0.rounded(.toNearestOrEven)) - 1 }
        default:
            let ratio = n / steps
            return (0..<steps).reversed().map { $0 * ratio + s.stepsOffset }
        }
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor { sample }

    public mutating func step(_ modelOutput: Tensor, timestep t: Int, sample x: Tensor) -> Tensor {
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
