#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit
import StudioFace
import StudioImage
import StudioTensor

/// A prompt phrase the local model honours, as a target along a latent direction.
public struct PromptTarget: Sendable, Codable, Equatable {
    /// The direction's name (`LatentDirection.name`).
    public var name: String
    /// Unit vector in latent space.
    public var vector: [Float]
    /// Wanted projection `<z, vector>`. Latents are standard normal, so a projection is in population
    /// standard deviations: 1.5 asks for a clearly visible move, the sign says which way.
    public var target: Double

    public init(name: String, vector: [Float], target: Double) { self.name = name; self.vector = vector; self.target = target }
}

/// What the local backend makes of a prompt.
public struct PromptPlan: Sendable, Equatable {
    public var targets: [PromptTarget]
    /// For the report: words it could not honour, conflicts.
    public var messages: [String]
    /// Drift modes the targets deliberately cause (not penalised, not counted as drift).
    public var requestedModes: [String]
    public init(targets: [PromptTarget] = [], messages: [String] = [], requestedModes: [String] = []) {
        self.targets = targets; self.messages = messages; self.requestedModes = requestedModes
    }

    /// The drift-catalogue modes a move along a discovered direction causes by design.
    public static func requestedModes(direction: String, sign: Double) -> [String] {
        switch (direction, sign > 0) {
        case ("yaw", _): return ["pose_drift_yaw"]
        case ("brightness", true): return ["overexposure", "skin_lightening", "skin_type_change", "hair_lightening", "iris_lightening"]
        case ("brightness", false): return ["underexposure", "skin_darkening", "skin_type_change", "hair_darkening"]
        case ("light_side", true): return ["lighting_from_left"]
        case ("light_side", false): return ["lighting_from_right"]
        case ("warmth", true): return ["skin_warming", "skin_reddening", "makeup_colour_cast"]
        case ("warmth", false): return ["skin_cooling", "makeup_colour_cast"]
        default: return []
        }
    }
}

/// The search's knobs. Defaults are what `studio bench gen` measured (see docs/generation.md).
public struct LatentSearchOptions: Sendable, Codable, Equatable {
    /// Random latents drawn (from the attempt's seed) before the chains start from the best of them.
    public var initialSamples = 24
    /// Parallel search chains; each proposes `proposalsPerChain` mutations per generation.
    public var chains = 4
    public var proposalsPerChain = 2
    /// Evaluation budget of an attempt at each negative-strictness level (the last repeats).
    public var evaluationsPerLevel = [320, 480, 640]
    /// Mutation step (standard deviation per latent value) at the start, and its limits. A chain's
    /// step grows x1.3 after an improving generation and shrinks x0.85 after one without.
    public var initialStep = 0.5
    public var minStep = 0.04
    public var maxStep = 1.0
    /// Drift restart: a chain whose identity distance stays more than `restartGap` above the best
    /// chain's for `restartPatience` generations, or that loses the face, restarts from the best latent.
    public var restartGap = 0.08
    public var restartPatience = 3
    /// Side the 64 px draw is upscaled to for detection during the search (MMOD needs faces >= 80 px),
    /// and for landmarks, chips and the output.
    public var detectionSize = 128
    public var renderSize = 256
    /// The search stops once a candidate is this far below the judge's uncertain band (search and
    /// judge detect at different sizes, so their distances differ by a few thousandths).
    public var targetMargin = 0.02
    /// Identity below `goal − identityFloorMargin` earns nothing more in the cost (see `cost`).
    public var identityFloorMargin = 0.05
    /// A prompt target counts as met within this many standard deviations.
    public var promptTolerance = 0.25
    /// Cost of each measured drift finding of a negative-prompt mode, times the fragment weight.
    public var penaltyScale = 0.1
    /// Trust region of an anchored search: latents stay within this distance of the character's anchor
    /// (moves along the prompt's directions excepted). Measured: a random move of length 2 from 12
    /// anchors kept every face within 0.44 of the anchor's (length 3: 0.47 and one lost face; length 4:
    /// 0.56), so every latent in the region shows the character and the search cannot mine lookalikes.
    public var trustRadius = 2.0

    public init() {}
}

