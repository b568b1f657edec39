import StudioKit

/// One attempt's search of the generator's latent space for the character (`LocalBackend.generate`
/// describes the cost, the prior and the search): its state, and the steps it takes.
///
/// Every random draw comes from `rng`, seeded by the attempt's seed, in a fixed order (initial
/// draws, then each generation's proposals and restarts), so the same request gives the same image.
struct LatentSearch {
    typealias Candidate = LocalBackend.Candidate

    let backend: LocalBackend
    let conditioning: Conditioning
    let plan: PromptPlan
    /// The attempt's identity strength, in 0...1.
    let strength: Double
    /// The character's own latent (with the prompt's projections set), when it has one.
    let anchor: [Float]?
    /// The verification threshold the output will be judged against.
    let threshold: Double
    /// The distance a candidate must reach: the threshold less the uncertain band and a margin.
    let goal: Double
    /// Evaluations this attempt may spend.
    let budget: Int
    /// The negative prompt's measurable modes, less those the generator cannot avoid (`inherent`).
    private(set) var penalties: [NegativePrompt.PenaltyTerm]
    private(set) var inherent = Set<String>()
    private var rng: SplitMix64

    private(set) var evaluations = 0
    private(set) var restarts = 0
    private(set) var generation = 0
    private(set) var confirmations = 0
    private(set) var events: [String] = []
    /// Lowest cost among candidates that reach the goal, else lowest distance.
    private(set) var best: Candidate? = nil
    private var chains: [Candidate] = []
    private var steps: [Double] = []
    private var lagging: [Int] = []

    var options: LatentSearchOptions { backend.options }

    init(backend: LocalBackend, conditioning c: Conditioning, plan: PromptPlan) {
        self.backend = backend; self.conditioning = c; self.plan = plan
        strength = min(1, max(0, c.strictness.identityStrength))
        anchor = LocalBackend.anchor(for: c.character).map { LocalBackend.applyTargets($0, plan.targets) }
        threshold = c.uncertainty.threshold(for: anchor == nil ? .unanchored(candidates: 0) : .anchored(candidates: 0))
        penalties = c.negative.penaltyTerms().filter {
            $0.modeId != "identity_drift" && $0.detector.measure != "identity_distance" && !plan.requestedModes.contains($0.modeId)
        }
        let levels = backend.options.evaluationsPerLevel
        budget = levels[min(levels.count - 1, max(0, c.strictness.level))]
        goal = threshold - c.uncertainty.band - backend.options.targetMargin
        rng = SplitMix64(seed: c.seed)
    }

    /// Runs the search to its end: the goal reached and confirmed the judge's way, or the budget spent.
    mutating func run(progress: (GenerationProgress) -> Void) throws -> Candidate {
        start()
        progress(GenerationProgress(done: evaluations, total: budget, bestDistance: best?.distance))
        while evaluations < budget && !confirm() {
            step()
            progress(GenerationProgress(done: min(evaluations, budget), total: budget, bestDistance: best?.distance))
        }
        guard let chosen = best else {
            throw GenerationError("the local generator drew no detectable face in \(evaluations) latents (seed \(conditioning.seed))",
                                  retryable: true)
        }
        return chosen
    }

    // MARK: Steps

    /// Initial draws (around the anchor, the anchor itself first, else from the whole prior); the
    /// modes the generator cannot avoid for this character leave the penalty; the chains start from
    /// the best draws.
    mutating func start() {
        var initial: [[Float]]
        let n = max(1, options.initialSamples)
        if let anchor {
            initial = [anchor]
            for _ in 1..<n { initial.append(region(LocalBackend.mutate(anchor, step: options.initialStep / 2, &rng))) }
        } else {
            initial = []
            for _ in 0..<n { initial.append(LocalBackend.applyTargets(DCGANGenerator.latent(seed: rng.next()), plan.targets)) }
        }
        var drawn = evaluate(initial)
        leaveOutInherentModes(&drawn)
        drawn.forEach { consider($0) }
        let ranked = drawn.sorted { $0.cost < $1.cost }
        chains = (0..<max(1, options.chains)).map { ranked[$0 % ranked.count] }
        steps = [Double](repeating: options.initialStep, count: chains.count)
        lagging = [Int](repeating: 0, count: chains.count)
    }

