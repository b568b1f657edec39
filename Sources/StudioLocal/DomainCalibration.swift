import StudioKit
import StudioFace
import StudioImage

/// The same-person threshold for faces from the local generator.
///
/// dlib's 0.6 was set on real photos. This generator's faces are far less diverse (different seeds
/// are often closer than 0.6), so 0.6 would accept strangers. The calibrated threshold is the distance
/// below which at most `targetFalseAcceptRate` of different-seed pairs fall: the empirical quantile of
/// the different-seed distance distribution, from every pair of `samples` seeds.
public struct DomainCalibration: Sendable, Codable, Equatable {
    public var domain: String
    /// Side of the square image the faces are rendered at before detection (64 px upscaled, bilinear).
    public var renderSize: Int
    public var firstSeed: UInt64
    /// Seeds rendered (`firstSeed ..< firstSeed + samples`).
    public var samples: Int
    /// Seeds in which MMOD found a face; the others are left out (the generator sometimes draws
    /// something that is not a face) and seeds are drawn until `detected` reaches the target.
    public var detected: Int
    public var pairs: Int
    public var targetFalseAcceptRate: Double
    public var threshold: Double
    /// Different-seed distances: min, p01, p05, median, p95, max.
    public var distanceSummary: [String: Double]
    /// Fraction of pairs below dlib's 0.6 (what the real-photo threshold would accept).
    public var falseAcceptRateAtDlibThreshold: Double
    /// Measurement noise of a distance near the threshold: the root-mean-square change of
    /// `d(face i, face j)` when face i is re-rendered at a 3% larger scale around the same centre
    /// (264 px, centre 256 px crop), over the pairs within ±0.1 of the threshold. The verification
    /// loop's uncertain band (`UncertaintyModel`). Nil in files written before it was measured.
    public var distanceNoise: Double?
    /// Pairs the noise was measured on.
    public var noisePairs: Int?
}

public enum GeneratedCalibration {
    /// Renders seeds from `firstSeed` on until `faces` of them have a detected face (at most 4x as
    /// many seeds), embeds each face with the native pipeline and picks the threshold from all
    /// different-seed pairs (`faces * (faces - 1) / 2` of them).
    ///
    /// - Parameters:
    ///   - progress: called with the number of faces embedded so far.
    ///   - distances: called once with every different-seed pair's distance, ascending (for plots).
    public static func run(generator: DCGANGenerator, pipeline: FacePipeline, faces: Int, firstSeed: UInt64 = 0,
                           renderSize: Int = 256, targetFalseAcceptRate: Double = 0.01,
                           progress: (Int) -> Void = { _ in }, distances observe: ([Double]) -> Void = { _ in }) -> DomainCalibration {
        precondition(faces >= 2, "calibration needs at least two faces")
        var descriptors: [FaceDescriptor] = []
        var variants: [FaceDescriptor?] = []
        var start = 0
        while descriptors.count < faces && start < 4 * faces {
            let seeds = (start..<(start + 16)).map { firstSeed &+ UInt64($0) }
            for img in generator.generate(seeds: seeds) {
                start += 1
                let big = img.resizedBilinear(width: renderSize, height: renderSize)
                if let face = pipeline.faces(in: big, upsample: 0).max(by: { $0.box.area < $1.box.area }) {
                    descriptors.append(face.descriptor)
                    let m = renderSize * 33 / 32, o = (m - renderSize) / 2
                    let variant = img.resizedBilinear(width: m, height: m)
                        .cropped(Rect(left: o, top: o, right: o + renderSize - 1, bottom: o + renderSize - 1))
                    variants.append(pipeline.faces(in: variant, upsample: 0).max(by: { $0.box.area < $1.box.area })?.descriptor)
                    if descriptors.count == faces { break }
                }
            }
            progress(descriptors.count)
        }
        var distances: [Double] = []
        distances.reserveCapacity(descriptors.count * (descriptors.count - 1) / 2)
        for i in 0..<descriptors.count { for j in (i + 1)..<descriptors.count { distances.append(descriptors[i].distance(to: descriptors[j])) } }
        distances.sort()
        observe(distances)
        let threshold = quantileThreshold(sortedDistances: distances, rate: targetFalseAcceptRate)
        var noise = 0.0, noisePairs = 0
        for i in 0..<descriptors.count {
            guard let v = variants[i] else { continue }
            for j in 0..<descriptors.count where j != i {
                let d = descriptors[i].distance(to: descriptors[j])
                guard abs(d - threshold) <= 0.1 else { continue }
                let e = v.distance(to: descriptors[j]) - d
                noise += e * e; noisePairs += 1
            }
        }
        func q(_ p: Double) -> Double { distances.isEmpty ? .nan : distances[min(distances.count - 1, Int((Double(distances.count - 1) * p).rounded()))] }
        return DomainCalibration(
            domain: DCGANGenerator.domain, renderSize: renderSize, firstSeed: firstSeed, samples: start,
            detected: descriptors.count, pairs: distances.count, targetFalseAcceptRate: targetFalseAcceptRate,
            threshold: threshold,
            distanceSummary: ["min": q(0), "p01": q(0.01), "p05": q(0.05), "median": q(0.5), "p95": q(0.95), "max": q(1)],
            falseAcceptRateAtDlibThreshold: distances.isEmpty ? .nan
                : Double(distances.filter { $0 < FaceDescriptor.sameIdentityDistance }.count) / Double(distances.count),
            distanceNoise: noisePairs > 0 ? (noise / Double(noisePairs)).squareRoot() : nil, noisePairs: noisePairs)
    }