/// The built-in local backend: the DCGAN face generator with identity injected by searching its latent
/// space (see `LocalBackend.generate`).
public struct LocalBackend: GenerationBackend, Sendable {
    public let name = "local"
    public let generator: DCGANGenerator
    public let pipeline: FacePipeline
    public var options: LatentSearchOptions
    /// Identity injection. Off, the backend draws one image from the attempt's seed with the prompt's
    /// directions applied and never looks at the character (the ablation `studio bench gen` measures).
    public var injectIdentity: Bool
    /// Turns a prompt into latent targets (`PromptVocabulary` + `LatentDirections` by default).
    public var planPrompt: @Sendable (String) -> PromptPlan

    public init(generator: DCGANGenerator, pipeline: FacePipeline, options: LatentSearchOptions = LatentSearchOptions(),
                injectIdentity: Bool = true, planPrompt: @escaping @Sendable (String) -> PromptPlan = { _ in PromptPlan() }) {
        self.generator = generator; self.pipeline = pipeline; self.options = options
        self.injectIdentity = injectIdentity; self.planPrompt = planPrompt
    }

    /// One evaluated latent.
    struct Candidate {
        var z: [Float]
        /// Identity distance to the character (nil: no face found).
        var distance: Double?
        /// Normalised prompt shortfall (0 when every target is met).
        var shortfall: Double
        /// Weighted drift findings of the negative prompt's measurable modes.
        var penalty: Double
        var penaltyModes: [String]
        var cost: Double
    }

    /// The character's latent anchor: its own latent when the character was drawn from this generator
    /// (`studio character create --seed N` stores `generator` and `seed` in its sealed metadata); nil for
    /// characters registered from photos.
    public static func anchor(for character: CharacterRecord) -> [Float]? {
        guard case .generated(DCGANGenerator.domain, let seed) = character.origin else { return nil }
        return DCGANGenerator.latent(seed: seed)
    }

    /// Generates one image for an attempt.
    ///
    /// With identity injection the backend searches the generator's latent space for a latent whose
    /// face — measured by the same native pipeline that verifies outputs — is close to the character's
    /// identity, while meeting the prompt's latent targets and avoiding the negative prompt's
    /// measurable drift modes. The cost of a latent `z` is
    ///
    ///     s · max(d(z), goal − 0.05) / t  +  (1 − s) · P(z)  +  penaltyScale · Σ weight(finding)
    ///
    /// with `s` the attempt's identity strength, `d` the descriptor distance to the character (likeness
    /// beyond a safe margin below the goal earns nothing, so the prompt decides there), `t` the
    /// verification threshold, `P` the mean over prompt targets of `max(0, |target| − sign · <z, v>)² /
    /// max(1, target²)`, and findings the negative prompt's measurable modes that the candidate's face
    /// shows (`NegativePrompt.penaltyTerms`, via `DriftDetector`). A missing face costs `d = 2`.
    ///
    /// Prior: every latent is kept on the sphere of radius √100 = 10, where a 100-D standard normal
    /// latent lies (its norm is 10 ± 0.7), so the generator always sees an in-distribution input.
    ///
    /// Search: `initialSamples` latents from the attempt's seed (with the prompt's projections set),
    /// then `chains` (1+λ) evolution strategies from the best of them, with step-size adaptation, until
    /// a candidate is below `t − band − targetMargin` with its prompt met and no penalised drift, or
    /// the budget (`evaluationsPerLevel`) is spent. Active drift detection: a chain whose identity
    /// drifts away from the best chain's, or whose face is lost, is restarted from the best latent.
    /// Everything is seeded by the attempt's seed: the same request gives the same image.
    public func generate(_ c: Conditioning, progress: (GenerationProgress) -> Void) throws -> GeneratedOutput {
        let t0 = monotonicSeconds()
        let blasThreads = ComputeThreads.current
        ComputeThreads.set(1)
        defer { ComputeThreads.set(blasThreads) }
        let plan = planPrompt(c.shot.prompt)
        if !injectIdentity {
            let z = Self.applyTargets(DCGANGenerator.latent(seed: c.seed), plan.targets)
            let image = render(generator.generate([z])[0])
            progress(GenerationProgress(done: 1, total: 1))
            var notes: [String: Double] = ["evaluations": 1, "search_seconds": monotonicSeconds() - t0]
            for t in plan.targets { notes["projection." + t.name] = Self.projection(z, t.vector) }
            return GeneratedOutput(image: image, notes: notes, flags: ["identity_injection": false], messages: plan.messages + ["identity injection off: the character was not used"],
                                   requestedModes: plan.requestedModes)
        }

        var search = LatentSearch(backend: self, conditioning: c, plan: plan)
        let chosen = try search.run(progress: progress)
        let seconds = monotonicSeconds() - t0
        return search.output(chosen, image: render(generator.generate([chosen.z])[0]), seconds: seconds)
    }

