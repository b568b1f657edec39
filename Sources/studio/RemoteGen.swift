import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioImage
import StudioStore
import AdapterSDK
import StudioAdapterHost
import StudioRemote

/// A remote run's parameters, written first into the run folder (`run.json`) so an interrupted run
/// can be resumed exactly: the same character, prompts, seeds and attempts, replayed over the journal.
struct RunSpec: Codable {
    static let file = "run.json"
    var id: String
    var backend: String
    var character: String
    var tenant: String
    var prompt: String
    var negatives: [String]
    var count: Int
    var seed: UInt64
    var maxAttempts: Int
    var emulated: Bool
    var isolate: Bool
    var pollInterval: Double
    var width: Int
    var height: Int
    /// The provider's model version instead of the adapter's pin (`--model-version`); nil: the pin.
    var modelVersion: String?
    /// The most attempts the run may send, over the run and its resumptions (`--max-jobs`); nil: no cap
    /// beyond count x maxAttempts.
    var maxJobs: Int?

    /// The most paid jobs the run may create: count x maxAttempts, or the cap when lower.
    /// Reads a run folder's run.json (written under the JSON convention, or camelCase before it).
    static func read(_ path: String) throws -> RunSpec {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do { return try StudioJSON.decoder().decode(RunSpec.self, from: data) } catch {
            guard let legacy = try? JSONDecoder().decode(RunSpec.self, from: data) else { throw error }
            return legacy
        }
    }

    var jobBound: Int { min(count * maxAttempts, maxJobs ?? Int.max) }
}

/// `studio gen --backend <adapter>`: the same verification loop and run folder as the local backend,
/// with each attempt sent through the adapter (RemoteBackend) and journaled for `studio runs resume`.
struct RemoteGen {
    let spec: RunSpec
    let writer: RunFolder
    let json: Bool
    let resubmitUnanswered: Bool

    /// Which judge: with an emulator the outputs come from the local generator, so the generated-face
    /// calibration applies; a real provider's photographs are judged at dlib's published 0.6.
    static func judge(emulated: Bool, quiet: Bool) throws -> (FaceIdentityJudge, RunReport.Calibration, String) {
        if emulated {
            let engine = try LocalEngine.load(quiet: quiet)
            return (engine.judge, engine.reportCalibration, engine.calibrationLine)
        }
        let pipeline = try loadPipeline()
        let band = 0.02
        let judge = FaceIdentityJudge(pipeline: pipeline, uncertainty: UncertaintyModel(threshold: FaceDescriptor.sameIdentityDistance, sigma: band, band: band))
        let cal = RunReport.Calibration(domain: "photos (dlib's published threshold)", threshold: FaceDescriptor.sameIdentityDistance,
                                        uncertainBand: band, distanceNoise: nil, pairs: 0, falseAcceptRate: nil)
        return (judge, cal, "threshold 0.600 for photographs (dlib's published same-person distance), uncertain within ±\(fmt(band, 3))")
    }

    static func adapter(named name: String, isolate: Bool) throws -> any AdapterEndpoint {
        let (loaded, _) = Adapters.loadAll()
        guard let a = loaded.first(where: { $0.manifest.name == name }) else {
            throw BadInputError("unknown backend '\(name)': 'local' or an adapter (found: \(loaded.map(\.manifest.name).joined(separator: ", ").nilIfEmpty ?? "none"))")
        }
        guard isolate else { return a }
        do { return try OutOfProcessAdapter(path: a.path, command: [Adapters.executable(), "adapters", "serve", a.path]) } catch {
            throw BadInputError("\(name) could not start out of process: \(error)")
        }
    }

    /// Everything a remote run needs before anything is written: the route, the adapter, its credential,
    /// the character and its references. Any of them missing is bad input (exit 2).
    struct Prepared {
        var route: RemoteRoute
        var adapter: any AdapterEndpoint
        var credentials: (secret: String, issuer: String?)
        var character: CharacterRecord
        var references: [[UInt8]]
    }

