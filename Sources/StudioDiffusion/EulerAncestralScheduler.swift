import Foundation
import StudioTensor

/// diffusers' `EulerAncestralDiscreteScheduler`: in sigma space (σ = √((1 - ᾱ) / ᾱ), interpolated at
/// the timesteps, then 0), each step takes an Euler step down to σ_down and adds fresh noise of σ_up,
/// where σ_up = √(σ_next² (σ² - σ_next²) / σ²) and σ_down = √(σ_next² - σ_up²).
public struct EulerAncestralScheduler<Noise: NoiseSource>: DiffusionScheduler {
    public let schedule: NoiseSchedule
    public let timesteps: [Float]
    /// σ per step, and a final 0.
    public let sigmas: [Double]
    public let initNoiseSigma: Float
    private var noise: Noise

    public init(schedule: NoiseSchedule, steps: Int, noise: Noise) throws(DiffusionModelError) {
        if let why = schedule.unsupported { throw .badConfig("scheduler_config.json", "unsupported schedule: \(why)") }
        guard steps >= 1 && steps <= schedule.trainTimesteps else {
            throw .badInput("\(steps) steps; the scheduler takes 1 to \(schedule.trainTimesteps)")
        }
        let spacing = schedule.timestepSpacing ?? "linspace"
        let times = schedule.spacedTimesteps(steps, fallback: spacing)
        let table = schedule.alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
        sigmas = times.map { NoiseSchedule.interpolate(table, at: $0) } + [0]
        timesteps = times.map { Float($0) }
        let top = Float(sigmas.max()!)
        initNoiseSigma = spacing == "leading" ? (top * top + 1).squareRoot() : top
        self.schedule = schedule
        self.noise = noise
    }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor {
        let s = Float(sigmas[index])
        var x = sample
        let inv = 1 / (s * s + 1).squareRoot()
        for i in x.data.indices { x.data[i] *= inv }
        return x
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample x: Tensor) -> Tensor {
        let sigma = Float(sigmas[index]), next = Float(sigmas[index + 1])
        let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
        let down = (next * next - up * up).squareRoot()
        let dt = down - sigma
        let v = schedule.predictionType == "v_prediction"
        let fresh = noise.next(like: x)
        var out = x
        for i in out.data.indices {
            let e = modelOutput.data[i], xi = x.data[i]
            let x0 = v ? e * (-sigma / (sigma * sigma + 1).squareRoot()) + xi / (sigma * sigma + 1) : xi - sigma * e
            let derivative = (xi - x0) / sigma
            out.data[i] = xi + derivative * dt + fresh.data[i] * up
        }
        return out
    }
}