    /// The output rendering: the 64 px draw upscaled (bilinear) to `renderSize`.
    public func render(_ draw: RGBImage) -> RGBImage {
        draw.resizedBilinear(width: options.renderSize, height: options.renderSize)
    }

    /// Draws, detects, embeds and scores a batch of latents.
    func evaluate(_ zs: [[Float]], character: CharacterRecord, strength s: Double, threshold: Double, goal: Double,
                  targets: [PromptTarget], penalties: [NegativePrompt.PenaltyTerm]) -> [Candidate] {
        let draws = generator.generate(zs)
        let penaltyModes = Set(penalties.map(\.modeId))
        let modes = DriftCatalogue.all.filter { penaltyModes.contains($0.id) }
        // Each draw is measured on its own (detect, align, embed, diagnose), on every core: BLAS is kept
        // to one thread during the search (`generate`), which is faster for these small matrices.
        let measured = ParallelMap.run(count: draws.count) { i in
            self.measure(draws[i], character: character, threshold: threshold, modes: modes)
        }
        var out = zs.map { z in
            Candidate(z: z, distance: nil, shortfall: Self.shortfall(z, targets), penalty: 0, penaltyModes: [], cost: 0)
        }
        for (i, m) in measured.enumerated() {
            out[i].distance = m.distance
            for id in m.findings {
                out[i].penalty += options.penaltyScale * (penalties.first { $0.modeId == id }?.weight ?? 1)
                out[i].penaltyModes.append(id)
            }
        }
        for i in out.indices {
            out[i].cost = cost(distance: out[i].distance, shortfall: out[i].shortfall, penalty: out[i].penalty, strength: s,
                               threshold: threshold, goal: goal)
        }
        return out
    }

    /// The distance the judge will measure for a latent: full render, MMOD without upsampling, the
    /// largest face (nil: no face).
    func judgeDistance(_ z: [Float], character: CharacterRecord) -> Double? {
        let big = render(generator.generate([z])[0])
        return pipeline.faces(in: big, upsample: 0).max(by: { $0.box.area < $1.box.area })?.descriptor.distance(to: character.identity)
    }

    /// One draw's identity distance (nil: no face) and the penalised modes it shows.
    func measure(_ draw: RGBImage, character: CharacterRecord, threshold: Double, modes: [DriftMode]) -> (distance: Double?, findings: [String]) {
        let scale = Double(options.renderSize) / Double(options.detectionSize)
        let small = draw.resizedBilinear(width: options.detectionSize, height: options.detectionSize)
        guard let det = pipeline.detector.detect(small, upsample: 0).max(by: { $0.rect.area < $1.rect.area }) else { return (nil, []) }
        let big = render(draw)
        let r = Rect(left: Int((Double(det.rect.left) * scale).rounded()), top: Int((Double(det.rect.top) * scale).rounded()),
                     right: Int((Double(det.rect.right + 1) * scale).rounded()) - 1,
                     bottom: Int((Double(det.rect.bottom + 1) * scale).rounded()) - 1)
        let pts = pipeline.landmarks.predict(big, in: r)
        let chip = FaceChip.extract(big, FaceChip.details(landmarks: pts))
        let descriptor = pipeline.recognizer.descriptor(chip)
        let distance = descriptor.distance(to: character.identity)
        guard !modes.isEmpty else { return (distance, []) }
        let face = DetectedFace(box: r, confidence: det.confidence, landmarks: pts, descriptor: descriptor)
        let findings = DriftDetector.diagnose(reference: character, output: FaceAttributes(), outputFace: face, chip: chip, image: big,
                                              identityThreshold: threshold, modes: modes)
        return (distance, findings.map(\.modeId))
    }

