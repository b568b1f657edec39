import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioImage
import StudioLocal
import StudioStore
import StudioDiffusion

/// The local backend's pieces, loaded once: generator, pipeline, the generated-domain calibration and
/// the judge built on it.
struct LocalEngine {
    let generator: DCGANGenerator
    let pipeline: FacePipeline
    let calibration: DomainCalibration
    let judge: FaceIdentityJudge

    /// Loads the models; the calibration comes from $STUDIO_HOME/calibration/generated.json, or is
    /// measured now (about 15 s) and saved there when the file is missing, stale or unreadable.
    static func load(quiet: Bool) throws -> LocalEngine {
        let pipeline = try loadPipeline()
        let generator = try loadGenerator()
        let file = generatedCalibrationFile()
        var calibration = readGeneratedCalibration().flatMap { $0.distanceNoise != nil && $0.pairs >= 1000 ? $0 : nil }
        if calibration == nil {
            if !quiet { warn("studio: calibrating the generated-face threshold (once; saved to \(file))") }
            var bar = ProgressBar("calibrating", total: 48)
            let c = GeneratedCalibration.run(generator: generator, pipeline: pipeline, faces: 48) { bar.update($0) }
            do { try saveGeneratedCalibration(c) } catch { warn("studio: could not save the calibration to \(file): \(error)") }
            calibration = c
        }
        let c = calibration!
        let sigma = c.distanceNoise ?? 0.01
        let judge = FaceIdentityJudge(pipeline: pipeline, uncertainty: UncertaintyModel(threshold: c.threshold, sigma: sigma, band: sigma,
                                                                                      lookalikeThreshold: LookalikeCalibration.threshold),
                                      minimumSide: c.renderSize)
        return LocalEngine(generator: generator, pipeline: pipeline, calibration: c, judge: judge)
    }

    func backend(injectIdentity: Bool) -> LocalBackend {
        LocalBackend(generator: generator, pipeline: pipeline, injectIdentity: injectIdentity, planPrompt: LocalPrompts.plan)
    }

    /// One line for people: what the verdicts are measured against.
    /// The calibration as the report records it.
    var reportCalibration: RunReport.Calibration {
        .init(domain: calibration.domain, threshold: calibration.threshold, uncertainBand: judge.uncertainty.band,
              distanceNoise: calibration.distanceNoise, pairs: calibration.pairs, falseAcceptRate: calibration.targetFalseAcceptRate)
    }

    var calibrationLine: String {
        "threshold \(fmt(calibration.threshold, 3)) for generated faces (at most \(fmt(calibration.targetFalseAcceptRate * 100, 0))% of " +
            "\(calibration.pairs) different-seed pairs pass; dlib's 0.6 would pass \(fmt(calibration.falseAcceptRateAtDlibThreshold * 100, 1))%), " +
            "uncertain within ±\(fmt(judge.uncertainty.band, 3))"
    }
}