    static func prepare(_ spec: RunSpec) throws -> Prepared {
        let route: RemoteRoute
        do { route = try RemoteRoute.fromEnvironment() } catch { throw BadInputError("\(error)") }
        if spec.emulated != route.isEmulated {
            throw BadInputError(spec.emulated ? "this run was sent to an emulator: set STUDIO_EMULATOR to its address to resume it"
                                         : "this run was sent to the real provider; unset STUDIO_EMULATOR to resume it")
        }
        let adapter = try Self.adapter(named: spec.backend, isolate: spec.isolate)
        let m = adapter.manifest
        let creds: (secret: String, issuer: String?)
        do { creds = try RemoteClient.credentials(for: m, home: StudioPaths.fromEnvironment().home) } catch { throw BadInputError("\(error)") }
        let (c, refBytes) = try withStore { s -> (CharacterRecord, [[UInt8]]) in
            let c = try s.character(named: spec.character, tenant: spec.tenant)
            return (c, try c.references.prefix(max(0, m.surface.maxReferences)).map { try s.image(sha256: $0.sha256) })
        }
        return Prepared(route: route, adapter: adapter, credentials: creds, character: c, references: refBytes)
    }

    func run(_ p: Prepared) throws {
        let (route, adapter, creds, c, refBytes) = (p.route, p.adapter, p.credentials, p.character, p.references)
        let m = adapter.manifest
        let (judge, calibration, calibrationLine) = try Self.judge(emulated: spec.emulated, quiet: json)
        let journal: RunJournal
        do { journal = try RunJournal(folder: writer.partial) } catch { throw BadInputError("\(error)") }
        var settings = RemoteSettings()
        settings.pollInterval = spec.pollInterval
        let interruption = Interruption()
        settings.interruption = interruption
        settings.maxJobs = spec.maxJobs
        settings.remedies = ["timeout": "`studio runs resume \(writer.partial)` goes on polling it",
                             "ambiguous_submit": "`studio runs resume \(writer.partial) --resubmit-unanswered` sends it again"]
        let signals = InterruptSignals(interruption)
        defer { withExtendedLifetime(signals) {} }
        let client = RemoteClient(adapter: adapter, secret: creds.secret, issuer: creds.issuer, route: route, settings: settings)
        let quiet = json
        let backend = RemoteBackend(client: client, references: AdapterRequests.images(refBytes, maxReferences: m.surface.maxReferences),
                                    journal: journal, width: spec.width, height: spec.height, resubmitUnanswered: resubmitUnanswered,
                                    modelVersion: spec.modelVersion,
                                    log: { line in if !quiet { warn("  " + line) } })
        if !json {
            warn("studio gen: \(spec.count) shot(s) of \(c.name) on \(m.name) (\(m.provider) \(m.model)), seed \(spec.seed), up to \(spec.maxAttempts) attempt(s) each")
            warn(Self.spendLine(spec, sentBefore: journal.jobsSent))
            if let e = route.emulator { warn("EMULATED: requests for \(m.provider) go to the emulator at \(e), not to the provider") }
            warn("run folder (until complete): \(writer.partial); if interrupted: studio runs resume \(writer.partial)")
            warn("verifying against the \(calibrationLine)")
            for line in backend.surfaceMessages { warn("surface: " + line) }
        }
        let loop = VerificationLoop(maxAttempts: spec.maxAttempts)
        let started = monotonicSeconds()
        var runs: [ShotRun] = []
        for i in 0..<spec.count {
            let shot = ShotRequest(index: i, prompt: spec.prompt, negatives: spec.negatives, seed: spec.seed &+ UInt64(i))
            let run = loop.run(shot: shot, character: c, backend: backend, judge: judge) { event in
                if case .attemptFinished(_, let a) = event, !quiet {
                    warn("  " + GenText.attemptLine(shot: i, a, threshold: calibration.threshold))
                    for f in a.frames ?? [] {
                        warn("    frame \(f.index) at \(fmt(f.seconds, 1)) s: " + (f.distance.map { "distance \(fmt($0, 3)) \(f.verdict.rawValue)" } ?? "no face"))
                    }
                }
            }
            if client.counts.interrupted > 0 || client.counts.heldAtCap > 0 { break }
            if !json { print("shot \(i + 1): \(run.result.summary)") }
            runs.append(run)
        }
        try stopShort(interruption: interruption, client: client, journal: journal)
        let seconds = monotonicSeconds() - started
        let remote = RunReport.Remote(adapter: m.name, version: m.version, provider: m.provider, model: m.model, emulated: spec.emulated,
                                      jobs: journal.jobIds)
        let references = try withStore { referenceImages(c, store: $0) }
        let report = try writer.write(runs: runs, id: spec.id, character: c, references: references, calibration: calibration,
                                      request: .init(backend: spec.backend, prompt: spec.prompt, negatives: spec.negatives, count: spec.count,
                                                     seed: spec.seed, maxAttempts: spec.maxAttempts, identityInjection: true, remote: remote),
                                      ladder: Array(loop.ladder.steps.prefix(spec.maxAttempts)), seconds: seconds)
        try writer.finish(report, json: json, extra: "; \(client.counts.submits) submit(s), \(client.counts.polls) poll(s)")
    }

