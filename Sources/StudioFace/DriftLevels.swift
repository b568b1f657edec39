import StudioKit

/// How far each measurable drift mode went toward its limit on one output: 0 is the character's own
/// value (or a change the other way), 1 the detector's threshold; a mode is diagnosed as drift
/// exactly when its level is above 1. Unlike the findings, every measured mode has a level, so the
/// run's drift plot can show attributes that moved without drifting yet.
public enum DriftLevels {
    /// The level of one detector, or nil when the output or the character lacks the measurement
    /// (or, for limits on the value itself, the character's own references are already past it).
    ///
    /// Deltas (absolute, relative, ΔE*ab) are measured by running the detector with no threshold,
    /// so the delta is the one `DriftDetector.evaluate` compares; it is divided by the threshold in
    /// the detector's direction. A label change is 1 when the label changed, else 0.
    public static func level(_ modeId: String, _ d: DriftMode.Detector, reference: CharacterRecord,
                             output: FaceAttributes, measures: [String: Double]) -> Double? {
        raw(modeId, d, reference: reference, output: output, measures: measures).map { $0.isFinite ? min(max($0, 0), ceiling) : ceiling }
    }

    /// Levels are capped here (a value limit met by a value of 0 is infinitely far past it); a value on
    /// the far side of zero from its limit is level 0.
    public static let ceiling = 100.0

    static func raw(_ modeId: String, _ d: DriftMode.Detector, reference: CharacterRecord,
                    output: FaceAttributes, measures: [String: Double]) -> Double? {
        guard d.threshold.isFinite, d.threshold != 0 else { return nil }
        switch d.comparison {
        case .value: return valueLevel(d, reference: reference, output: output, measures: measures)
        case .labelChange:
            guard output[d.measure] != nil, reference.attributes[d.measure] != nil else { return nil }
            return DriftDetector.evaluate(modeId, d, reference: reference, output: output, measures: measures) == nil ? 0 : 1
        case .absoluteDelta, .relativeDelta, .deltaE:
            var probe = d
            probe.threshold = -.infinity   // every comparison passes: the finding carries the raw delta
            guard let f = DriftDetector.evaluate(modeId, probe, reference: reference, output: output, measures: measures) else { return nil }
            let t = abs(d.threshold)
            if d.comparison == .deltaE { return f.delta / t }
            switch d.direction {
            case .increase: return max(0, f.delta) / t
            case .decrease: return max(0, -f.delta) / t
            case .either: return abs(f.delta) / t
            }
        }
    }

    /// A limit on the value itself (e.g. sharpness below 2.3): the value over the limit, or the limit
    /// over the value for lower limits.
    static func valueLevel(_ d: DriftMode.Detector, reference: CharacterRecord, output: FaceAttributes,
                           measures: [String: Double]) -> Double? {
        let value: Double?
        switch d.source {
        case .pipeline: value = measures[d.measure]
        case .attribute:
            // As `evaluate`, only where the character has the component too.
            guard let c = d.component, let ref = reference.attributes[d.measure], DriftDetector.component(ref, c) != nil else { return nil }
            value = output[d.measure].flatMap { DriftDetector.component($0, c) }
        }
        guard let v = value, v.isFinite else { return nil }
        if d.source == .pipeline, let r = DriftDetector.referenceMeasure(reference, d.measure), past(r, d) { return nil }
        return valueRatio(v, d.threshold, d.direction)
    }

    /// Above 1 exactly when `v` is past `t` in `direction` (`v > t`, `v < t`, `|v| > |t|`), for limits of
    /// either sign (a lower limit of -8 L* on a lighting difference is passed by -10, not by -3).
    static func valueRatio(_ v: Double, _ t: Double, _ direction: DriftMode.Detector.Direction) -> Double {
        switch direction {
        case .increase: return t > 0 ? v / t : (v >= 0 ? .infinity : t / v)
        case .decrease: return t > 0 ? (v <= 0 ? .infinity : t / v) : v / t
        case .either: return abs(v) / abs(t)
        }
    }

    static func past(_ x: Double, _ d: DriftMode.Detector) -> Bool {
        d.direction == .decrease ? x < d.threshold : d.direction == .increase ? x > d.threshold : abs(x) > abs(d.threshold)
    }
}
