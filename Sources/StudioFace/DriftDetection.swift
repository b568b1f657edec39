#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit

extension DriftDetector {
    /// The measurable modes whose detectors `diagnose` skips on this output (pose-gated), with why.
    public static func skipped(reference: CharacterRecord, outputFace: DetectedFace,
                               modes: [DriftMode] = DriftCatalogue.all) -> [(modeId: String, reason: String)] {
        let yaw = outputFace.landmarks.count == 5 ? abs(ReferenceQuality.headPose(landmarks: outputFace.landmarks).yaw) : nil
        return modes.compactMap { m in
            guard let limit = m.detector?.maxAbsYaw, let yaw, yaw > limit else { return nil }
            return (m.id, "|yaw| \(QAFormat.fixed(yaw, 1))° > \(QAFormat.fixed(limit, 0))°: \(m.detector!.measure) is pose-sensitive")
        }
    }
}

/// Runs the drift catalogue's detectors on a generated face (`DriftCatalogue`).
///
/// Attribute detectors compare the output's attributes (`FaceAttributeMeter.measure` on the output's
/// chip) with the character's fused attributes; pipeline detectors use the measures of
/// `measures(...)`: pose from the landmarks (`ReferenceQuality.headPose`), lighting, exposure and
/// sharpness from the chip, and the identity distance of the output's descriptor to the character's
/// fused identity.
public enum DriftDetector {
    /// The pipeline measures `measures` can produce:
    /// - `yaw`, `abs_yaw`, `roll`, `abs_roll` (degrees, from the 5 landmarks);
    /// - `identity_distance` (Euclidean descriptor distance to the character's identity);
    /// - from the chip: `sharpness` (Laplacian variance of the face centre, as `ReferenceQuality`),
    ///   `cheek_texture` (Laplacian variance over both cheek regions: skin micro-texture),
    ///   `cheek_lightness_left`, `cheek_lightness_right`, `cheek_lightness_difference` (left - right
    ///   mean L*), `cheek_lightness_ratio` (min/max), `clipped_highlights`, `clipped_shadows`
    ///   (fractions of the face centre).
    public static let measureNames = [
        "yaw", "abs_yaw", "roll", "abs_roll", "identity_distance", "sharpness", "cheek_texture",
        "cheek_lightness_left", "cheek_lightness_right", "cheek_lightness_difference", "cheek_lightness_ratio",
        "clipped_highlights", "clipped_shadows",
    ]

    /// Laplacian variance over both cheek regions (`ChipGeometry.leftCheek`, `rightCheek`) of the grey
    /// chip: the mean of the two regions' variances. Airbrushed or "plastic" skin scores near 0.
    public static func cheekTexture(chip: RGBImage) -> Double {
        let plane = ColorSpace.lumaPlane(chip)
        let l = ReferenceQuality.laplacianVariance(plane, width: chip.width, height: chip.height, region: ChipGeometry.leftCheek)
        let r = ReferenceQuality.laplacianVariance(plane, width: chip.width, height: chip.height, region: ChipGeometry.rightCheek)
        return (l + r) / 2
    }

    /// The named pipeline measures of an output face (see `measureNames`); chip measures only with a chip,
    /// identity only when the descriptor sizes match.
    public static func measures(reference: CharacterRecord, outputFace: DetectedFace, chip: RGBImage?) -> [String: Double] {
        var m: [String: Double] = [:]
        if outputFace.landmarks.count == 5 {
            let pose = ReferenceQuality.headPose(landmarks: outputFace.landmarks)
            m["yaw"] = pose.yaw; m["abs_yaw"] = abs(pose.yaw)
            m["roll"] = pose.roll; m["abs_roll"] = abs(pose.roll)
        }
        if !outputFace.descriptor.values.isEmpty, outputFace.descriptor.values.count == reference.identity.values.count {
            m["identity_distance"] = outputFace.descriptor.distance(to: reference.identity)
        }
        if let chip, chip.width > 0, chip.height > 0 {
            m["sharpness"] = ReferenceQuality.sharpness(chip: chip)
            m["cheek_texture"] = cheekTexture(chip: chip)
            let light = ReferenceQuality.cheekLightness(chip: chip)
            m["cheek_lightness_left"] = light.left
            m["cheek_lightness_right"] = light.right
            m["cheek_lightness_difference"] = light.left - light.right
            let hi = max(light.left, light.right)
            m["cheek_lightness_ratio"] = hi > 0 ? min(light.left, light.right) / hi : 0
            let clip = ReferenceQuality.clippedFraction(chip: chip)
            m["clipped_highlights"] = clip.over
            m["clipped_shadows"] = clip.under
        }
        return m
    }

