import StudioTensor

/// diffusers' `LCMScheduler` (latent consistency models, LCM-LoRA): few steps on the distillation's
/// timestep grid (`originalSteps` evenly spaced training timesteps, `k·i - 1`), each step the boundary-
/// conditioned estimate `c_out · x̂0 + c_skip · x` (c from `timestepScaling · t`, σ_data 0.5), re-noised to
/// the next timestep with fresh noise except at the last.
public struct LCMScheduler<Noise: NoiseSource>: DiffusionScheduler {
    public let schedule: NoiseSchedule
    public let steps: [Int]
    public var timesteps: [Float] { steps.map(Float.init) }
    public var initNoiseSigma: Float { 1 }
    private let alphasCumprod: [Double]
    private let timestepScaling: Double
    private var noise: Noise

    public init(schedule: NoiseSchedule, steps: Int, originalSteps: Int = 50, timestepScaling: Double = 10, noise: Noise) throws(DiffusionModelError) {
        if let why = schedule.unsupported { throw .badConfig("scheduler_config.json", "unsupported schedule: \(why)") }
        guard originalSteps >= 1, originalSteps <= schedule.trainTimesteps, steps >= 1, steps <= originalSteps else {
            throw .badInput("\(steps) steps; LCM takes 1 to \(originalSteps) (its distillation's grid)")
        }
        let k = schedule.trainTimesteps / originalSteps
        let grid = (1...originalSteps).map { $0 * k - 1 }.reversed().map { $0 }
        self.steps = (0..<steps).map { grid[Int((Double(originalSteps) * Double($0) / Double(steps)).rounded(.down))] }
        self.schedule = schedule
        alphasCumprod = schedule.alphasCumprod
        self.timestepScaling = timestepScaling
        self.noise = noise
    }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor { sample }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample x: Tensor) -> Tensor {
        let t = steps[index], last = index == steps.count - 1
        let previous = last ? t : steps[index + 1]
        let a = alphasCumprod[t], aPrev = alphasCumprod[previous]
        let scaled = Double(t) * timestepScaling, sigmaData = 0.25
        let cSkip = Float(sigmaData / (scaled * scaled + sigmaData)), cOut = Float(scaled / (scaled * scaled + sigmaData).squareRoot())
        let sa = Float(a.squareRoot()), sb = Float((1 - a).squareRoot())
        let v = schedule.predictionType == "v_prediction"
        let fresh = last ? nil : noise.next(like: x)
        var out = x
        for i in out.data.indices {
            let e = modelOutput.data[i], xi = x.data[i]
            let x0 = v ? sa * xi - sb * e : (xi - sb * e) / sa
            let denoised = cOut * x0 + cSkip * xi
            out.data[i] = fresh.map { Float(aPrev.squareRoot()) * denoised + Float((1 - aPrev).squareRoot()) * $0.data[i] } ?? denoised
        }
        return out
    }
}
