import Foundation
import StudioTensor

/// diffusers' `DPMSolverMultistepScheduler` as "DPM++ 2M" (algorithm dpmsolver++, order 2, midpoint,
/// final sigma 0, lower order at the end), optionally on Karras sigmas ("DPM++ 2M Karras"): each step
/// converts the model output to a predicted clean sample x̂0 and extrapolates in λ = log(α/σ) from
/// the last two.
public struct DPMSolverScheduler: DiffusionScheduler {
    public let schedule: NoiseSchedule
    public let timesteps: [Float]
    /// σ per step (σ = √((1 - ᾱ) / ᾱ)), and a final 0.
    public let sigmas: [Double]
    public var initNoiseSigma: Float { 1 }
    private var previousX0: [Float]? = nil

    public init(schedule: NoiseSchedule, steps: Int, karras: Bool) throws(DiffusionModelError) {
        if let why = schedule.unsupported { throw .badConfig("scheduler_config.json", "unsupported schedule: \(why)") }
        guard steps >= 1 && steps < schedule.trainTimesteps else {
            throw .badInput("\(steps) steps; the scheduler takes 1 to \(schedule.trainTimesteps - 1)")
        }
        let table = schedule.alphasCumprod.map { Double(Float(((1 - $0) / $0).squareRoot())) }
        let logTable = table.map { log($0) }
        var sigmas: [Double], times: [Double]
        if karras {
            // Karras et al.'s ρ = 7 ramp between the schedule's extreme sigmas, each mapped back to a timestep.
            let (lo, hi) = (table[0], table[table.count - 1])
            let rho = 7.0
            sigmas = (0..<steps).map { i in
                let ramp = steps == 1 ? 0 : Double(i) / Double(steps - 1)
                return pow(pow(hi, 1 / rho) + ramp * (pow(lo, 1 / rho) - pow(hi, 1 / rho)), rho)
            }
            times = sigmas.map { Self.timestep(of: $0, logTable).rounded(.toNearestOrEven) }
        } else {
            let n = schedule.trainTimesteps
            switch schedule.timestepSpacing ?? "linspace" {
            case "leading": times = (0..<steps).reversed().map { Double($0 * (n / (steps + 1)) + schedule.stepsOffset) }
            case "trailing":
                let ratio = Double(n) / Double(steps)
                times = stride(from: Double(n), to: 0, by: -ratio).map { $0.rounded(.toNearestOrEven) - 1 }
            default: times = (1...steps).reversed().map { (Double(n - 1) * Double($0) / Double(steps)).rounded(.toNearestOrEven) }
            }
            sigmas = times.map { NoiseSchedule.interpolate(table, at: $0) }
        }
        self.sigmas = sigmas.map { Double(Float($0)) } + [0]
        timesteps = times.map { Float($0) }
        self.schedule = schedule
    }

    /// diffusers' `_sigma_to_t`: the fractional timestep whose log sigma is `sigma`'s, by linear
    /// interpolation in the log-sigma table.
    static func timestep(of sigma: Double, _ logTable: [Double]) -> Double {
        let l = log(max(sigma, 1e-10))
        var low = 0
        for (i, v) in logTable.enumerated() where l - v >= 0 { low = i }
        low = min(low, logTable.count - 2)
        let w = min(max((logTable[low] - l) / (logTable[low] - logTable[low + 1]), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor { sample }

    private static func alphaSigma(_ sigma: Double) -> (alpha: Double, sigma: Double) {
        let a = 1 / (sigma * sigma + 1).squareRoot()
        return (a, sigma * a)
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample x: Tensor) -> Tensor {
        let (aS, sS) = Self.alphaSigma(sigmas[index])
        let v = schedule.predictionType == "v_prediction"
        let x0 = (0..<x.count).map { i -> Float in
            let e = Double(modelOutput.data[i]), xi = Double(x.data[i])
            return Float(v ? aS * xi - sS * e : (xi - sS * e) / aS)
        }
        defer { previousX0 = x0 }
        var out = x
        let next = sigmas[index + 1]
        if next == 0 { out.data = x0; return out }   // the last step lands on x̂0 (λ = ∞)
        let (aT, sT) = Self.alphaSigma(next)
        let h = (log(aT) - log(sT)) - (log(aS) - log(sS))
        let firstOrder = previousX0 == nil || index == timesteps.count - 1
        let decay = aT * (exp(-h) - 1)
        if firstOrder {
            for i in out.data.indices { out.data[i] = Float((sT / sS) * Double(x.data[i]) - decay * Double(x0[i])) }
            return out
        }
        let (aP, sP) = Self.alphaSigma(sigmas[index - 1])
        let r = ((log(aS) - log(sS)) - (log(aP) - log(sP))) / h
        for i in out.data.indices {
            let d0 = Double(x0[i]), d1 = (d0 - Double(previousX0![i])) / r
            out.data[i] = Float((sT / sS) * Double(x.data[i]) - decay * d0 - 0.5 * decay * d1)
        }
        return out
    }
}