    /// Before anything is sent: the most paid jobs the run may create, and how the count is bounded.
    static func spendLine(_ spec: RunSpec, sentBefore: Int) -> String {
        var s = "at most \(spec.jobBound) paid job(s) (\(spec.count) shot(s) x \(spec.maxAttempts) attempt(s)"
        if let cap = spec.maxJobs { s += ", capped by --max-jobs \(cap)" }
        s += ")"
        if sentBefore > 0 { s += ", \(sentBefore) of them sent before this resumption" }
        return s + "; a submit is resent only after a 429, when no job was created; Ctrl-C cancels the job in flight"
    }

    /// Ends a run that stopped short without a report: interrupted (exit 128 + signal) or held at its job
    /// cap (exit 1); either way the run folder stays resumable.
    func stopShort(interruption: Interruption, client: RemoteClient, journal: RunJournal) throws {
        let why: String, status: Int32, message: String
        let resume = "studio runs resume \(writer.partial)"
        if let reason = interruption.reason, client.counts.interrupted > 0 {
            (why, status) = ("interrupted", InterruptSignals.exitStatus(reason))
            message = "studio gen: interrupted (\(reason)) after \(journal.jobsSent) job(s) sent (\(client.counts.cancels) cancelled); the run is not complete: \(resume) finishes it (a cancelled job is not sent again)"
        } else if client.counts.heldAtCap > 0, let cap = spec.maxJobs {
            (why, status) = ("job_cap", 1)
            message = "studio gen: stopped at the job cap (--max-jobs \(cap)): \(journal.jobsSent) job(s) sent; the run is not complete: \(resume) --max-jobs N (N > \(cap)) goes on"
        } else {
            return
        }
        if json {
            print(JSON.document(.runStopped, [("stopped", JSON.string(why)), ("run", JSON.string(writer.partial)), ("jobs_sent", String(journal.jobsSent)),
                               ("cancelled", String(client.counts.cancels)), ("resume", JSON.string(resume))]))
        } else {
            warn(message)
        }
        throw ExitCode(status)
    }

