import StudioKit
import StudioFace
import StudioImage

/// Why a fictional character could not be made from a seed. The message names the seed, what
/// failed and what to try instead.
public struct FictionalCharacterError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// MMOD finds no face in the seed's render.
        case noFace
        /// The seed's render fails a check of the generated reference gate (`failingChecks`).
        case qualityGate
        /// Too few variations stayed one person and passed the gate within the attempts allowed.
        case tooFewVariations
        /// Registration refused the references (e.g. a stranger among them) or could not encode them.
        case registration
    }
    public let kind: Kind
    public let seed: UInt64
    /// The failing quality checks (for `.qualityGate`), e.g. ["frontality", "lighting"].
    public let failingChecks: [String]
    public let message: String
    public var description: String { message }

    public init(kind: Kind, seed: UInt64, failingChecks: [String] = [], message: String) {
        self.kind = kind; self.seed = seed; self.failingChecks = failingChecks; self.message = message
    }
}

/// A fictional character drawn from the local face generator: a seed's face and variations of it,
/// registered like photo references but against the generated domain's gate and threshold.
///
/// References: the seed's latent `z0 = DCGANGenerator.latent(seed:)` and up to `references − 1`
/// variations `z = (z0 + ε) · |z0| / |z0 + ε|`, where `ε = variationScale · latent(seed: s_i)` and
/// `s_i` is the i-th output of `SplitMix64(seed: seed ^ variationStream)` (so ε is a seeded standard
/// normal vector scaled by `variationScale`, and `z` keeps z0's length). Each latent is rendered at
/// 64 px, upscaled bilinearly to 256 px (`GeneratedQuality.upscaled`) and encoded as PNG. A variation
/// is kept only when MMOD (upsample 0) finds a face in it, that face passes the gate
/// (`options.thresholds`, no failing check) and its descriptor is closer than
/// `options.maxDistanceToSeed` to the seed face's; at most `options.maxVariationAttempts` are tried.
/// Everything is a function of the seed: the same seed gives the same PNG bytes and identity.
public enum FictionalCharacter {
    public static let generatorName = DCGANGenerator.domain
    /// XORed into the seed to start the variations' seed stream (ASCII "variatio").
    public static let variationStream: UInt64 = 0x7661_7269_6174_696F

    public struct Options: Sendable {
        /// References to store: the seed's face and `references − 1` variations (1...16).
        public var references: Int = 3
        /// Standard deviation of each component of ε before re-scaling (latents are standard normal,
        /// |z0| ≈ 10). See `defaultVariationScale`.
        public var variationScale: Double = FictionalCharacter.defaultVariationScale
        /// A variation whose descriptor is this far or farther from the seed face's is another person.
        public var maxDistanceToSeed: Double = FictionalCharacter.defaultMaxDistanceToSeed
        /// Variations tried at most (kept or not); nil = `attemptsPerVariation` × (references − 1).
        public var maxVariationAttempts: Int? = nil
        public var thresholds: QualityThresholds = .generated
        /// Same-person threshold for the generated domain (registration's stranger check).
        public var strangerThreshold: Double = GeneratedCalibration.defaultThreshold
        public var tenant: String = "default"
        public init() {}
    }

    /// Defaults measured with `studio bench generated-quality --variation-scale 0.2 --variation-scale 0.3
    /// --variation-scale 0.5 --variation-scale 0.7 --variation-seeds 40 --per-seed 4` (the first 40 seeds
    /// of 0..<200 that pass the gate, 4 variations each, 160 per scale), descriptor distance to the seed face:
    ///
    /// | scale | p05 | p25 | p50 | p75 | p95 | no face / failing the gate | kept (< 0.35, passing) |
    /// |---|---|---|---|---|---|---|---|
    /// | 0.2 | 0.176 | 0.221 | 0.262 | 0.312 | 0.446 | 3 / 7 | 129 (81 %) |
    /// | 0.3 | 0.233 | 0.288 | 0.332 | 0.399 | 0.504 | 4 / 7 | 87 (54 %) |
    /// | 0.5 | 0.316 | 0.384 | 0.438 | 0.497 | 0.598 | 3 / 12 | 19 (12 %) |
    /// | 0.7 | 0.380 | 0.440 | 0.507 | 0.547 | 0.646 | 2 / 13 | 7 (4 %) |
    ///
    /// At 0.2 the variations change expression, hair and light but visibly stay one person (the
    /// bench's `--sheet` shows them); from 0.5 on most are another person. The bound 0.35 lies below
    /// the smallest distance between two different seeds in the generated calibration (0.441, seeds
    /// 0..<51) and well below the same-person threshold (0.508), so a kept variation is closer to the
    /// seed face than any two different draws measured.
    public static let defaultVariationScale = 0.2
    public static let defaultMaxDistanceToSeed = 0.35
    /// Variations tried per variation needed: 81 % are kept at the defaults, so the 8 tries for the
    /// default 3 references would yield fewer than 2 with probability 6e-5 if tries were independent
    /// (they are not quite: some seeds' variations drift more than others').
    public static let attemptsPerVariation = 4

