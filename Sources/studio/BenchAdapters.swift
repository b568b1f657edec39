import ArgumentParser
import Foundation
import StudioKit
import StudioLocal
import AdapterSDK
import StudioAdapterHost
import StudioEmulator
import StudioRemote

/// `studio bench adapters`: per adapter, load time and request-building time (in process and out of
/// process); then, per surface, the identity pass rate and mean distance of one attempt on the same
/// fictional characters, prompts and seeds as the local backend's direct injection, through the
/// provider emulators (local generator behind each surface).
struct BenchAdapters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapters",
        abstract: "Adapter load and request-building time, and identity kept through each surface vs the local backend's direct injection.",
        discussion: """
        Surface conditioning: every adapter sends its translated request to its provider's emulator, whose
        model is the local generator conditioned only through what the surface carried (the re-encoded
        reference, the negative prompt where it has one and it takes effect, the provider's lever on a 0...1
        identity scale, a fixed search budget, no latent anchor). The local backend generates the same
        characters, prompts and seeds with direct injection (the character's identity and anchor). Each
        shot is one attempt at the loop's first strictness, judged by the same judge; a video is judged on
        its sampled frames, the worst deciding. The field's claim to test: surface conditioning reaches
        80-90% of direct injection.
        """)
    @Option(name: .customLong("repeat"), help: "Requests built per timing figure (median reported).") var repeats: Int = 200
    @Option(help: "Fictional characters for the identity comparison.") var characters: Int = 3
    @Option(help: "Prompts per character (1...\(BenchGen.prompts.count)).") var prompts: Int = 2
    @Option(help: "First character seed.") var firstSeed: UInt64 = 100
    @Option(help: "Latent evaluations the emulated providers spend per image (their fixed budget).") var surfaceBudget: Int = 160
    @Flag(help: "Timings only (no identity comparison).") var noSurfaces = false
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        guard (1...100_000).contains(repeats) else { throw ValidationError("--repeat must be 1...100000") }
        guard (1...50).contains(characters) else { throw ValidationError("--characters must be 1...50") }
        guard (1...BenchGen.prompts.count).contains(prompts) else { throw ValidationError("--prompts must be 1...\(BenchGen.prompts.count)") }
        guard (16...2000).contains(surfaceBudget) else { throw ValidationError("--surface-budget must be 16...2000") }
    }

    struct Timing: Codable {
        var adapter: String; var references: Int
        var loadMs: Double; var loadOutOfProcessMs: Double?; var buildMs: Double; var buildOutOfProcessMs: Double?
    }

    struct Surface: Codable {
        var backend: String; var provider: String; var shots: Int; var passed: Int; var uncertain: Int; var errors: Int
        var passRate: Double; var meanDistance: Double?; var noFace: Int; var seconds: Double
        /// Pass rate relative to the local backend's direct injection (nil for the local row, or when local passed nothing).
        var relativeToDirect: Double?
        var meanSimilarityRelative: Double?
        var negativePrompt: Bool; var strengthLever: Bool; var video: Bool
    }

    func run() throws {
        let paths = AdapterDiscovery.candidates(in: Adapters.searchPath())
        let adapters = paths.compactMap { try? LoadedAdapter(path: $0) }
        let timings = measureTimings(adapters, paths: paths)
        var surfaces: [Surface] = []
        var cast: [String] = []
        var threshold: Double? = nil
        if !noSurfaces {
            let engine = try LocalEngine.load(quiet: json)
            threshold = engine.calibration.threshold
            let (members, skipped) = try BenchCast.make(engine: engine, count: characters, firstSeed: firstSeed)
            cast = members.map(\.character.name)
            if !json {
                print("")
                print("identity through each surface: \(members.count) fictional characters (\(cast.joined(separator: ", "))) x \(prompts) prompt(s), one attempt each")
                for s in skipped { print("  skipped \(s)") }
                print("verifying against the \(engine.calibrationLine)")
            }
            surfaces = try compareSurfaces(adapters, engine: engine, members: members)
        }
        if json {
            struct Out: Codable { var timings: [Timing]; var surfaces: [Surface]; var characters: [String]; var prompts: [String]; var threshold: Double?; var repeats: Int }
            print(try StudioJSON.text(Out(timings: timings, surfaces: surfaces, characters: cast, prompts: Array(BenchGen.prompts.prefix(prompts)),
                                          threshold: threshold, repeats: repeats), as: .benchAdapters))
        }
    }

    func measureTimings(_ adapters: [LoadedAdapter], paths: [String]) -> [Timing] {
        let image = AdapterImage(bytes: [UInt8](repeating: 0x42, count: 256 * 1024), mimeType: "image/png")
        let request = AdapterRequest(
            character: .init(name: "ada", attributes: ["eye_colour": "brown", "hair_colour": "black"], embedding: [Float](repeating: 0.05, count: 128),
                             referenceCount: 3),
            prompt: "portrait of ada, head turned left", negativePrompt: "blurry, green eyes, blue eyes",
            negativePromptWeighted: "blurry, (green eyes:1.5), (blue eyes:1.5)", strictness: .init(level: 1, identityStrength: 0.85),
            seed: 7, width: 1024, height: 1024)
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
        if !json { print("adapter                 load (in / out of process)   build request, 256 KB reference (in / out of process)") }
        var rows: [Timing] = []
        for a in adapters {
            let n = max(1, min(3, a.manifest.surface.maxReferences))
            let imgs = Array(repeating: image, count: n)
            var inTimes: [Double] = []
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try? a.buildRequest(request, images: imgs)
                inTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let child = try? OutOfProcessAdapter(path: a.path, command: [Adapters.executable(), "adapters", "serve", a.path])
            let childLoad = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            var outTimes: [Double] = []
            if let child {
                for _ in 0..<max(1, repeats / 10) {
                    let t = DispatchTime.now().uptimeNanoseconds
                    _ = try? child.buildRequest(request, images: imgs)
                    outTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                }
            }
            rows.append(Timing(adapter: a.manifest.name, references: n, loadMs: a.loadSeconds * 1000, loadOutOfProcessMs: child == nil ? nil : childLoad,
                               buildMs: median(inTimes), buildOutOfProcessMs: child == nil ? nil : median(outTimes)))
            if !json {
                print(a.manifest.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + "\(fmt(a.loadSeconds * 1000, 2)) / \(fmt(childLoad, 1)) ms".padding(toLength: 29, withPad: " ", startingAt: 0)
                      + "\(fmt(median(inTimes), 3)) / \(fmt(median(outTimes), 3)) ms (\(n) reference(s))")
            }
        }
        return rows
    }

    /// One attempt per character x prompt, local direct injection first, then every adapter through its emulator.
    func compareSurfaces(_ adapters: [LoadedAdapter], engine: LocalEngine, members: [BenchCast.Member]) throws -> [Surface] {
        var secrets: [EmulatedProvider: String] = [:]
        for p in EmulatedProvider.allCases { secrets[p] = "bench-\(p.rawValue)-\(UInt64.random(in: 1...UInt64.max))" }
        var options = LatentSearchOptions()
        options.evaluationsPerLevel = [surfaceBudget]
        let model = LocalSurfaceGenerator(generator: engine.generator, pipeline: engine.pipeline, uncertainty: engine.judge.uncertainty,
                                          options: options, videoFrames: 3)
        let emulator = try Emulator(configuration: .init(credentials: secrets, klingAccessKey: "bench-access", pollsUntilDone: 1), generator: model)
        defer { emulator.stop() }
        let route = try RemoteRoute(emulator: emulator.url)
        let loop = VerificationLoop(maxAttempts: 1)
        let threshold = engine.calibration.threshold

        func arm(_ name: String, provider: String, backend: (BenchCast.Member) -> any GenerationBackend, negative: Bool, lever: Bool, video: Bool) -> Surface {
            var results: [ShotResult] = []
            let t0 = monotonicSeconds()
            var bar = ProgressBar(name.padding(toLength: 22, withPad: " ", startingAt: 0), total: members.count * prompts)
            for (ci, m) in members.enumerated() {
                let b = backend(m)
                for p in 0..<prompts {
                    let shot = ShotRequest(index: ci * prompts + p, prompt: BenchGen.prompts[p], negatives: [], seed: UInt64(ci) &* 1_000 &+ UInt64(p) &+ 7)
                    results.append(loop.run(shot: shot, character: m.character, backend: b, judge: engine.judge).result)
                    if !json { bar.update(results.count) }
                }
            }
            let distances = results.compactMap { $0.attempts.first?.judgement?.distance }
            let passed = results.filter { $0.status == .passed }.count
            return Surface(backend: name, provider: provider, shots: results.count, passed: passed,
                           uncertain: results.filter { $0.status == .uncertain }.count,
                           errors: results.filter { $0.attempts.first?.error != nil }.count,
                           passRate: results.isEmpty ? 0 : Double(passed) / Double(results.count),
                           meanDistance: distances.isEmpty ? nil : distances.reduce(0, +) / Double(distances.count),
                           noFace: results.filter { $0.attempts.first?.judgement?.verdict == .noFace }.count,
                           seconds: monotonicSeconds() - t0, relativeToDirect: nil, meanSimilarityRelative: nil,
                           negativePrompt: negative, strengthLever: lever, video: video)
        }

        var rows: [Surface] = []
        let local = engine.backend(injectIdentity: true)
        rows.append(arm("local (direct)", provider: "local", backend: { _ in local }, negative: true, lever: true, video: false))
        for a in adapters {
            guard EmulatedProvider(rawValue: a.manifest.provider) != nil else { continue }
            let provider = EmulatedProvider(rawValue: a.manifest.provider)!
            let client = RemoteClient(adapter: a, secret: secrets[provider]!, issuer: "bench-access", route: route,
                                      settings: RemoteSettings(pollInterval: 0))
            let s = a.manifest.surface
            rows.append(arm(a.manifest.name, provider: a.manifest.provider, backend: { m in
                RemoteBackend(client: client, references: AdapterRequests.images(m.references, maxReferences: s.maxReferences), journal: nil)
            }, negative: s.negativePrompt.supported, lever: !s.strengthKnobs.isEmpty, video: s.outputs.contains("video")))
        }
        // Relative figures: pass rate over the local one; similarity as (threshold - distance) margins.
        let direct = rows[0]
        for i in rows.indices.dropFirst() {
            if direct.passRate > 0 { rows[i].relativeToDirect = rows[i].passRate / direct.passRate }
            if let d = direct.meanDistance, let x = rows[i].meanDistance { rows[i].meanSimilarityRelative = (1 - x) / (1 - d) }
        }
        if !json {
            print("")
            print("backend".padding(toLength: 24, withPad: " ", startingAt: 0) + "surface".padding(toLength: 26, withPad: " ", startingAt: 0)
                  + "pass rate".padding(toLength: 14, withPad: " ", startingAt: 0) + "mean distance".padding(toLength: 15, withPad: " ", startingAt: 0)
                  + "vs direct (pass / 1-d)".padding(toLength: 24, withPad: " ", startingAt: 0) + "time")
            for r in rows {
                let surface = r.provider == "local" ? "identity + anchor" : [r.negativePrompt ? "neg" : "no neg", r.strengthLever ? "lever" : "no lever", r.video ? "video" : "image"].joined(separator: ", ")
                let rel = r.provider == "local" ? "-" : (r.relativeToDirect.map { fmt($0 * 100, 0) + "%" } ?? "-") + " / " + (r.meanSimilarityRelative.map { fmt($0 * 100, 0) + "%" } ?? "-")
                print(r.backend.padding(toLength: 24, withPad: " ", startingAt: 0) + surface.padding(toLength: 26, withPad: " ", startingAt: 0)
                      + "\(fmt(r.passRate * 100, 0))% (\(r.passed)/\(r.shots))".padding(toLength: 14, withPad: " ", startingAt: 0)
                      + (r.meanDistance.map { fmt($0, 3) } ?? "-").padding(toLength: 15, withPad: " ", startingAt: 0)
                      + rel.padding(toLength: 24, withPad: " ", startingAt: 0) + fmt(r.seconds, 1) + " s"
                      + (r.errors > 0 ? "  (\(r.errors) error(s))" : "") + (r.noFace > 0 ? "  (\(r.noFace) without a face)" : ""))
            }
            let remote = rows.dropFirst()
            let passes = remote.reduce(0) { $0 + $1.passed }, shots = remote.reduce(0) { $0 + $1.shots }
            if direct.passRate > 0, shots > 0 {
                let overall = Double(passes) / Double(shots) / direct.passRate
                print("\nall surfaces together: \(fmt(overall * 100, 0))% of direct injection's pass rate (the field claims 80-90%); threshold \(fmt(threshold, 3))")
            }
        }
        return rows
    }
}