    /// Starts a new remote run: prepares it (nothing is written when that fails), writes run.json into a
    /// fresh partial folder, then runs.
    static func start(_ spec: RunSpec, folder: String, json: Bool) throws {
        let prepared = try prepare(spec)
        let writer: RunFolder
        do { writer = try RunFolder(final: folder) } catch { throw BadInputError("\(error)") }
        try StudioJSON.encode(spec, as: .runSpec, pretty: true).write(to: URL(fileURLWithPath: writer.partial + "/" + RunSpec.file), options: .atomic)
        try RemoteGen(spec: spec, writer: writer, json: json, resubmitUnanswered: false).run(prepared)
    }
}

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run folders: list them; resume an interrupted remote run.",
        subcommands: [RunsList.self, RunsResume.self])
}

struct RunsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Run folders under $STUDIO_HOME/runs, complete and interrupted.")
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let dir = StudioPaths.fromEnvironment().home + "/runs"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        var rows: [(String, String)] = []
        for n in names {
            if n.hasSuffix(".partial") {
                rows.append((n, FileManager.default.fileExists(atPath: dir + "/" + n + "/" + RunSpec.file) ? "interrupted (studio runs resume \(n.dropLast(8)))" : "incomplete local run"))
            } else if FileManager.default.fileExists(atPath: dir + "/" + n + "/report.json") {
                rows.append((n, "complete"))
            }
        }
        if json {
            print(JSON.document(.runsList, [("runs", JSON.array(rows.map { JSON.object([("id", JSON.string($0.0)), ("state", JSON.string($0.1))]) }))]))
        } else if rows.isEmpty {
            print("no runs in \(dir)")
        } else {
            for (n, s) in rows { print(n.padding(toLength: 34, withPad: " ", startingAt: 0) + s) }
        }
    }
}

struct RunsResume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Finish an interrupted remote run: jobs already submitted are polled again, never resubmitted.",
        discussion: """
        Replays the run's journal (<run>.partial/journal.jsonl): attempts that finished are read from disk,
        a job that was submitted is polled at its recorded URL until it ends, and only attempts that were
        never sent are sent now. A submit whose answer was lost (the host died mid-request) is not resent
        unless --resubmit-unanswered says so: it may have created a job that is being charged.
        Exit status as for gen: 0 every shot passed, 1 otherwise, 2 bad input.
        """)
    @Argument(help: "The run's id (under $STUDIO_HOME/runs) or its folder (<run>.partial).") var id: String
    @Flag(help: "Send again a submit whose answer was never recorded (it may double-charge).") var resubmitUnanswered = false
    @Option(help: "The most jobs the whole run may have sent, counting those sent before (replaces gen's --max-jobs).") var maxJobs: Int?
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        if let n = maxJobs, n < 1 { throw ValidationError("--max-jobs must be at least 1") }
    }

    func run() throws {
        let runs = StudioPaths.fromEnvironment().home + "/runs/"
        var candidates = [id, id + ".partial"]
        if !id.contains("/") { candidates += [runs + id, runs + id + ".partial"] }
        guard let partial = candidates.first(where: { $0.hasSuffix(".partial") && FileManager.default.fileExists(atPath: $0 + "/" + RunSpec.file) }) else {
            let done = candidates.first { FileManager.default.fileExists(atPath: $0 + "/report.json") }
            throw BadInputError(done.map { "\($0) is complete; nothing to resume" } ?? "no interrupted run '\(id)' (looked for \(candidates.filter { $0.hasSuffix(".partial") }.joined(separator: ", ")))")
        }
        var spec: RunSpec
        do { spec = try RunSpec.read(partial + "/" + RunSpec.file) } catch {
            throw BadInputError("\(partial)/\(RunSpec.file) is unreadable: \(error)")
        }
        if let n = maxJobs { spec.maxJobs = n }
        let writer: RunFolder
        do { writer = try RunFolder(resuming: partial) } catch { throw BadInputError("\(error)") }
        if !json { warn("resuming run \(spec.id) (\(spec.backend), \(spec.count) shot(s))") }
        let prepared = try RemoteGen.prepare(spec)
        try RemoteGen(spec: spec, writer: writer, json: json, resubmitUnanswered: resubmitUnanswered).run(prepared)
    }
}