    /// A variation that was tried and not kept, and why.
    public struct Rejection: Sendable, Equatable {
        public var attempt: Int
        public var reason: String
    }

    /// The rendered references of a seed.
    public struct Rendered: Sendable {
        public var seed: UInt64
        /// PNG bytes at 256 px: the seed's face first, then the kept variations.
        public var references: [ReferenceInput]
        /// The latent of each reference.
        public var latents: [[Float]]
        /// Descriptor distance of each reference's face to the seed face's (0 for the seed itself).
        public var distancesToSeed: [Double]
        /// The seed face's quality report under the gate.
        public var seedQuality: QualityReport
        /// Variations tried (kept and rejected).
        public var attempts: Int
        public var rejected: [Rejection]
    }

    /// The latent of variation `attempt` (0-based) of a seed, before any check.
    public static func variationLatent(seed: UInt64, attempt: Int, scale: Double) -> [Float] {
        let z0 = DCGANGenerator.latent(seed: seed)
        var g = SplitMix64(seed: seed ^ variationStream)
        var s: UInt64 = 0
        for _ in 0...attempt { s = g.next() }
        let e = DCGANGenerator.latent(seed: s)
        var z = [Double](repeating: 0, count: z0.count)
        var n0 = 0.0, n1 = 0.0
        for k in 0..<z0.count {
            z[k] = Double(z0[k]) + scale * Double(e[k])
            n0 += Double(z0[k]) * Double(z0[k]); n1 += z[k] * z[k]
        }
        let r = n1 > 0 ? (n0 / n1).squareRoot() : 1
        return z.map { Float($0 * r) }
    }

    /// Renders one latent at 64 px and upscales it to `GeneratedQuality.renderSize`.
    public static func render(_ z: [Float], generator: DCGANGenerator) -> RGBImage {
        GeneratedQuality.upscaled(generator.generate([z])[0])
    }

    /// The references of a seed (nothing is registered or stored).
    public static func render(seed: UInt64, generator: DCGANGenerator, pipeline: FacePipeline,
                              options: Options) throws(FictionalCharacterError) -> Rendered {
        precondition((1...16).contains(options.references), "FictionalCharacter: references must be 1...16")
        let z0 = DCGANGenerator.latent(seed: seed)
        let image0 = render(z0, generator: generator)
        guard let a0 = GeneratedQuality.assess(image0, pipeline: pipeline, thresholds: options.thresholds) else {
            throw FictionalCharacterError(
                kind: .noFace, seed: seed, failingChecks: ["face_count"],
                message: "seed \(seed): the generator's draw has no detectable face (MMOD, upsample 0, finds none in the 256 px render); try another seed")
        }
        let failing = a0.report.checks.filter { $0.verdict == .fail }
        guard failing.isEmpty else {
            throw FictionalCharacterError(
                kind: .qualityGate, seed: seed, failingChecks: failing.map(\.name),
                message: "seed \(seed): the generator's face fails the generated reference gate: "
                    + failing.map { "\($0.name): \($0.detail)" }.joined(separator: " / ")
                    + "; try another seed")
        }
        let d0 = pipeline.recognizer.descriptor(a0.face.chip)
        var references = [try png(image0, name: fileName(seed: seed, variation: nil), seed: seed)]
        var latents = [z0], distances = [0.0], rejected: [Rejection] = []
        var attempt = 0
        let maxAttempts = options.maxVariationAttempts ?? attemptsPerVariation * (options.references - 1)
        while references.count < options.references && attempt < maxAttempts {
            defer { attempt += 1 }
            let z = variationLatent(seed: seed, attempt: attempt, scale: options.variationScale)
            let image = render(z, generator: generator)
            guard let a = GeneratedQuality.assess(image, pipeline: pipeline, thresholds: options.thresholds) else {
                rejected.append(Rejection(attempt: attempt, reason: "no face detected")); continue
            }
            let fails = a.failing
            guard fails.isEmpty else {
                rejected.append(Rejection(attempt: attempt, reason: "fails " + fails.joined(separator: ", "))); continue
            }
            let d = pipeline.recognizer.descriptor(a.face.chip).distance(to: d0)
            guard d < options.maxDistanceToSeed else {
                rejected.append(Rejection(attempt: attempt, reason: "distance \(formatFixed(d, 3)) to the seed face >= \(formatFixed(options.maxDistanceToSeed, 3))"))
                continue
            }
            references.append(try png(image, name: fileName(seed: seed, variation: attempt), seed: seed))
            latents.append(z); distances.append(d)
        }
        guard references.count == options.references else {
            let why = rejected.map { "variation \($0.attempt): \($0.reason)" }.joined(separator: "; ")
            throw FictionalCharacterError(
                kind: .tooFewVariations, seed: seed,
                message: "seed \(seed): only \(references.count - 1) of \(options.references - 1) variations stayed the same person and passed the gate in \(attempt) attempts (\(why)); ask for fewer --references or try another seed")
        }
        return Rendered(seed: seed, references: references, latents: latents, distancesToSeed: distances,
                        seedQuality: a0.report, attempts: attempt, rejected: rejected)
    }