/// The report written as runs/<id>/report.json.
struct RunReport: Codable {
    struct Character: Codable { var name: String; var tenant: String; var origin: String; var seed: String? }
    struct Request: Codable {
        var backend: String; var prompt: String; var negatives: [String]; var count: Int; var seed: UInt64
        var maxAttempts: Int; var identityInjection: Bool
        /// Adapter backends: which adapter and provider, whether an emulator answered, each attempt's remote job.
        var remote: Remote? = nil
    }
    struct Remote: Codable {
        var adapter: String; var version: String; var provider: String; var model: String; var emulated: Bool
        var jobs: [String: String]
    }
    struct Calibration: Codable {
        var domain: String; var threshold: Double; var uncertainBand: Double; var distanceNoise: Double?
        var pairs: Int; var falseAcceptRate: Double?
    }
    struct Summary: Codable { var passed: Int; var uncertain: Int; var failed: Int; var attempts: Int; var seconds: Double; var allPassed: Bool }
    struct ShotFiles: Codable { var image: String?; var attempts: [String?] }
    var id: String
    var createdAt: Int64
    var character: Character
    var request: Request
    var calibration: Calibration
    var ladder: [StrictnessStep]
    var shots: [ShotResult]
    var files: [ShotFiles]
    var contactSheet: String
    var scorePlot: String
    /// frames.png, when an output was a video: each sampled frame's distance against its time.
    var framePlot: String?
    /// drift.png: the most-moved drift modes' levels (change over limit) across the attempts.
    var driftPlot: String?
    var summary: Summary
}

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images of a character, verified against its identity.",
        discussion: """
        Every output is verified with the native face pipeline against the character; an output that
        fails is diagnosed (which attributes drifted) and regenerated with stricter conditioning: a higher
        identity strength, more and heavier negatives, and suppressors targeting the diagnosed drift, up to
        --max-attempts. Results near the threshold are 'uncertain', never a confident pass.

        Writes a run folder ($STUDIO_HOME/runs/<id>, or --out DIR): shot-NN.png (the chosen image of each
        shot), attempts/shot-NN-attempt-K.png, report.json (every attempt: strictness, negatives, scores,
        diagnosed modes, timings), contact-sheet.png and scores.png (identity distance per attempt).

        The local backend understands a small prompt vocabulary (studio gen --vocabulary lists it); other
        words are reported as ignored.

        With --backend <adapter> (studio adapters list) each attempt is translated by the adapter and sent to
        its API with the credential from the environment or $STUDIO_HOME/credentials; the run folder also holds
        run.json, the journal and the downloads, and an interrupted run is finished by `studio runs resume`.
        STUDIO_EMULATOR=http://127.0.0.1:PORT sends to `studio emulator serve` instead of the provider.
        Ctrl-C (SIGINT or SIGTERM) cancels the job in flight where the provider has a cancel call, journals it
        and exits 130 (143 for SIGTERM); --max-jobs N stops the run before its (N+1)th job, exit 1.
        Exit status: 0 every shot passed, 1 otherwise, 2 bad input.
        """)

    @Option(help: "Backend: 'local' (the built-in generator) or an adapter's name (studio adapters list).") var backend: String = "local"
    @Option(help: "The character to generate.") var character: String?
    @Option(help: "What to generate.") var prompt: String = ""
    @Option(name: .customLong("negative"), help: "Something to avoid (repeat for several).") var negatives: [String] = []
    @Option(help: "Shots to generate.") var count: Int = 1
    @Option(help: "Seed of the first shot (shot i uses seed + i); default: drawn from the clock and reported.") var seed: UInt64?
    @Option(help: "Attempts per shot.") var maxAttempts: Int = 3
    @Option(help: "Run folder (must not exist); default $STUDIO_HOME/runs/<id>.") var out: String?
    @Flag(help: "Ablation: draw from the seed without identity injection (the loop still verifies).") var noIdentityInjection = false
    @Flag(help: "List the local backend's prompt vocabulary and exit.") var vocabulary = false
    @Flag(help: "With an adapter backend: print the translated request (secrets redacted) and send nothing.") var dryRun = false
    @Flag(help: "With an adapter backend: run the adapter in a child process (a crashing adapter cannot take studio down).") var isolate = false
    @Option(help: "With an adapter backend: seconds between polls of a running job.") var pollInterval: Double = 2
    @Option(help: "With an adapter backend: requested output width.") var width: Int = 1024
    @Option(help: "With an adapter backend: requested output height.") var height: Int = 1024
    @Option(help: "With an adapter backend: the provider's model version to run instead of the adapter's pinned one (studio adapters info shows it; Replicate: 64 hex digits).")
    var modelVersion: String?
    @Option(help: "With an adapter backend: the most jobs the run may send to the provider (each may be charged); it stops cleanly at the cap.")
    var maxJobs: Int?
    @Option(help: "With --backend local: a Stable Diffusion 1.x/2.x diffusers folder (model_index.json, unet/, vae/, …) to generate with instead of the built-in generator.")
    var model: String?
    @Option(help: "With --model: denoising steps.") var steps: Int = 25
    @Option(help: "With --model: ddim, euler-a, dpm++2m, dpm++2m-karras or lcm (for LCM-distilled weights, 2 to 8 steps).") var scheduler: String = "dpm++2m-karras"
    @Option(help: "With --model: classifier-free guidance scale (1 = no negative branch).") var guidance: Double = 7.5
    @Option(help: "With --model: output size WxH (multiples of 8 times the UNet's downsampling).") var size: String = "512x512"
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (1...1000).contains(count) else { throw ValidationError("--count must be 1...1000") }
        guard (1...10).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1...10") }
        if !vocabulary && character == nil { throw ValidationError("--character is required") }
        guard pollInterval >= 0 && pollInterval <= 600 else { throw ValidationError("--poll-interval must be 0...600 seconds") }
        guard (64...4096).contains(width) && (64...4096).contains(height) else { throw ValidationError("--width and --height must be 64...4096") }
        if let n = maxJobs, n < 1 { throw ValidationError("--max-jobs must be at least 1") }
        if model != nil {
            guard backend == "local" else { throw ValidationError("--model runs on the local backend: leave out --backend \(backend)") }
            guard (1...1000).contains(steps) else { throw ValidationError("--steps must be 1...1000") }
            guard (1...50).contains(guidance) else { throw ValidationError("--guidance must be 1...50") }
            guard StableDiffusion.SchedulerKind(rawValue: scheduler) != nil else {
                throw ValidationError("--scheduler must be one of \(StableDiffusion.SchedulerKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard modelSize != nil else { throw ValidationError("--size must be WxH, each 8...4096") }
        }
    }

    /// `--size` as (width, height), nil when malformed.
    var modelSize: (Int, Int)? {
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ (8...4096).contains($0) }) else { return nil }
        return (parts[0], parts[1])
    }

    /// The local run's backend and judge: the built-in generator with the generated-face calibration, or
    /// a Stable Diffusion folder judged as photographs at dlib's 0.6.
    func localParts() throws -> (backend: any GenerationBackend, judge: FaceIdentityJudge, calibration: RunReport.Calibration,
                                 calibrationLine: String, threshold: Double, promptMessages: [String]) {
        guard let model else {
            let engine = try LocalEngine.load(quiet: store.json)
            return (engine.backend(injectIdentity: !noIdentityInjection), engine.judge, engine.reportCalibration, engine.calibrationLine,
                    engine.calibration.threshold, LocalPrompts.plan(prompt).messages)
        }
        let sd: StableDiffusion
        do { sd = try StableDiffusion(folder: model) } catch { throw BadInputError("\(error)") }
        let (w, h) = modelSize!
        let multiple = 8 * (1 << (sd.unet.config.blockOutChannels.count - 1))
        guard w % multiple == 0 && h % multiple == 0 else { throw BadInputError("--size \(size): this model needs multiples of \(multiple)") }
        let settings = StableDiffusion.Request(prompt: prompt, width: w, height: h, steps: steps, guidance: Float(guidance),
                                               scheduler: StableDiffusion.SchedulerKind(rawValue: scheduler)!, seed: 0)
        let (judge, calibration, line) = try RemoteGen.judge(emulated: false, quiet: store.json)
        let name = "local:" + (model as NSString).lastPathComponent
        return (DiffusionBackend(name: name, model: sd, settings: settings), judge, calibration, line, calibration.threshold,
                [DiffusionBackend.noInjectionMessage])
    }

    func run() throws {
        if vocabulary { print(LocalPrompts.vocabularyTable()); return }
        if backend != "local" {
            if dryRun {
                try AdapterDryRun(backend: backend, character: character!, prompt: prompt, negatives: negatives, seed: seed ?? 0,
                                  tenant: store.tenant, json: store.json, modelVersion: modelVersion).run()
                return
            }
            let firstSeed = seed ?? UInt64(truncatingIfNeeded: Int64(Date().timeIntervalSince1970 * 1000))
            let id = RunFolder.makeId(seed: firstSeed)
            let emulated = ProcessInfo.processInfo.environment["STUDIO_EMULATOR"].map { !$0.isEmpty } ?? false
            let spec = RunSpec(id: id, backend: backend, character: character!, tenant: store.tenant, prompt: prompt, negatives: negatives,
                               count: count, seed: firstSeed, maxAttempts: maxAttempts, emulated: emulated, isolate: isolate,
                               pollInterval: pollInterval, width: width, height: height, modelVersion: modelVersion, maxJobs: maxJobs)
            try RemoteGen.start(spec, folder: out ?? (StudioPaths.fromEnvironment().home + "/runs/" + id), json: store.json)
            return
        }
        let characterRecord = try withStore { try $0.character(named: character!, tenant: store.tenant) }
        let local = try localParts()
        let firstSeed = seed ?? UInt64(truncatingIfNeeded: Int64(Date().timeIntervalSince1970 * 1000))
        let loop = VerificationLoop(maxAttempts: maxAttempts)
        let paths = StudioPaths.fromEnvironment()
        let id = RunFolder.makeId(seed: firstSeed)
        let folder = out ?? (paths.home + "/runs/" + id)
        let writer: RunFolder
        do { writer = try RunFolder(final: folder) } catch { throw BadInputError("\(error)") }

        if !store.json {
            warn("studio gen: \(count) shot(s) of \(characterRecord.name) on \(local.backend.name == "local" ? "the local backend" : local.backend.name), seed \(firstSeed), up to \(maxAttempts) attempt(s) each")
            warn("verifying against the \(local.calibrationLine)")
            for m in local.promptMessages { warn("prompt: \(m)") }
        }
        let started = monotonicSeconds()
        var runs: [ShotRun] = []
        for i in 0..<count {
            let shot = ShotRequest(index: i, prompt: prompt, negatives: negatives, seed: firstSeed &+ UInt64(i))
            var bar: ProgressBar? = nil
            let run = loop.run(shot: shot, character: characterRecord, backend: local.backend, judge: local.judge) { event in
                switch event {
                case .attemptStarted(_, let attempt, let step):
                    bar = ProgressBar("shot \(i + 1)/\(count) attempt \(attempt)/\(maxAttempts) (identity \(fmt(step.identityStrength, 2)), negatives level \(step.level))", total: 100)
                case .generating(_, _, let p):
                    bar?.update(p.total > 0 ? p.done * 100 / p.total : 0)
                case .attemptFinished(_, let a):
                    bar?.update(100)
                    if !store.json { warn("  " + GenText.attemptLine(shot: i, a, threshold: local.threshold)) }
                }
            }
            if !store.json { print("shot \(i + 1): \(run.result.summary)") }
            runs.append(run)
        }
        let seconds = monotonicSeconds() - started
        let references = try withStore { referenceImages(characterRecord, store: $0) }
        let report = try writer.write(runs: runs, id: id, character: characterRecord, references: references, calibration: local.calibration,
                                      request: .init(backend: local.backend.name, prompt: prompt, negatives: negatives, count: count, seed: firstSeed,
                                                     maxAttempts: maxAttempts, identityInjection: model == nil && !noIdentityInjection),
                                      ladder: Array(loop.ladder.steps.prefix(maxAttempts)), seconds: seconds)
        try writer.finish(report, json: store.json)
    }
}