    /// Drift the generator cannot avoid for this character is not drift: modes shown by the anchor
    /// itself, or by at least 3/4 of the initial draws (e.g. "plastic skin" on 64 px faces), are left
    /// out of the penalty and reported.
    mutating func leaveOutInherentModes(_ drawn: inout [Candidate]) {
        if anchor != nil { inherent.formUnion(drawn[0].penaltyModes) }
        let withFace = drawn.filter { $0.distance != nil }
        for id in Set(withFace.flatMap(\.penaltyModes)) where withFace.filter({ $0.penaltyModes.contains(id) }).count * 4 >= withFace.count * 3 {
            inherent.insert(id)
        }
        guard !inherent.isEmpty else { return }
        penalties = penalties.filter { !inherent.contains($0.modeId) }
        drawn = drawn.map { rescore($0) }
    }

    /// One generation of the (1+λ) chains: proposals, step-size adaptation, then active drift
    /// detection (`restartDriftingChains`).
    mutating func step() {
        generation += 1
        var proposals: [[Float]] = []
        var owner: [Int] = []
        for (i, chain) in chains.enumerated() {
            for _ in 0..<max(1, options.proposalsPerChain) {
                proposals.append(region(LocalBackend.mutate(chain.z, step: steps[i], &rng))); owner.append(i)
            }
        }
        let evaluated = evaluate(proposals)
        evaluated.forEach { consider($0) }
        var improved = [Bool](repeating: false, count: chains.count)
        for (k, cand) in evaluated.enumerated() where cand.cost < chains[owner[k]].cost {
            chains[owner[k]] = cand; improved[owner[k]] = true
        }
        for i in chains.indices {
            steps[i] = min(options.maxStep, max(options.minStep, steps[i] * (improved[i] ? 1.3 : 0.85)))
        }
        restartDriftingChains()
    }

    /// Restarts, from the best chain's latent, chains that lose the face or drift from the best
    /// one's identity for `restartPatience` generations.
    mutating func restartDriftingChains() {
        let bestChain = chains.indices.min { (chains[$0].distance ?? 9) < (chains[$1].distance ?? 9) }!
        let bestDistance = chains[bestChain].distance ?? 2
        for i in chains.indices where i != bestChain {
            let d = chains[i].distance
            if d == nil || d! > bestDistance + options.restartGap { lagging[i] += 1 } else { lagging[i] = 0 }
            guard d == nil || lagging[i] >= options.restartPatience else { continue }
            let why = d == nil ? "lost the face" : "drifted to \(formatFixed(d!, 3)) vs best \(formatFixed(bestDistance, 3))"
            events.append("generation \(generation): chain \(i) \(why); restarted from the best latent")
            let restart = evaluate([region(LocalBackend.mutate(chains[bestChain].z, step: options.initialStep / 2, &rng))])[0]
            consider(restart)
            chains[i] = restart.cost < chains[bestChain].cost ? restart : chains[bestChain]
            steps[i] = options.initialStep
            lagging[i] = 0
            restarts += 1
        }
    }

    /// The search measures at `detectionSize`; the judge detects on the full render. Before stopping,
    /// the candidate is measured the judge's way; if that misses, its distance is corrected and the
    /// search goes on.
    mutating func confirm() -> Bool {
        guard var b = best, done(b) else { return false }
        confirmations += 1
        let d = backend.judgeDistance(b.z, character: conditioning.character)
        b.distance = d
        b = rescore(b)
        best = b
        return d.map { $0 < goal + options.targetMargin / 2 } ?? false
    }

    // MARK: Candidates

    /// Latents are kept within the anchor's trust region, when there is an anchor.
    func region(_ z: [Float]) -> [Float] {
        anchor.map { LocalBackend.confine(z, to: $0, radius: options.trustRadius, free: plan.targets) } ?? z
    }