    /// Renders the references and registers them (nothing is stored): the record's metadata says
    /// `origin: generated`, the generator, the seed and how many references were rendered.
    public static func create(name: String, seed: UInt64, generator: DCGANGenerator, pipeline: FacePipeline,
                              options: Options, id: String, now: Int64) throws(FictionalCharacterError) -> (Registration, Rendered) {
        let rendered = try render(seed: seed, generator: generator, pipeline: pipeline, options: options)
        var reg = RegistrationOptions()
        reg.tenant = options.tenant
        reg.upsample = 0
        reg.thresholds = options.thresholds
        reg.strangerThreshold = options.strangerThreshold
        var registration: Registration
        do {
            registration = try CharacterRegistration.prepare(name: name, references: rendered.references, pipeline: pipeline,
                                                             options: reg, id: id, now: now)
        } catch {
            throw FictionalCharacterError(kind: .registration, seed: seed,
                                          message: "seed \(seed): \(error); try another seed")
        }
        registration.character.metadata = [
            "references_rendered": String(options.references),
            "variations_tried": String(rendered.attempts),
            "variation_scale": formatFixed(options.variationScale, 3),
            "stranger_threshold": formatFixed(options.strangerThreshold, 3),
        ]
        registration.character.origin = .generated(generator: generatorName, seed: seed)
        return (registration, rendered)
    }

    /// The first seed after `seed` (at most `limit` tried) whose own face is detected and passes the
    /// gate, to suggest when a seed is refused; nil when none of them does.
    public static func nextPassingSeed(after seed: UInt64, generator: DCGANGenerator, pipeline: FacePipeline,
                                       thresholds: QualityThresholds = .generated, limit: Int = 20) -> UInt64? {
        var s = seed
        for _ in 0..<limit {
            s = s &+ 1
            if let a = GeneratedQuality.assess(render(DCGANGenerator.latent(seed: s), generator: generator),
                                               pipeline: pipeline, thresholds: thresholds), a.failing.isEmpty { return s }
        }
        return nil
    }

    /// `seed-<N>.png` for the seed's face, `seed-<N>-var-<i>.png` for variation i.
    public static func fileName(seed: UInt64, variation: Int?) -> String {
        variation.map { "seed-\(seed)-var-\($0).png" } ?? "seed-\(seed).png"
    }

    static func png(_ image: RGBImage, name: String, seed: UInt64) throws(FictionalCharacterError) -> ReferenceInput {
        do { return ReferenceInput(fileName: name, bytes: try ImageIO.encodePNG(image)) } catch {
            throw FictionalCharacterError(kind: .registration, seed: seed, message: "seed \(seed): cannot encode \(name): \(error)")
        }
    }
}

extension FictionalCharacter {
    /// Distances of seeded variations to their seed's face, for choosing `variationScale` and
    /// `maxDistanceToSeed`.
    public struct VariationSample: Sendable, Equatable {
        public var seed: UInt64
        public var attempt: Int
        public var scale: Double
        /// nil when the variation has no detected face.
        public var distance: Double?
        /// Checks the variation fails under the gate (`face_count` when no face).
        public var failing: [String]
    }

    /// For each seed whose own face is detected and passes the gate, tries variations
    /// `0 ..< perSeed` at each scale and measures their descriptor distance to the seed face.
    public static func variationSurvey(generator: DCGANGenerator, pipeline: FacePipeline, seeds: [UInt64],
                                       scales: [Double], perSeed: Int, thresholds: QualityThresholds = .generated,
                                       progress: (Int) -> Void = { _ in }) -> [VariationSample] {
        var out: [VariationSample] = []
        for (i, seed) in seeds.enumerated() {
            defer { progress(i + 1) }
            guard let a0 = GeneratedQuality.assess(render(DCGANGenerator.latent(seed: seed), generator: generator),
                                                   pipeline: pipeline, thresholds: thresholds),
                  a0.failing.isEmpty else { continue }
            let d0 = pipeline.recognizer.descriptor(a0.face.chip)
            for scale in scales {
                for attempt in 0..<perSeed {
                    let image = render(variationLatent(seed: seed, attempt: attempt, scale: scale), generator: generator)
                    guard let a = GeneratedQuality.assess(image, pipeline: pipeline, thresholds: thresholds) else {
                        out.append(VariationSample(seed: seed, attempt: attempt, scale: scale, distance: nil, failing: ["face_count"]))
                        continue
                    }
                    out.append(VariationSample(seed: seed, attempt: attempt, scale: scale,
                                               distance: pipeline.recognizer.descriptor(a.face.chip).distance(to: d0),
                                               failing: a.failing))
                }
            }
        }
        return out
    }
}