/// Human-readable lines shared by gen and bench.
enum GenText {
    static func attemptLine(shot: Int, _ a: AttemptRecord, threshold: Double) -> String {
        var s = "attempt \(a.attempt): identity strength \(fmt(a.strictness.identityStrength, 2)), negatives level \(a.strictness.level)"
        if !a.targetedModes.isEmpty { s += ", targeting " + a.targetedModes.joined(separator: ", ") }
        if let e = a.error { return s + " — backend error: \(e)" }
        guard let j = a.judgement else { return s }
        switch j.verdict {
        case .noFace: s += " — NO FACE"
        default:
            s += " — distance \(fmt(j.distance ?? .nan, 3)) vs \(fmt(j.threshold, 3))\(j.threshold < threshold ? " (lookalike threshold)" : ""): " +
                "\(j.verdict.rawValue.uppercased()) (confidence \(fmt(j.confidence, 2)))"
        }
        if let ev = a.notes["evaluations"], a.flags["identity_injection"] == true {
            s += "; searched \(Int(ev)) latents" + (a.flags["anchored"] == true ? " near the character's anchor" : " (no anchor)")
            if let r = a.notes["drift_restarts"], r > 0 { s += ", \(Int(r)) drift restart(s)" }
        }
        s += String(format: "; %.1f s", a.generateSeconds + a.verifySeconds)
        let drift = j.findings.filter { $0.modeId != "identity_drift" }.map(\.modeId)
        if !drift.isEmpty { s += "; drift: " + drift.joined(separator: ", ") }
        if !a.requestedChanges.isEmpty { s += "; as asked: " + a.requestedChanges.map(\.modeId).joined(separator: ", ") }
        return s
    }
}