    /// `s · max(d, floor) / t + (1 − s) · P + penalty`, with `floor = goal − identityFloorMargin`: once a
    /// face is safely below the goal, more likeness buys nothing and the prompt decides.
    func cost(distance: Double?, shortfall: Double, penalty: Double, strength s: Double, threshold: Double, goal: Double) -> Double {
        let d = max(distance ?? 2, goal - options.identityFloorMargin)
        return s * d / max(threshold, 1e-6) + (1 - s) * shortfall + penalty
    }

    // MARK: Latent arithmetic

    /// Norm of every latent the search uses: √(latent dimension), where standard normal latents lie.
    public static let latentNorm = Double(DCGANGenerator.latentDimension).squareRoot()

    static func projection(_ z: [Float], _ v: [Float]) -> Double {
        var s = 0.0
        for i in 0..<min(z.count, v.count) { s += Double(z[i]) * Double(v[i]) }
        return s
    }

    /// `z` rescaled onto the prior's sphere.
    static func onSphere(_ z: [Float]) -> [Float] {
        let n = z.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard n > 0 else { return z }
        let k = Float(latentNorm / n)
        return z.map { $0 * k }
    }

    /// `z` with each target's projection set, then put back on the sphere (`z` itself when there are
    /// no targets: a seed's own draw stays exactly that draw). Directions need not be
    /// orthogonal: the targets are set in turn, four sweeps (each sweep shrinks the error of
    /// overlapping directions by their overlap, at most 0.36 between the discovered ones).
    public static func applyTargets(_ z: [Float], _ targets: [PromptTarget]) -> [Float] {
        guard !targets.isEmpty else { return z }
        var out = z
        for _ in 0..<4 {
            for t in targets {
                let delta = Float(t.target - projection(out, t.vector))
                for i in out.indices where i < t.vector.count { out[i] += delta * t.vector[i] }
            }
        }
        return onSphere(out)
    }

    /// `z` moved into the trust region around `anchor`: the part of `z − anchor` outside the prompt
    /// directions' span is shortened to at most `radius`; then back onto the sphere.
    static func confine(_ z: [Float], to anchor: [Float], radius: Double, free targets: [PromptTarget]) -> [Float] {
        var basis: [[Double]] = []                       // orthonormal basis of the prompt directions
        for t in targets {
            var v = t.vector.map(Double.init)
            for b in basis { let p = zip(v, b).reduce(0) { $0 + $1.0 * $1.1 }; for i in v.indices { v[i] -= p * b[i] } }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if n > 1e-6 { basis.append(v.map { $0 / n }) }
        }
        var diff = zip(z, anchor).map { Double($0) - Double($1) }
        var along = [Double](repeating: 0, count: diff.count)
        for b in basis {
            let p = zip(diff, b).reduce(0) { $0 + $1.0 * $1.1 }
            for i in diff.indices { along[i] += p * b[i]; diff[i] -= p * b[i] }
        }
        let n = diff.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let k = n > radius ? radius / n : 1
        return onSphere(anchor.indices.map { Float(Double(anchor[$0]) + along[$0] + k * diff[$0]) })
    }

    static func mutate(_ z: [Float], step: Double, _ rng: inout SplitMix64) -> [Float] {
        let noise = DCGANGenerator.latent(seed: rng.next())
        let k = Float(step)
        return onSphere(zip(z, noise).map { $0 + k * $1 })
    }

    /// Mean over targets of the squared shortfall `max(0, |target| − sign · projection)² / max(1, target²)`.
    static func shortfall(_ z: [Float], _ targets: [PromptTarget]) -> Double {
        guard !targets.isEmpty else { return 0 }
        var sum = 0.0
        for t in targets {
            let sign: Double = t.target < 0 ? -1 : 1
            let miss = max(0, abs(t.target) - sign * projection(z, t.vector))
            sum += miss * miss / max(1, t.target * t.target)
        }
        return sum / Double(targets.count)
    }

    /// Whether `z` reaches a target's projection within `tolerance`.
    static func met(_ z: [Float], _ t: PromptTarget, tolerance: Double) -> Bool {
        (t.target < 0 ? -1 : 1) * projection(z, t.vector) >= abs(t.target) - tolerance
    }
}