    /// Every measurable mode's detector on one output face; findings in catalogue order. Detectors with
    /// a `maxAbsYaw` are skipped on outputs turned further than that (see `skipped`).
    ///
    /// - Parameters:
    ///   - reference: the character (fused attributes and identity).
    ///   - attributes: the output face's attributes; when empty and `chip` and `image` are given they
    ///     are measured here with `FaceAttributeMeter.measure`.
    ///   - outputFace: the output face (landmarks for pose, descriptor for identity).
    ///   - chip: the output face's aligned 150x150 chip (lighting, exposure, sharpness, texture).
    ///   - image: the output image (needed only to measure attributes here).
    ///   - identityThreshold: the identity-drift distance (default dlib's 0.6).
    public static func diagnose(reference: CharacterRecord, output attributes: FaceAttributes, outputFace: DetectedFace,
                                chip: RGBImage?, image: RGBImage?,
                                identityThreshold: Double = FaceDescriptor.sameIdentityDistance,
                                modes: [DriftMode] = DriftCatalogue.all) -> [DriftFinding] {
        assess(reference: reference, output: attributes, outputFace: outputFace, chip: chip, image: image,
               identityThreshold: identityThreshold, modes: modes, levels: false).findings
    }

    /// `diagnose`'s findings, and every measurable mode's level (`DriftLevels`), from one measurement.
    /// `levels: false` skips the levels (the local search diagnoses every candidate and needs only findings).
    public static func assess(reference: CharacterRecord, output attributes: FaceAttributes, outputFace: DetectedFace,
                              chip: RGBImage?, image: RGBImage?,
                              identityThreshold: Double = FaceDescriptor.sameIdentityDistance,
                              modes: [DriftMode] = DriftCatalogue.all,
                              levels wanted: Bool = true) -> (findings: [DriftFinding], levels: [String: Double]) {
        var attrs = attributes
        if attrs.items.isEmpty, let chip, let image {
            attrs = FaceAttributeMeter.measure(chip: chip, landmarks: outputFace.landmarks, box: outputFace.box, image: image)
        }
        let named = measures(reference: reference, outputFace: outputFace, chip: chip)
        var out: [DriftFinding] = []
        var levels: [String: Double] = [:]
        for mode in modes {
            guard var d = mode.detector else { continue }
            if let limit = d.maxAbsYaw, let yaw = named["abs_yaw"], yaw > limit { continue }
            if mode.id == "identity_drift" || d.measure == "identity_distance" { d.threshold = identityThreshold }
            if let f = evaluate(mode.id, d, reference: reference, output: attrs, measures: named) { out.append(f) }
            if wanted, let l = DriftLevels.level(mode.id, d, reference: reference, output: attrs, measures: named) { levels[mode.id] = l }
        }
        return (out, levels)
    }

    /// One component of a measurement: a named one, or "C*" (chroma from a* and b*).
    static func component(_ m: AttributeMeasurement, _ name: String) -> Double? {
        if let k = m.components.firstIndex(of: name), k < m.values.count { return m.values[k] }
        if name == "C*", let a = component(m, "a*"), let b = component(m, "b*") { return (a * a + b * b).squareRoot() }
        return nil
    }

    /// The reference value of a pipeline measure, where the character's references carry one (their
    /// quality checks: sharpness, |yaw| as frontality, |roll|; their kept measures: cheek texture),
    /// quality-weighted.
    static func referenceMeasure(_ reference: CharacterRecord, _ name: String) -> Double? {
        let value: (ReferenceRecord) -> Double?
        switch name {
        case "sharpness", "abs_yaw", "abs_roll":
            let check = ["sharpness": "sharpness", "abs_yaw": "frontality", "abs_roll": "roll"][name]!
            value = { r in r.quality.checks.first(where: { $0.name == check })?.value }
        case "cheek_texture": value = { $0.measures?["cheek_texture"] }
        case "identity_distance": return 0
        default: return nil
        }
        var sum = 0.0, total = 0.0
        for r in reference.references {
            guard let v = value(r), v.isFinite else { continue }
            let w = max(r.quality.weight, 1e-3)
            sum += w * v; total += w
        }
        return total > 0 ? sum / total : nil
    }