    mutating func evaluate(_ zs: [[Float]]) -> [Candidate] {
        evaluations += zs.count
        return backend.evaluate(zs, character: conditioning.character, strength: strength, threshold: threshold, goal: goal,
                                targets: plan.targets, penalties: penalties)
    }

    mutating func consider(_ k: Candidate) {
        guard let d = k.distance else { return }
        guard let b = best, let bd = b.distance else { best = k; return }
        let kReached = d < goal, bReached = bd < goal
        if kReached != bReached { if kReached { best = k }; return }
        if kReached ? k.cost < b.cost : d < bd { best = k }
    }

    /// Reached the goal with the prompt met and no penalised drift.
    func done(_ k: Candidate) -> Bool {
        guard let d = k.distance else { return false }
        return d < goal && k.penalty == 0 && plan.targets.allSatisfy { LocalBackend.met(k.z, $0, tolerance: options.promptTolerance) }
    }

    /// The candidate's penalty and cost under the current penalty terms.
    func rescore(_ k: Candidate) -> Candidate {
        var k = k
        k.penaltyModes = k.penaltyModes.filter { id in penalties.contains { $0.modeId == id } }
        k.penalty = k.penaltyModes.reduce(0) { acc, id in acc + options.penaltyScale * (penalties.first { $0.modeId == id }?.weight ?? 1) }
        k.cost = backend.cost(distance: k.distance, shortfall: k.shortfall, penalty: k.penalty, strength: strength,
                              threshold: threshold, goal: goal)
        return k
    }
}

// MARK: - Report

extension LatentSearch {
    /// The attempt's output: the chosen latent's image, the search's figures (`notes`), its yes/no
    /// facts (`flags`) and what the user should know about it (`messages`).
    func output(_ chosen: Candidate, image: RGBImage, seconds: Double) -> GeneratedOutput {
        var notes: [String: Double] = [
            "identity_strength": strength, "threshold": threshold, "evaluations": Double(evaluations), "budget": Double(budget),
            "generations": Double(generation), "drift_restarts": Double(restarts), "search_distance": chosen.distance ?? .nan,
            "search_goal": goal, "judge_checks": Double(confirmations), "prompt_shortfall": chosen.shortfall, "penalty": chosen.penalty,
            "penalty_terms": Double(penalties.count), "search_seconds": seconds,
        ]
        for t in plan.targets { notes["projection." + t.name] = LocalBackend.projection(chosen.z, t.vector) }
        let flags = ["identity_injection": true, "anchored": anchor != nil, "reached_goal": done(chosen)]
        return GeneratedOutput(image: image,
                               selection: anchor == nil ? .unanchored(candidates: evaluations) : .anchored(candidates: evaluations),
                               notes: notes, flags: flags, messages: messages(chosen), requestedModes: plan.requestedModes)
    }

    func messages(_ chosen: Candidate) -> [String] {
        var messages = plan.messages
        for t in plan.targets {
            let p = LocalBackend.projection(chosen.z, t.vector)
            messages.append("prompt \(t.name): projection \(formatFixed(p, 2)) for target \(formatFixed(t.target, 2)) sd" +
                            (LocalBackend.met(chosen.z, t, tolerance: options.promptTolerance) ? " (met)"
                                : " (short: the identity term outweighed it at strength \(formatFixed(strength, 2)))"))
        }
        if anchor == nil {
            messages.append("no latent anchor (the character was not drawn from this generator): searched the whole latent space, " +
                            "so the output must beat the lookalike threshold \(formatFixed(threshold, 3))")
        }
        if !penalties.isEmpty {
            messages.append("negative prompt as penalties on measured drift: "
                            + penalties.map { $0.modeId + ($0.targeted ? " (targeted)" : "") }.joined(separator: ", "))
        }
        if !inherent.isEmpty {
            messages.append("not penalised (shown by the character's own anchor or by most draws of this generator): "
                            + inherent.sorted().joined(separator: ", "))
        }
        if !chosen.penaltyModes.isEmpty { messages.append("chosen image still shows: " + chosen.penaltyModes.joined(separator: ", ")) }
        messages += events.prefix(20)
        if events.count > 20 { messages.append("… \(events.count - 20) more drift restarts") }
        return messages
    }
}