/// A run folder, written under a temporary name and renamed into place when complete, so a run
/// folder either is whole or does not exist (a crash leaves `<name>.partial`).
struct RunFolder {
    let final: String
    let partial: String


    static func makeId(seed: UInt64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyyMMdd-HHmmss"
        var g = SplitMix64(seed: seed ^ UInt64(UInt32(truncatingIfNeeded: getpid())) ^ UInt64(Date().timeIntervalSince1970 * 1e6))
        return f.string(from: Date()) + "-" + String(g.next() & 0xffffff, radix: 16)
    }

    init(final: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: final) {
            throw RunFolderError(description: "\(final) already exists; choose another --out (a run folder is never overwritten)")
        }
        self.final = final
        self.partial = final + ".partial"
        if fm.fileExists(atPath: partial + "/" + RunSpec.file) {
            throw RunFolderError(description: "\(partial) holds an interrupted remote run; finish it with `studio runs resume \(partial)` or remove it")
        }
        try? fm.removeItem(atPath: partial)
        do { try fm.createDirectory(atPath: partial + "/attempts", withIntermediateDirectories: true) } catch {
            throw RunFolderError(description: "cannot create \(partial): \(error.localizedDescription)")
        }
    }

    /// An interrupted run's folder (`<final>.partial`), kept as it is: its journal is replayed.
    init(resuming partial: String) throws {
        guard partial.hasSuffix(".partial"), FileManager.default.fileExists(atPath: partial + "/" + RunSpec.file) else {
            throw RunFolderError(description: "\(partial) is not an interrupted run folder (no \(RunSpec.file))")
        }
        self.partial = partial
        self.final = String(partial.dropLast(".partial".count))
        if FileManager.default.fileExists(atPath: final) {
            throw RunFolderError(description: "\(final) already exists: that run was completed")
        }
        try? FileManager.default.createDirectory(atPath: partial + "/attempts", withIntermediateDirectories: true)
    }

    /// Prints the outcome (the report as JSON, or a summary line) and exits 1 unless every shot passed.
    func finish(_ report: RunReport, json: Bool, extra: String = "") throws {
        if json {
            print(JSON.document(.gen, [("run", JSON.string(final)), ("report", try StudioJSON.text(report, as: .runReport))]))
        } else {
            let s = report.summary
            print("\(s.passed) of \(report.request.count) shot(s) passed (\(s.uncertain) uncertain, \(s.failed) failed) in \(fmt(s.seconds, 1)) s, \(s.attempts) attempt(s)\(extra)")
            print("run folder: \(final)")
        }
        if !report.summary.allPassed { throw ExitCode(1) }
    }

    func write(runs: [ShotRun], id: String, character c: CharacterRecord, references: [RGBImage?], calibration cal: RunReport.Calibration,
               request: RunReport.Request, ladder: [StrictnessStep], seconds: Double) throws -> RunReport {
        var files: [RunReport.ShotFiles] = []
        var tiles: [(title: String, tiles: [ContactSheet.Tile])] = [referenceRow(c, images: references)]
        for run in runs {
            let n = String(format: "%02d", run.result.shot.index + 1)
            var attemptFiles: [String?] = []
            var rowTiles: [ContactSheet.Tile] = []
            for (k, img) in run.images.enumerated() {
                guard let img else { attemptFiles.append(nil); continue }
                let name = "attempts/shot-\(n)-attempt-\(k + 1).png"
                try ImageIO.writePNG(img, to: partial + "/" + name)
                attemptFiles.append(name)
                let a = run.result.attempts[k]
                let j = a.judgement
                let colour: Colour = j?.verdict == .pass ? .pass : (j?.verdict == .uncertain ? .grey : .fail)
                var captions = ["A\(k + 1) " + (j?.verdict.rawValue.uppercased() ?? "ERROR"),
                                "D " + (j?.distance.map { fmt($0, 3) } ?? "-") + " S \(fmt(a.strictness.identityStrength, 2))"]
                let drift = (j?.findings ?? []).filter { $0.modeId != "identity_drift" }.map(\.modeId)
                if !drift.isEmpty { captions.append(String(drift.joined(separator: ",").uppercased().prefix(30))) }
                rowTiles.append(ContactSheet.Tile(image: img, box: j?.box, captions: captions, colour: colour))
            }
            var chosen: String? = nil
            if let k = run.result.chosenAttempt, k >= 1, k <= run.images.count, let img = run.images[k - 1] {
                chosen = "shot-\(n).png"
                try ImageIO.writePNG(img, to: partial + "/" + chosen!)
            }
            files.append(.init(image: chosen, attempts: attemptFiles))
            tiles.append((title: "SHOT \(run.result.shot.index + 1): \(run.result.status.rawValue.uppercased())", tiles: rowTiles))
        }
        try ImageIO.writePNG(ContactSheet.render(rows: tiles), to: partial + "/contact-sheet.png")
        try ImageIO.writePNG(ScorePlotter.render(runs.map(\.result), threshold: cal.threshold,
                                                 band: cal.uncertainBand, character: c.name), to: partial + "/scores.png")
        let framePlot = ScorePlotter.renderFrames(runs.map(\.result), threshold: cal.threshold, band: cal.uncertainBand, character: c.name)
        if let framePlot { try ImageIO.writePNG(framePlot, to: partial + "/frames.png") }
        let driftPlot = DriftPlotter.render(runs.map(\.result), character: c.name)
        if let driftPlot { try ImageIO.writePNG(driftPlot, to: partial + "/drift.png") }
        let results = runs.map(\.result)
        let report = RunReport(
            id: id, createdAt: Int64(Date().timeIntervalSince1970),
            character: .init(name: c.name, tenant: c.tenant, origin: c.origin.name, seed: c.origin.seed.map(String.init)),
            request: request,
            calibration: cal,
            ladder: ladder, shots: results, files: files, contactSheet: "contact-sheet.png", scorePlot: "scores.png",
            framePlot: framePlot == nil ? nil : "frames.png",
            driftPlot: driftPlot == nil ? nil : "drift.png",
            summary: .init(passed: results.filter { $0.status == .passed }.count, uncertain: results.filter { $0.status == .uncertain }.count,
                           failed: results.filter { $0.status == .failed }.count, attempts: results.reduce(0) { $0 + $1.attempts.count },
                           seconds: seconds, allPassed: results.allSatisfy { $0.status == .passed }))
        try StudioJSON.encode(report, as: .runReport, pretty: true).write(to: URL(fileURLWithPath: partial + "/report.json"), options: .atomic)
        guard rename(partial, final) == 0 else {
            throw RunFolderError(description: "cannot move \(partial) to \(final): \(String(cString: strerror(errno)))")
        }
        return report
    }
}

struct RunFolderError: Error, CustomStringConvertible { let description: String }
