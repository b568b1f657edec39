import XCTest
import Foundation
import StudioEmulator

/// `studio gen --backend <adapter>` against an in-test emulator whose model mirrors the reference it
/// was sent (a face of the character, so it passes), and `studio runs resume` after a kill.
final class RemoteGenCLITests: XCTestCase {
    static let secrets: [EmulatedProvider: String] = [.replicate: "r8_cli_test", .fal: "fal_cli_test", .kling: "kling_cli_secret"]

    func setUpRun(_ label: String, pollsUntilDone: Int = 2) throws -> (home: String, env: [String: String], emulator: Emulator) {
        let home = try freshStudioHome(label, calibration: true)
        let emu = try Emulator(configuration: .init(credentials: Self.secrets, klingAccessKey: "kling_cli_access", pollsUntilDone: pollsUntilDone),
                               generator: MirrorSurfaceGenerator(videoFrames: 3))
        let env = ["STUDIO_HOME": home, "STUDIO_EMULATOR": emu.url, "REPLICATE_API_TOKEN": Self.secrets[.replicate]!, "FAL_KEY": Self.secrets[.fal]!,
                   "KLING_SECRET_KEY": Self.secrets[.kling]!, "KLING_ACCESS_KEY": "kling_cli_access"]
        let made = try CLI.run(["character", "create", "ada", "--seed", "101"], env: env)
        XCTAssertEqual(made.status, 0, made.stderr)
        return (home, env, emu)
    }

    func report(_ folder: String) throws -> [String: Any] {
        try CLI.document(try String(contentsOfFile: folder + "/report.json", encoding: .utf8), schema: "studio.run-report/1",
                         dataMaps: CLI.reportDataMaps)
    }

    func testKilledDuringPollingThenResumedCompletesTheSameJob() throws {
        let (home, env, emu) = try setUpRun("resume")
        emu.hold(true)
        let out = home + "/runs/killed"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["gen", "--backend", "replicate-instantid", "--character", "ada", "--prompt", "portrait", "--seed", "9",
                       "--max-attempts", "1", "--poll-interval", "0.05", "--out", out]
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while emu.seen.polls < 3 && Date() < deadline && p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertGreaterThanOrEqual(emu.seen.polls, 3, "studio was polling when killed")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no run folder from a killed run")
        let journal = try String(contentsOfFile: out + ".partial/journal.jsonl", encoding: .utf8)
        XCTAssertTrue(journal.contains("\"event\":\"submitted\""), journal)
        XCTAssertEqual(emu.seen.jobs, 1)
        let jobId = try XCTUnwrap(emu.allJobs.first?.id)

        emu.hold(false)
        let resumed = try CLI.run(["runs", "resume", out + ".partial"], env: env)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming job \(jobId) (not resubmitted)"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("at most 1 paid job(s) (1 shot(s) x 1 attempt(s))"), "the spend bound is stated: \(resumed.stderr)")
        XCTAssertFalse(resumed.stdout.contains("paid job"), "status lines stay off stdout")
        XCTAssertEqual(emu.seen.jobs, 1, "the job was not submitted again")
        XCTAssertEqual(emu.seen.submitAttempts, 1)
        let r = try report(out)
        let request = try XCTUnwrap(r["request"] as? [String: Any])
        let remote = try XCTUnwrap(request["remote"] as? [String: Any])
        XCTAssertEqual((remote["jobs"] as? [String: String])?["shot-01-attempt-1"], jobId)
        XCTAssertEqual(remote["emulated"] as? Bool, true)
        XCTAssertEqual((r["summary"] as? [String: Any])?["passed"] as? Int, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/shot-01.png"))

        // Nothing left to resume.
        let again = try CLI.run(["runs", "resume", out + ".partial"], env: env)
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("no interrupted run") || again.stderr.contains("is complete"), again.stderr)
    }

    /// Starts `studio` with `arguments`, its standard error going to `stderr`.
    func launch(_ arguments: [String], env: [String: String], stderr: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = arguments
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        p.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: stderr, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        try p.run()
        return p
    }