    /// Evaluates one detector; nil when not drifting or not measurable on this output.
    public static func evaluate(_ modeId: String, _ d: DriftMode.Detector, reference: CharacterRecord,
                                output: FaceAttributes, measures: [String: Double]) -> DriftFinding? {
        let f = QAFormat.fixed
        func exceeds(_ delta: Double) -> Bool {
            switch d.direction {
            case .increase: return delta > d.threshold
            case .decrease: return delta < -d.threshold
            case .either: return abs(delta) > d.threshold
            }
        }
        switch d.source {
        case .pipeline:
            guard let v = measures[d.measure] else { return nil }
            let refValue = referenceMeasure(reference, d.measure)
            let hit: Bool
            switch d.comparison {
            case .value:
                func past(_ x: Double) -> Bool {
                    d.direction == .decrease ? x < d.threshold : d.direction == .increase ? x > d.threshold : abs(x) > abs(d.threshold)
                }
                hit = past(v)
                guard hit else { return nil }
                // The character's own references are past the limit too (e.g. 64 px generated faces are
                // all "soft" by a photo's standard): that is how the character looks, not drift.
                if let r = refValue, past(r) { return nil }
                let refText = refValue.map { "; references \(f($0, 3))" } ?? ""
                let op = d.direction == .decrease ? "<" : ">"
                return DriftFinding(modeId: modeId, measured: v, referenceValue: refValue, delta: v - d.threshold,
                                    threshold: d.threshold, unit: d.unit,
                                    detail: "\(d.measure) \(f(v, 3)) \(op) \(f(d.threshold, 3)) \(d.unit)\(refText)")
            case .absoluteDelta, .relativeDelta:
                guard let r = refValue else { return nil }
                let delta = d.comparison == .absoluteDelta ? v - r : (r != 0 ? (v - r) / abs(r) : 0)
                guard exceeds(delta) else { return nil }
                return DriftFinding(modeId: modeId, measured: v, referenceValue: r, delta: delta, threshold: d.threshold, unit: d.unit,
                                    detail: "\(d.measure) \(f(v, 3)) vs reference \(f(r, 3)): delta \(f(delta, 3)) \(d.unit), limit \(f(d.threshold, 3))")
            case .labelChange, .deltaE:
                return nil
            }
        case .attribute:
            guard let out = output[d.measure], let ref = reference.attributes[d.measure],
                  !out.values.isEmpty, !ref.values.isEmpty else { return nil }
            switch d.comparison {
            case .deltaE:
                guard let oL = component(out, "L*"), let oa = component(out, "a*"), let ob = component(out, "b*"),
                      let rL = component(ref, "L*"), let ra = component(ref, "a*"), let rb = component(ref, "b*") else { return nil }
                let dE = ((oL - rL) * (oL - rL) + (oa - ra) * (oa - ra) + (ob - rb) * (ob - rb)).squareRoot()
                guard dE > d.threshold else { return nil }
                return DriftFinding(modeId: modeId, measured: dE, referenceValue: 0, delta: dE, threshold: d.threshold, unit: d.unit,
                                    detail: "\(d.measure) output L*a*b* (\(f(oL, 1)), \(f(oa, 1)), \(f(ob, 1))) \"\(out.label)\" vs reference " +
                                        "(\(f(rL, 1)), \(f(ra, 1)), \(f(rb, 1))) \"\(ref.label)\": ΔE*ab \(f(dE, 1)) > \(f(d.threshold, 1))")
            case .labelChange:
                let ok = DriftCatalogue.labelKey(attribute: d.measure, label: out.label)
                let rk = DriftCatalogue.labelKey(attribute: d.measure, label: ref.label)
                guard ok != "unknown", rk != "unknown", ok != rk else { return nil }
                return DriftFinding(modeId: modeId, measured: 1, referenceValue: 0, delta: 1, threshold: d.threshold, unit: d.unit,
                                    detail: "\(d.measure) \"\(out.label)\" (\(ok)) vs reference \"\(ref.label)\" (\(rk))")
            case .absoluteDelta, .relativeDelta, .value:
                guard let c = d.component, let v = component(out, c), let r = component(ref, c) else { return nil }
                if d.comparison == .value {
                    let hit = d.direction == .decrease ? v < d.threshold : v > d.threshold
                    guard hit else { return nil }
                    return DriftFinding(modeId: modeId, measured: v, referenceValue: r, delta: v - d.threshold, threshold: d.threshold,
                                        unit: d.unit, detail: "\(d.measure).\(c) \(f(v, 3)) past \(f(d.threshold, 3)) \(d.unit)")
                }
                let delta = d.comparison == .absoluteDelta ? v - r : (r != 0 ? (v - r) / abs(r) : 0)
                guard exceeds(delta) else { return nil }
                return DriftFinding(modeId: modeId, measured: v, referenceValue: r, delta: delta, threshold: d.threshold, unit: d.unit,
                                    detail: "\(d.measure).\(c) output \(f(v, 2)) vs reference \(f(r, 2)): delta \(f(delta, 3)) " +
                                        "\(d.unit)\(d.comparison == .relativeDelta ? " (relative)" : ""), limit \(f(d.threshold, 3))")
            }
        }
    }
}