    /// The largest threshold `t` such that at most `rate` of the distances are below `t` (a pair is
    /// accepted when its distance is strictly below the threshold).
    public static func quantileThreshold(sortedDistances d: [Double], rate: Double) -> Double {
        guard !d.isEmpty else { return .nan }
        let allowed = Int((rate * Double(d.count)).rounded(.down))   // pairs that may pass
        return allowed < d.count ? d[allowed] : d[d.count - 1]
    }
}

/// The lookalike threshold: how close a search over the generator's whole latent space gets to a
/// *different* person (the winner's curse of optimising the judge's own metric).
///
/// For each target — a generated face from seed `firstSeed + i` — the local backend runs a full shot
/// (the standard ladder's attempts, each with its whole evaluation budget, no anchor, no early stop) from
/// a search seed unrelated to the target, and records the lowest judged distance of the shot. An
/// unanchored output must be closer than every such lookalike to count as the character.
public enum LookalikeCalibration {
    /// Measured with `studio bench calibrate --domain generated --lookalike 6` (targets: seeds 3000-3005;
    /// search seeds 77-82; attempts 1-3 of the standard ladder, 320/480/640 latents): lowest distances per
    /// target 0.352, 0.293, 0.314, 0.364, 0.292, 0.353; again after unprompted draws stopped being
    /// rescaled onto the prior's sphere: 0.359, 0.329, 0.337, 0.348, 0.430, 0.389. The threshold is the
    /// lowest distance either run reached, rounded down.
    public static let threshold = 0.29

    /// Lowest judged distance per target reached by whole-space searches for it.
    public static func run(generator: DCGANGenerator, pipeline: FacePipeline, targets: Int, firstSeed: UInt64 = 3000,
                           searchSeed: UInt64 = 77, attempts: Int = 3, renderSize: Int = 256,
                           progress: (Int) -> Void = { _ in }) throws -> [(seed: UInt64, distance: Double)] {
        let backend = LocalBackend(generator: generator, pipeline: pipeline)
        var out: [(UInt64, Double)] = []
        var seed = firstSeed
        while out.count < targets && seed < firstSeed + UInt64(targets * 4) {
            defer { seed += 1 }
            let img = generator.generate(seeds: [seed])[0].resizedBilinear(width: renderSize, height: renderSize)
            guard let face = pipeline.faces(in: img, upsample: 0).max(by: { $0.box.area < $1.box.area }) else { continue }
            let c = CharacterRecord(id: "lookalike-\(seed)", tenant: "calibration", name: "target \(seed)", createdAt: 0,
                                    identity: face.descriptor, references: [], attributes: FaceAttributes(), metadata: [:])
            // Threshold 0 and no band: the search never stops early; it spends each attempt's whole budget.
            let never = UncertaintyModel(threshold: 0, sigma: 0, band: 0)
            let shot = ShotRequest(index: 0, prompt: "", negatives: [], seed: searchSeed + UInt64(out.count))
            var best = Double.infinity
            for attempt in 1...attempts {
                let step = StrictnessLadder.standard.step(attempt: attempt)
                let cond = Conditioning(character: c, shot: shot, attempt: attempt, seed: VerificationLoop.seed(shot: shot, attempt: attempt),
                                        strictness: step,
                                        negative: NegativePrompt.synthesize(character: c, request: [], strictness: step.level, diagnosed: []),
                                        targetedModes: [], uncertainty: never)
                let output = try backend.generate(cond) { _ in }
                if let d = pipeline.faces(in: output.image, upsample: 0).max(by: { $0.box.area < $1.box.area })?.descriptor.distance(to: face.descriptor) {
                    best = min(best, d)
                }
            }
            out.append((seed, best))
            progress(out.count)
        }
        return out
    }
}