    func testSIGINTCancelsTheJobInFlightExits130AndResumeDoesNotResubmit() throws {
        let (home, env, emu) = try setUpRun("sigint")
        emu.hold(true)
        let out = home + "/runs/interrupted"
        let p = try launch(["gen", "--backend", "replicate-instantid", "--character", "ada", "--prompt", "portrait", "--seed", "9",
                            "--max-attempts", "1", "--poll-interval", "0.05", "--out", out], env: env, stderr: home + "/stderr.txt")
        let deadline = Date().addingTimeInterval(120)
        while emu.seen.polls < 2 && Date() < deadline && p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertGreaterThanOrEqual(emu.seen.polls, 2, "studio was polling when interrupted")
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        let stderr = try String(contentsOfFile: home + "/stderr.txt", encoding: .utf8)
        XCTAssertEqual(p.terminationReason, .exit, stderr)
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        XCTAssertEqual(emu.seen.cancels, 1, "the cancel call was made: \(stderr)")
        XCTAssertEqual(emu.allJobs.map(\.cancelled), [true])
        XCTAssertTrue(stderr.contains("interrupted (SIGINT)") && stderr.contains("studio runs resume"), stderr)
        let journal = try String(contentsOfFile: out + ".partial/journal.jsonl", encoding: .utf8)
        XCTAssertTrue(journal.contains("\"event\":\"cancelled\""), journal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no finished run folder")

        emu.hold(false)
        let resumed = try CLI.run(["runs", "resume", out + ".partial", "--json"], env: env)
        XCTAssertEqual(resumed.status, 1, "the only attempt was cancelled: the shot did not pass. \(resumed.stderr)")
        XCTAssertEqual(emu.seen.jobs, 1, "the cancelled job was not submitted again")
        XCTAssertEqual(emu.seen.submitAttempts, 1)
        let attempt = try XCTUnwrap((((try report(out))["shots"] as? [[String: Any]])?.first?["attempts"] as? [[String: Any]])?.first)
        XCTAssertTrue("\(attempt)".contains("cancelled"), "the report says the attempt was cancelled: \(attempt)")
    }

    func testMaxJobsStopsTheRunCleanlyAtTheCap() throws {
        let (home, env, emu) = try setUpRun("cap", pollsUntilDone: 1)
        let out = home + "/runs/capped"
        let r = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--prompt", "portrait", "--seed", "4",
                             "--count", "2", "--max-attempts", "1", "--poll-interval", "0", "--max-jobs", "1", "--out", out], env: env)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("at most 1 paid job(s) (2 shot(s) x 1 attempt(s), capped by --max-jobs 1)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stopped at the job cap (--max-jobs 1): 1 job(s) sent"), r.stderr)
        XCTAssertEqual(emu.seen.submitAttempts, 1, "nothing is sent past the cap")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "the run is not complete")
        let again = try CLI.run(["runs", "resume", out + ".partial", "--max-jobs", "2"], env: env)
        XCTAssertTrue(again.status == 0 || again.status == 1, again.stderr)
        XCTAssertEqual(emu.seen.jobs, 2, "the raised cap lets the second shot's job go")
        XCTAssertEqual(((try report(out))["shots"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual(try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--max-jobs", "0"], env: env).status, 2, "a usage error is bad input")
    }

    func testAVideoAdapterIsVerifiedFrameByFrame() throws {
        let (home, env, emu) = try setUpRun("video", pollsUntilDone: 1)
        let out = home + "/runs/video"
        let r = try CLI.run(["gen", "--backend", "kling-image2video", "--character", "ada", "--prompt", "she smiles", "--seed", "3",
                             "--max-attempts", "1", "--poll-interval", "0", "--out", out, "--json"], env: env)
        XCTAssertEqual(emu.seen.jobs, 1)
        XCTAssertEqual(emu.seen.unauthorized, 0, "the host's JWT was accepted")
        let rep = try report(out)
        let shots = try XCTUnwrap(rep["shots"] as? [[String: Any]])
        let attempt = try XCTUnwrap((shots.first?["attempts"] as? [[String: Any]])?.first)
        let frames = try XCTUnwrap(attempt["frames"] as? [[String: Any]], "per-frame scores in the report")
        XCTAssertGreaterThanOrEqual(frames.count, 3, "3 one-second frames, sampled at 2 fps")
        // The mirror's first frame is the reference itself; later frames are darkened copies, which can
        // only be farther: the attempt's verdict is the worst frame's.
        let distances = frames.compactMap { $0["distance"] as? Double }
        let judged = try XCTUnwrap((attempt["judgement"] as? [String: Any])?["distance"] as? Double)
        XCTAssertEqual(judged, distances.max() ?? -1, accuracy: 1e-12)
        // The frames are plotted against their time: frames.png, named in the report.
        XCTAssertEqual(rep["frame_plot"] as? String, "frames.png")
        let plot = try Data(contentsOf: URL(fileURLWithPath: out + "/frames.png"))
        XCTAssertEqual(Array(plot.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        XCTAssertTrue(r.status == 0 || r.status == 1, r.stderr)
    }

    func testNoEmulatorNoCredentialIsAClearError() throws {
        let home = try freshStudioHome("nocred")
        let made = try CLI.run(["character", "create", "ada", "--seed", "101"], env: ["STUDIO_HOME": home])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--prompt", "p"],
                            env: ["STUDIO_HOME": home, "REPLICATE_API_TOKEN": "", "STUDIO_EMULATOR": ""])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("REPLICATE_API_TOKEN"), r.stderr)
        let bad = try CLI.run(["gen", "--backend", "replicate-instantid", "--character", "ada", "--prompt", "p"],
                              env: ["STUDIO_HOME": home, "STUDIO_EMULATOR": "http://10.1.2.3:80"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("loopback"), bad.stderr)
    }

    func testResumingSomethingThatIsNotAnInterruptedRunIsBadInput() throws {
        let home = try freshStudioHome("resume-bad")
        let none = try CLI.run(["runs", "resume", "no-such-run"], env: ["STUDIO_HOME": home])
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("no interrupted run 'no-such-run'"), none.stderr)
        // A run folder whose run.json is corrupt: a clear error, and the folder is left as it was.
        let partial = home + "/runs/broken.partial"
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        try Data("{\"id\": 3".utf8).write(to: URL(fileURLWithPath: partial + "/run.json"))
        let broken = try CLI.run(["runs", "resume", "broken"], env: ["STUDIO_HOME": home])
        XCTAssertEqual(broken.status, 2)
        XCTAssertTrue(broken.stderr.contains("run.json is unreadable"), broken.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: partial + "/run.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/runs/broken"))
    }
}
