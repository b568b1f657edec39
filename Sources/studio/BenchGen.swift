import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioLocal

/// `studio bench gen`: the local backend through the verification loop, with identity injection on and
/// off on the same fictional characters, prompts and seeds.
struct BenchGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Local generation through the verification loop: pass rates, attempts and time to a verified image, identity injection on vs off.",
        discussion: """
        Creates fictional characters in memory (as `studio character create --seed` does; seeds the
        generated-reference gate refuses are skipped and listed), then generates every character x prompt
        shot twice with the same seeds: with identity injection (the latent search) and without it (one
        draw per attempt from the seed with the prompt's directions). Both arms are verified by the same
        judge against the calibrated generated-face threshold. Goals: at least 90% of shots pass
        within 3 attempts; median time to the first verified image under 15 s.
        """)

    /// Prompts in the local vocabulary (studio gen --vocabulary), one per shot column.
    static let prompts = [
        "portrait, head turned left",
        "brighter lighting, closer framing",
        "lit from the right, warmer tones",
        "head turned right, dimmer lighting",
        "wider framing, cooler tones",
    ]

    @Option(help: "Fictional characters (seeds from --first-seed on).") var characters: Int = 10
    @Option(help: "Prompts per character (1...\(BenchGen.prompts.count)).") var prompts: Int = BenchGen.prompts.count
    @Option(help: "First character seed.") var firstSeed: UInt64 = 100
    @Option(help: "Attempts per shot.") var maxAttempts: Int = 3
    @Flag(help: "Skip the identity-injection-off arm.") var noAblation = false
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        guard (1...200).contains(characters) else { throw ValidationError("--characters must be 1...200") }
        guard (1...BenchGen.prompts.count).contains(prompts) else { throw ValidationError("--prompts must be 1...\(BenchGen.prompts.count)") }
        guard (1...10).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1...10") }
    }

    struct Arm: Codable {
        var identityInjection: Bool
        var shots: Int
        var passed: Int
        var passRate: Double
        var firstTryPassRate: Double
        var uncertain: Int
        var attemptsPerAcceptedImage: Double?
        var medianSecondsToVerified: Double?
        var p90SecondsToVerified: Double?
        var meanBestDistance: Double?
        var totalSeconds: Double
        var driftRestarts: Int
        var retriesTargetingDrift: Int
        /// Seconds in the backends' generate (the local one's latent search embeds its candidates there)
        /// and in the final verification of each output, summed over attempts.
        var generateSeconds: Double
        var verifySeconds: Double
        /// verifySeconds / (generateSeconds + verifySeconds).
        var verificationShare: Double?
    }

    func run() throws {
        let engine = try LocalEngine.load(quiet: json)
        let (members, skipped) = try BenchCast.make(engine: engine, count: characters, firstSeed: firstSeed)
        let cast = members.map(\.character)
        if !json {
            print("bench gen: \(cast.count) fictional characters (seeds \(cast.compactMap { $0.origin.seed.map(String.init) }.joined(separator: ", "))) x \(prompts) prompts, up to \(maxAttempts) attempts")
            for s in skipped { print("  skipped \(s)") }
            print("verifying against the \(engine.calibrationLine)")
        }
        let loop = VerificationLoop(maxAttempts: maxAttempts)
        var arms: [Arm] = []
        var perShot: [[String: String]] = []
        for inject in noAblation ? [true] : [true, false] {
            let backend = engine.backend(injectIdentity: inject)
            var results: [ShotResult] = []
            let started = monotonicSeconds()
            var bar = ProgressBar("identity injection \(inject ? "on " : "off")", total: cast.count * prompts)
            for (ci, c) in cast.enumerated() {
                for p in 0..<prompts {
                    let shot = ShotRequest(index: ci * prompts + p, prompt: Self.prompts[p], negatives: [],
                                           seed: UInt64(ci) &* 1_000 &+ UInt64(p) &+ 7)
                    let r = loop.run(shot: shot, character: c, backend: backend, judge: engine.judge).result
                    results.append(r)
                    bar.update(results.count)
                    perShot.append(["injection": inject ? "on" : "off", "character": c.name, "prompt": Self.prompts[p],
                                    "status": r.status.rawValue, "attempts": String(r.attempts.count),
                                    "best_distance": r.bestDistance.map { fmt($0, 3) } ?? "-",
                                    "seconds_to_verified": r.secondsToPass.map { fmt($0, 2) } ?? "-"])
                }
            }
            arms.append(Self.summarise(results, inject: inject, seconds: monotonicSeconds() - started))
        }
        if json {
            struct Out: Codable { var characters: [String]; var skipped: [String]; var prompts: [String]; var threshold: Double; var arms: [Arm]; var shots: [[String: String]] }
            let out = Out(characters: cast.map(\.name), skipped: skipped, prompts: Array(Self.prompts.prefix(prompts)),
                          threshold: engine.calibration.threshold, arms: arms, shots: perShot)
            print(try StudioJSON.text(out, as: .benchGen))
            return
        }
        let on = arms[0], off = arms.count > 1 ? arms[1] : nil
        func pct(_ x: Double) -> String { fmt(x * 100, 1) + "%" }
        func opt(_ x: Double?, _ d: Int, _ unit: String = "") -> String { x.map { fmt($0, d) + unit } ?? "-" }
        print("")
        print("metric".padding(toLength: 38, withPad: " ", startingAt: 0) + "injection on".padding(toLength: 16, withPad: " ", startingAt: 0)
              + "injection off".padding(toLength: 16, withPad: " ", startingAt: 0) + "goal")
        func row(_ name: String, _ a: String, _ b: String, _ goal: String) {
            print(name.padding(toLength: 38, withPad: " ", startingAt: 0) + a.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + b.padding(toLength: 16, withPad: " ", startingAt: 0) + goal)
        }
        row("shots", "\(on.shots)", off.map { "\($0.shots)" } ?? "-", "")
        row("passed within \(maxAttempts) attempts", pct(on.passRate), off.map { pct($0.passRate) } ?? "-", ">= 90%")
        row("first-try pass rate", pct(on.firstTryPassRate), off.map { pct($0.firstTryPassRate) } ?? "-", "")
        row("uncertain (not counted as passed)", "\(on.uncertain)", off.map { "\($0.uncertain)" } ?? "-", "")
        row("attempts per accepted image", opt(on.attemptsPerAcceptedImage, 2), opt(off?.attemptsPerAcceptedImage, 2), "")
        row("time to first verified image, median", opt(on.medianSecondsToVerified, 2, " s"), opt(off?.medianSecondsToVerified, 2, " s"), "< 15 s")
        row("time to first verified image, p90", opt(on.p90SecondsToVerified, 2, " s"), opt(off?.p90SecondsToVerified, 2, " s"), "")
        row("mean best identity distance", opt(on.meanBestDistance, 3), opt(off?.meanBestDistance, 3), "< \(fmt(engine.calibration.threshold, 3))")
        row("retries targeting diagnosed drift", "\(on.retriesTargetingDrift)", off.map { "\($0.retriesTargetingDrift)" } ?? "-", "")
        row("drift restarts during search", "\(on.driftRestarts)", off.map { "\($0.driftRestarts)" } ?? "-", "")
        row("verification share of attempt time", opt(on.verificationShare.map { $0 * 100 }, 1, "%"),
            opt(off?.verificationShare.map { $0 * 100 }, 1, "%"), "")
        row("wall time", fmt(on.totalSeconds, 1) + " s", off.map { fmt($0.totalSeconds, 1) + " s" } ?? "-", "")
        if let off, off.passRate > 0 {
            print("\npass rate with injection / without: \(fmt(on.passRate / off.passRate, 1))x")
        } else if off != nil {
            print("\nwithout identity injection no shot passed")
        }
        let verdicts = [on.passRate >= 0.9 ? "pass rate goal met" : "PASS RATE GOAL MISSED",
                        (on.medianSecondsToVerified ?? .infinity) < 15 ? "time goal met" : "TIME GOAL MISSED"]
        print(verdicts.joined(separator: "; "))
    }

    static func summarise(_ results: [ShotResult], inject: Bool, seconds: Double) -> Arm {
        let passed = results.filter { $0.status == .passed }
        let times = passed.compactMap(\.secondsToPass).sorted()
        func q(_ p: Double) -> Double? { times.isEmpty ? nil : times[min(times.count - 1, Int((Double(times.count - 1) * p).rounded()))] }
        let bests = results.compactMap(\.bestDistance)
        let attempts = results.flatMap(\.attempts)
        let generate = attempts.reduce(0) { $0 + $1.generateSeconds }, verify = attempts.reduce(0) { $0 + $1.verifySeconds }
        return Arm(identityInjection: inject, shots: results.count, passed: passed.count,
                   passRate: results.isEmpty ? 0 : Double(passed.count) / Double(results.count),
                   firstTryPassRate: results.isEmpty ? 0 : Double(passed.filter { $0.chosenAttempt == 1 }.count) / Double(results.count),
                   uncertain: results.filter { $0.status == .uncertain }.count,
                   attemptsPerAcceptedImage: passed.isEmpty ? nil : Double(passed.reduce(0) { $0 + $1.attempts.count }) / Double(passed.count),
                   medianSecondsToVerified: q(0.5), p90SecondsToVerified: q(0.9),
                   meanBestDistance: bests.isEmpty ? nil : bests.reduce(0, +) / Double(bests.count), totalSeconds: seconds,
                   driftRestarts: results.reduce(0) { $0 + $1.attempts.reduce(0) { $0 + Int($1.notes["drift_restarts"] ?? 0) } },
                   retriesTargetingDrift: results.reduce(0) { $0 + $1.attempts.filter { !$0.targetedModes.isEmpty }.count },
                   generateSeconds: generate, verifySeconds: verify, verificationShare: generate + verify > 0 ? verify / (generate + verify) : nil)
    }
}

/// Fictional characters made in memory for benches (as `studio character create --seed` makes them),
/// with their reference images; seeds the generated-reference gate refuses are skipped and listed.
enum BenchCast {
    struct Member { var character: CharacterRecord; var references: [[UInt8]] }

    static func make(engine: LocalEngine, count: Int, firstSeed: UInt64) throws -> (members: [Member], skipped: [String]) {
        var options = FictionalCharacter.Options()
        options.strangerThreshold = engine.calibration.threshold
        var cast: [Member] = []
        var skipped: [String] = []
        var seed = firstSeed
        while cast.count < count && seed < firstSeed + UInt64(count * 5) {
            defer { seed += 1 }
            do {
                let (reg, _) = try FictionalCharacter.create(name: "bench-\(seed)", seed: seed, generator: engine.generator,
                                                             pipeline: engine.pipeline, options: options, id: "bench-\(seed)", now: 0)
                cast.append(Member(character: reg.character, references: reg.character.references.compactMap { reg.images[$0.sha256] }))
            } catch {
                skipped.append("seed \(seed): \(error)")
            }
        }
        guard !cast.isEmpty else { throw BadInputError("no seed passed the reference gate") }
        return (cast, skipped)
    }
}
