import Foundation

/// The training noise schedule a diffusers scheduler config describes (`scheduler/scheduler_config.json`):
/// betas, and the cumulative products of `1 - beta` the samplers step with.
public struct NoiseSchedule: Sendable, Equatable, Decodable {
    public var trainTimesteps: Int
    public var betaStart: Double
    public var betaEnd: Double
    public var betaSchedule: String
    public var stepsOffset: Int
    public var setAlphaToOne: Bool
    public var predictionType: String
    /// nil: the scheduler's own default (DDIM "leading", the Euler family "linspace").
    public var timestepSpacing: String?
    public var clipSample: Bool

    enum CodingKeys: String, CodingKey {
        case trainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end", betaSchedule = "beta_schedule"
        case stepsOffset = "steps_offset", setAlphaToOne = "set_alpha_to_one", predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing", clipSample = "clip_sample"
    }

    /// Stable Diffusion 1.x's schedule.
    public static let stableDiffusion = NoiseSchedule(trainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear",
                                                      stepsOffset: 1, setAlphaToOne: false, predictionType: "epsilon",
                                                      timestepSpacing: "leading", clipSample: false)

    public init(trainTimesteps: Int, betaStart: Double, betaEnd: Double, betaSchedule: String, stepsOffset: Int,
                setAlphaToOne: Bool, predictionType: String, timestepSpacing: String?, clipSample: Bool) {
        self.trainTimesteps = trainTimesteps; self.betaStart = betaStart; self.betaEnd = betaEnd; self.betaSchedule = betaSchedule
        self.stepsOffset = stepsOffset; self.setAlphaToOne = setAlphaToOne; self.predictionType = predictionType
        self.timestepSpacing = timestepSpacing; self.clipSample = clipSample
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self.stableDiffusion
        self.init(trainTimesteps: try c.decodeIfPresent(Int.self, forKey: .trainTimesteps) ?? d.trainTimesteps,
                  betaStart: try c.decodeIfPresent(Double.self, forKey: .betaStart) ?? d.betaStart,
                  betaEnd: try c.decodeIfPresent(Double.self, forKey: .betaEnd) ?? d.betaEnd,
                  betaSchedule: try c.decodeIfPresent(String.self, forKey: .betaSchedule) ?? d.betaSchedule,
                  stepsOffset: try c.decodeIfPresent(Int.self, forKey: .stepsOffset) ?? 0,
                  setAlphaToOne: try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne) ?? true,
                  predictionType: try c.decodeIfPresent(String.self, forKey: .predictionType) ?? "epsilon",
                  timestepSpacing: try c.decodeIfPresent(String.self, forKey: .timestepSpacing),
                  clipSample: try c.decodeIfPresent(Bool.self, forKey: .clipSample) ?? false)
    }

    /// Why the runtime cannot use this schedule, or nil.
    public var unsupported: String? {
        if trainTimesteps < 2 { return "num_train_timesteps \(trainTimesteps)" }
        if betaSchedule != "linear" && betaSchedule != "scaled_linear" { return "beta_schedule \(betaSchedule)" }
        if predictionType != "epsilon" && predictionType != "v_prediction" { return "prediction_type \(predictionType)" }
        if let t = timestepSpacing, !["leading", "trailing", "linspace"].contains(t) { return "timestep_spacing \(t)" }
        if clipSample { return "clip_sample (Stable Diffusion checkpoints do not clip)" }
        return nil
    }

    /// `alphas_cumprod`: Π (1 - beta) up to each training timestep (betas as torch computes them in float32).
    public var alphasCumprod: [Double] {
        let n = trainTimesteps
        let betas: [Float] = (0..<n).map { i in
            let f = Double(i) / Double(n - 1)
            if betaSchedule == "scaled_linear" {
                let s = Float(betaStart.squareRoot() + f * (betaEnd.squareRoot() - betaStart.squareRoot()))
                return s * s
            }
            return Float(betaStart + f * (betaEnd - betaStart))
        }
        var product: Float = 1
        return betas.map { product *= (1 - $0); return Double(product) }
    }

    /// The inference timesteps diffusers' DDIM and Euler schedulers take for `steps` under
    /// `timestepSpacing` (`fallback` when the config names none): linspace over [0, T-1] (fractional),
    /// leading `i · (T / steps) + steps_offset`, trailing `round(T - i · T / steps) - 1`; first to last.
    func spacedTimesteps(_ steps: Int, fallback: String) -> [Double] {
        let n = trainTimesteps
        switch timestepSpacing ?? fallback {
        case "linspace": return (0..<steps).map { Double(n - 1) * Double($0) / Double(max(steps - 1, 1)) }.reversed()
        case "trailing":
            let ratio = Double(n) / Double(steps)
            return stride(from: Double(n), to: 0, by: -ratio).map { $0.rounded(.toNearestOrEven) - 1 }
        default: return (0..<steps).reversed().map { Double($0 * (n / steps) + stepsOffset) }
        }
    }

    /// `np.interp(t, arange(count), table)`: a per-training-timestep table read at a fractional timestep.
    static func interpolate(_ table: [Double], at t: Double) -> Double {
        if t <= 0 { return table[0] }
        if t >= Double(table.count - 1) { return table[table.count - 1] }
        let i = Int(t.rounded(.down)), f = t - Double(i)
        return table[i] + f * (table[i + 1] - table[i])
    }
}
