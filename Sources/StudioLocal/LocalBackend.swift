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
        var rng = SplitMix64(seed: c.seed)
        if !injectIdentity {
            let z = Self.applyTargets(DCGANGenerator.latent(seed: c.seed), plan.targets)
            let image = render(generator.generate([z])[0])
            progress(GenerationProgress(done: 1, total: 1))
            var notes: [String: Double] = ["evaluations": 1, "search_seconds": monotonicSeconds() - t0]
            for t in plan.targets { notes["projection." + t.name] = Self.projection(z, t.vector) }
            return GeneratedOutput(image: image, notes: notes, flags: ["identity_injection": false], messages: plan.messages + ["identity injection off: the character was not used"],
                                   requestedModes: plan.requestedModes)
        }

        let s = min(1, max(0, c.strictness.identityStrength))
        let anchor = Self.anchor(for: c.character).map { Self.applyTargets($0, plan.targets) }
        let region: ([Float]) -> [Float] = { z in anchor.map { Self.confine(z, to: $0, radius: self.options.trustRadius, free: plan.targets) } ?? z }
        let selectionThreshold = c.uncertainty.threshold(for: anchor == nil ? .unanchored(candidates: 0) : .anchored(candidates: 0))
        var penalties = c.negative.penaltyTerms().filter {
            $0.modeId != "identity_drift" && $0.detector.measure != "identity_distance" && !plan.requestedModes.contains($0.modeId)
        }
        let budget = options.evaluationsPerLevel[min(options.evaluationsPerLevel.count - 1, max(0, c.strictness.level))]
        let goal = selectionThreshold - c.uncertainty.band - options.targetMargin
        var evaluations = 0
        var restarts = 0
        var events: [String] = []
        var best: Candidate? = nil          // lowest cost among candidates that reach the goal, else lowest distance
        func consider(_ k: Candidate) {
            guard let d = k.distance else { return }
            guard let b = best, let bd = b.distance else { best = k; return }
            let kReached = d < goal, bReached = bd < goal
            if kReached != bReached { if kReached { best = k }; return }
            if kReached ? k.cost < b.cost : d < bd { best = k }
        }
        func done(_ k: Candidate) -> Bool {
            guard let d = k.distance else { return false }
            return d < goal && k.penalty == 0 && plan.targets.allSatisfy { Self.met(k.z, $0, tolerance: options.promptTolerance) }
        }
        func evaluate(_ zs: [[Float]]) -> [Candidate] {
            evaluations += zs.count
            return self.evaluate(zs, character: c.character, strength: s, threshold: selectionThreshold, goal: goal, targets: plan.targets,
                                 penalties: penalties)
        }
        /// The candidate's penalty and cost under the current penalty terms.
        func rescore(_ k: Candidate) -> Candidate {
            var k = k
            k.penaltyModes = k.penaltyModes.filter { id in penalties.contains { $0.modeId == id } }
            k.penalty = k.penaltyModes.reduce(0) { acc, id in acc + options.penaltyScale * (penalties.first { $0.modeId == id }?.weight ?? 1) }
            k.cost = self.cost(distance: k.distance, shortfall: k.shortfall, penalty: k.penalty, strength: s,
                               threshold: selectionThreshold, goal: goal)
            return k
        }

        // Initial draws: around the anchor (the anchor itself first), else from the whole prior.
        var initial: [[Float]]
        if let anchor {
            initial = [anchor] + (1..<max(1, options.initialSamples)).map { _ in region(Self.mutate(anchor, step: options.initialStep / 2, &rng)) }
        } else {
            initial = (0..<max(1, options.initialSamples)).map { _ in Self.applyTargets(DCGANGenerator.latent(seed: rng.next()), plan.targets) }
        }
        var drawn = evaluate(initial)
        // Drift the generator cannot avoid for this character is not drift: modes shown by the anchor
        // itself, or by at least 3/4 of the initial draws (e.g. "plastic skin" on 64 px faces), are left
        // out of the penalty and reported.
        var inherent = Set<String>()
        if anchor != nil { inherent.formUnion(drawn[0].penaltyModes) }
        let withFace = drawn.filter { $0.distance != nil }
        for id in Set(withFace.flatMap(\.penaltyModes)) where withFace.filter({ $0.penaltyModes.contains(id) }).count * 4 >= withFace.count * 3 {
            inherent.insert(id)
        }
        if !inherent.isEmpty {
            penalties = penalties.filter { !inherent.contains($0.modeId) }
            drawn = drawn.map { rescore($0) }
        }
        drawn.forEach(consider)
        progress(GenerationProgress(done: evaluations, total: budget, bestDistance: best?.distance))
        let ranked = drawn.sorted { $0.cost < $1.cost }
        var chains = (0..<max(1, options.chains)).map { ranked[$0 % ranked.count] }
        var steps = [Double](repeating: options.initialStep, count: chains.count)
        var lagging = [Int](repeating: 0, count: chains.count)
        var generation = 0
        var confirmations = 0
        // The search measures at `detectionSize`; the judge detects on the full render. Before stopping,
        // the candidate is measured the judge's way; if that misses, its distance is corrected and the
        // search goes on.
        func confirm() -> Bool {
            guard var b = best, done(b) else { return false }
            confirmations += 1
            let d = self.judgeDistance(b.z, character: c.character)
            b.distance = d
            b = rescore(b)
            best = b
            return d.map { $0 < goal + options.targetMargin / 2 } ?? false
        }
        while evaluations < budget && !confirm() {
            generation += 1
            var proposals: [[Float]] = []
            var owner: [Int] = []
            for (i, chain) in chains.enumerated() {
                for _ in 0..<max(1, options.proposalsPerChain) {
                    proposals.append(region(Self.mutate(chain.z, step: steps[i], &rng))); owner.append(i)
                }
            }
            let evaluated = evaluate(proposals)
            evaluated.forEach(consider)
            var improved = [Bool](repeating: false, count: chains.count)
            for (k, cand) in evaluated.enumerated() where cand.cost < chains[owner[k]].cost {
                chains[owner[k]] = cand; improved[owner[k]] = true
            }
            for i in chains.indices {
                steps[i] = min(options.maxStep, max(options.minStep, steps[i] * (improved[i] ? 1.3 : 0.85)))
            }
            // Active drift detection: restart chains that drift from the best one's identity.
            let bestChain = chains.indices.min { (chains[$0].distance ?? 9) < (chains[$1].distance ?? 9) }!
            let bestDistance = chains[bestChain].distance ?? 2
            for i in chains.indices where i != bestChain {
                let d = chains[i].distance
                if d == nil || d! > bestDistance + options.restartGap { lagging[i] += 1 } else { lagging[i] = 0 }
                if d == nil || lagging[i] >= options.restartPatience {
                    let why = d == nil ? "lost the face" : "drifted to \(formatFixed(d!, 3)) vs best \(formatFixed(bestDistance, 3))"
                    events.append("generation \(generation): chain \(i) \(why); restarted from the best latent")
                    let restart = evaluate([region(Self.mutate(chains[bestChain].z, step: options.initialStep / 2, &rng))])[0]
                    consider(restart)
                    chains[i] = restart.cost < chains[bestChain].cost ? restart : chains[bestChain]
                    steps[i] = options.initialStep
                    lagging[i] = 0
                    restarts += 1
                }
            }
            progress(GenerationProgress(done: min(evaluations, budget), total: budget, bestDistance: best?.distance))
        }
        guard let chosen = best else {
            throw GenerationError("the local generator drew no detectable face in \(evaluations) latents (seed \(c.seed))", retryable: true)
        }
        var notes: [String: Double] = [
            "identity_strength": s, "threshold": selectionThreshold, "evaluations": Double(evaluations), "budget": Double(budget),
            "generations": Double(generation), "drift_restarts": Double(restarts), "search_distance": chosen.distance ?? .nan,
            "search_goal": goal, "judge_checks": Double(confirmations), "prompt_shortfall": chosen.shortfall, "penalty": chosen.penalty,
            "penalty_terms": Double(penalties.count), "search_seconds": monotonicSeconds() - t0,
        ]
        let flags = ["identity_injection": true, "anchored": anchor != nil, "reached_goal": done(chosen)]
        var messages = plan.messages
        for t in plan.targets {
            let p = Self.projection(chosen.z, t.vector)
            notes["projection." + t.name] = p
            messages.append("prompt \(t.name): projection \(formatFixed(p, 2)) for target \(formatFixed(t.target, 2)) sd" +
                            (Self.met(chosen.z, t, tolerance: options.promptTolerance) ? " (met)"
                                : " (short: the identity term outweighed it at strength \(formatFixed(s, 2)))"))
        }
        if anchor == nil {
            messages.append("no latent anchor (the character was not drawn from this generator): searched the whole latent space, " +
                            "so the output must beat the lookalike threshold \(formatFixed(selectionThreshold, 3))")
        }
        if !penalties.isEmpty {
            messages.append("negative prompt as penalties on measured drift: " + penalties.map { $0.modeId + ($0.targeted ? " (targeted)" : "") }.joined(separator: ", "))
        }
        if !inherent.isEmpty {
            messages.append("not penalised (shown by the character's own anchor or by most draws of this generator): " + inherent.sorted().joined(separator: ", "))
        }
        if !chosen.penaltyModes.isEmpty { messages.append("chosen image still shows: " + chosen.penaltyModes.joined(separator: ", ")) }
        messages += events.prefix(20)
        if events.count > 20 { messages.append("… \(events.count - 20) more drift restarts") }
        return GeneratedOutput(image: render(generator.generate([chosen.z])[0]),
                               selection: anchor == nil ? .unanchored(candidates: evaluations) : .anchored(candidates: evaluations),
                               notes: notes, flags: flags, messages: messages, requestedModes: plan.requestedModes)
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
