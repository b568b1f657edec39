import XCTest
import Foundation
import StudioKit
import StudioImage
import AdapterSDK
import StudioAdapterHost
import StudioEmulator
@testable import StudioRemote

typealias MirrorGenerator = MirrorSurfaceGenerator

/// Waits the client asked for, instead of sleeping.
final class WaitLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Double] = []
    func add(_ s: Double) { lock.withLock { list.append(s) } }
    var waits: [Double] { lock.withLock { list } }
}

/// Every adapter against its provider's emulator: real dlopen'd adapters, the host's client, the
/// emulator's schema, faults during submit and polling.
final class EmulatedAdapterTests: XCTestCase {
    struct Case { var library: String; var file: String? = nil; var polls = true; var video = false; var negative = true }
    static let cases: [Case] = [
        Case(library: "ReplicateInstantID"), Case(library: "ReplicateFluxPuLID"), Case(library: "ReplicatePhotoMaker"),
        Case(library: "FalFluxPuLID"), Case(library: "FalKlingI2V", video: true), Case(library: "ExampleC"),
        Case(library: "StabilitySD3", polls: false), Case(library: "RunwayGen4", negative: false),
        Case(library: "KlingImage2Video", video: true),
    ]

    static func library(_ name: String) throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while dir.path != "/" {
            let p = dir.appendingPathComponent("lib\(name)Adapter.so").path
            if FileManager.default.fileExists(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        XCTFail("lib\(name)Adapter.so not built")
        throw XCTSkip("adapter not built")
    }

    static let credentials: [EmulatedProvider: String] = [.replicate: "r8_emulated", .fal: "fal-emulated", .stability: "sk-emulated",
                                                          .runway: "rw-emulated", .kling: "kling-secret-emulated"]

    /// A 96x80 colour gradient as PNG: the character's one reference.
    static let reference: AdapterImage = {
        var img = RGBImage(width: 96, height: 80)
        for y in 0..<80 { for x in 0..<96 { let i = (y * 96 + x) * 3; img.pixels[i] = UInt8(x * 2); img.pixels[i + 1] = UInt8(y * 3); img.pixels[i + 2] = 120 } }
        return AdapterImage(bytes: try! ImageIO.encodePNG(img), mimeType: "image/png")
    }()

    static let request = AdapterRequest(
        character: .init(name: "ada", attributes: ["eye_colour": "brown"], embedding: [Float](repeating: 0.01, count: 128), referenceCount: 1),
        prompt: "portrait of a woman img, head turned left", negativePrompt: "blurry, blue eyes, green eyes",
        negativePromptWeighted: "blurry, (blue eyes:1.5), (green eyes:1.5)", strictness: .init(level: 1, identityStrength: 0.85),
        seed: 42, width: 1024, height: 1024)

    struct Run {
        var emulator: Emulator; var generator: MirrorGenerator; var client: RemoteClient; var journal: RunJournal; var waits: WaitLog
        var folder: String
    }

    func setUp(_ c: Case, faults: FaultPlan = FaultPlan(), pollsUntilDone: Int = 3, folder: String? = nil) throws -> Run {
        let adapter = try LoadedAdapter(path: try Self.library(c.library))
        let provider = try XCTUnwrap(EmulatedProvider(rawValue: adapter.manifest.provider))
        let gen = MirrorGenerator()
        let emu = try Emulator(configuration: .init(credentials: Self.credentials, klingAccessKey: "kling-access", pollsUntilDone: pollsUntilDone,
                                                    faults: faults), generator: gen)
        let waits = WaitLog()
        let settings = RemoteSettings(pollInterval: 0.5, sleep: { waits.add($0) })
        let client = RemoteClient(adapter: adapter, secret: Self.credentials[provider]!, issuer: "kling-access",
                                  route: try RemoteRoute(emulator: emu.url), settings: settings)
        let dir = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("remote-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return Run(emulator: emu, generator: gen, client: client, journal: try RunJournal(folder: dir), waits: waits, folder: dir)
    }

    /// What the generator made reaches the host whole: an image bit for bit (PNG), a video as frames.
    func assertDelivered(_ r: Run, _ out: [FetchedOutput], _ c: Case, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(out.count, 1, file: file, line: line)
        let made = try XCTUnwrap(r.generator.outputs.last, file: file, line: line)
        if c.video {
            XCTAssertEqual(out[0].kind, "video", file: file, line: line)
            let frames = try VideoFrames.sample(video: out[0].bytes, fps: 1)
            XCTAssertEqual(frames.count, 3, "three one-second frames", file: file, line: line)
            func mean(_ i: RGBImage) -> Double { Double(i.pixels.reduce(0) { $0 + Int($1) }) / Double(i.pixels.count) }
            for (f, m) in zip(frames, made.frames) { XCTAssertEqual(mean(f.image), mean(m), accuracy: 4, file: file, line: line) }
        } else {
            XCTAssertEqual(out[0].kind, "image", file: file, line: line)
            let got = try ImageIO.decode(out[0].bytes, name: "output")
            XCTAssertEqual(got, made.frames[0], "the downloaded image is the generated one, bit for bit", file: file, line: line)
        }
    }

    func testEveryAdapterThroughItsEmulatorWith429And5xx() throws {
        for c in Self.cases {
            // Submit: a 429 with Retry-After, then accepted. Polls: the first answers 503, the second 429 without Retry-After.
            let faults = c.polls ? FaultPlan(submit: [.rateLimited(retryAfter: 3)], poll: [1: .serverError(503), 2: .rateLimited(retryAfter: nil)])
                                 : FaultPlan(submit: [.rateLimited(retryAfter: 3), .rateLimited(retryAfter: nil)])
            let r = try setUp(c, faults: faults)
            let result: (jobId: String?, outputs: [FetchedOutput])
            do { result = try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal) } catch {
                XCTFail("\(c.library): \(error)"); continue
            }
            let seen = r.emulator.seen
            XCTAssertEqual(seen.jobs, 1, "\(c.library): exactly one job created (no double submission)")
            XCTAssertEqual(seen.submitAttempts, c.polls ? 2 : 3, "\(c.library): the 429'd submits were resent")
            XCTAssertEqual(seen.faults, c.polls ? 3 : 2, "\(c.library): every planned fault was answered")
            XCTAssertEqual(seen.unauthorized, 0, "\(c.library): the host's credential was accepted")
            XCTAssertTrue(r.waits.waits.contains(3), "\(c.library): Retry-After 3 honoured (waits \(r.waits.waits))")
            XCTAssertEqual(r.client.counts.submits, c.polls ? 2 : 3, c.library)
            try assertDelivered(r, result.outputs, c)
            let events = r.journal.all.map(\.event)
            XCTAssertEqual(events.first, "submitting", c.library)
            XCTAssertEqual(events.last, "downloaded", c.library)
            XCTAssertFalse(events.contains("failed"), c.library)
            if c.polls {
                XCTAssertNotNil(result.jobId, c.library)
                XCTAssertEqual(Set(r.journal.all.compactMap(\.jobId)), [result.jobId!], "\(c.library): one job id throughout")
            }
            let file = try XCTUnwrap(result.outputs[0].file)
            XCTAssertTrue(FileManager.default.fileExists(atPath: r.folder + "/" + file), "\(c.library): output kept in the run folder")
        }
    }

    func testWhatEachSurfaceCarries() throws {
        for c in Self.cases {
            let r = try setUp(c, pollsUntilDone: 1)
            _ = try r.client.run(key: "k", request: Self.request, images: [Self.reference], journal: nil)
            let input = try XCTUnwrap(r.generator.inputs.first, c.library)
            XCTAssertEqual(input.references.count, 1, "\(c.library): the reference reached the model")
            XCTAssertEqual(input.references[0].width, 96, c.library)
            XCTAssertEqual(input.video, c.video, c.library)
            XCTAssertEqual(input.negativePrompt != nil, c.negative, "\(c.library): negative prompt \(c.negative ? "in effect" : "absent") on this surface")
            if c.negative { XCTAssertTrue(input.negativePrompt!.contains("blue eyes"), c.library) }
        }
        // Levers read back on the identity scale.
        let instant = try setUp(Self.cases[0], pollsUntilDone: 1)
        _ = try instant.client.run(key: "k", request: Self.request, images: [Self.reference], journal: nil)
        XCTAssertEqual(try XCTUnwrap(instant.generator.inputs.first?.identityStrength), 0.85, accuracy: 1e-9, "ip_adapter_scale = identity strength")
        let stability = try setUp(Self.cases[6], pollsUntilDone: 1)
        _ = try stability.client.run(key: "k", request: Self.request, images: [Self.reference], journal: nil)
        XCTAssertEqual(try XCTUnwrap(stability.generator.inputs.first?.identityStrength), 1 - 0.433, accuracy: 1e-9, "strength 1 - (2/3)*0.85")
    }

    func testA5xxSubmitIsNotResent() throws {
        let r = try setUp(Self.cases[0], faults: FaultPlan(submit: [.serverError(502)]))
        XCTAssertThrowsError(try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)) { e in
            XCTAssertTrue("\(e)".contains("not resent"), "\(e)")
        }
        XCTAssertEqual(r.emulator.seen.submitAttempts, 1)
        XCTAssertEqual(r.emulator.seen.jobs, 0)
        guard case .failed = r.journal.state("shot-01-attempt-1") else { return XCTFail("journaled as failed, so a resume does not resend") }
        // Replayed, the attempt fails the same way without a request, its message named once.
        XCTAssertThrowsError(try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("as recorded in the run journal"), text)
            XCTAssertEqual(text.components(separatedBy: "replicate-instantid:").count, 2, text)
        }
        XCTAssertEqual(r.emulator.seen.submitAttempts, 1)
    }

    func testAJobTheFilterWithholdsIsAContentFilteredError() throws {
        for c in Self.cases {
            let r = try setUp(c, faults: FaultPlan(filteredJobs: [1]), pollsUntilDone: 1)
            XCTAssertThrowsError(try r.client.run(key: "k", request: Self.request, images: [Self.reference], journal: nil), c.library) { e in
                if c.library == "ExampleC" {
                    // The C example maps errors by status only: a 422 stays invalid_request, with fal's words.
                    XCTAssertEqual((e as? RemoteError)?.code, "invalid_request", "\(e)")
                    XCTAssertTrue("\(e)".contains("content checker"), "\(e)")
                } else {
                    XCTAssertEqual((e as? RemoteError)?.code, "content_filtered", "\(c.library): \(e)")
                }
            }
        }
    }

    func testAWrongKeyIsAnAuthErrorAndNeverLeaks() throws {
        for c in Self.cases {
            let r = try setUp(c)
            let adapter = try LoadedAdapter(path: try Self.library(c.library))
            let wrong = "sk-wrong-\(UInt32.random(in: 1...UInt32.max))"
            let client = RemoteClient(adapter: adapter, secret: wrong, issuer: "kling-access", route: try RemoteRoute(emulator: r.emulator.url),
                                      settings: RemoteSettings(sleep: { _ in }))
            XCTAssertThrowsError(try client.run(key: "k", request: Self.request, images: [Self.reference], journal: nil), c.library) { e in
                XCTAssertEqual((e as? RemoteError)?.code, "auth", "\(c.library): \(e)")
                XCTAssertFalse("\(e)".contains(wrong), "\(c.library): the secret appears in the error")
            }
            XCTAssertEqual(r.emulator.seen.unauthorized, 1, c.library)
            XCTAssertEqual(r.emulator.seen.jobs, 0, c.library)
        }
    }

    /// The host stops while the job runs (here: its poll deadline passes); a new client on the same
    /// journal polls the same job to the end and never submits again.
    func testAResumedClientPollsTheSameJob() throws {
        for c in [Self.cases[0], Self.cases[4], Self.cases[7]] {
            var r = try setUp(c, pollsUntilDone: 2)
            r.emulator.hold(true)
            var settings = r.client.settings
            settings.maxPollSeconds = 0.3
            settings.pollInterval = 0.05
            settings.sleep = { Thread.sleep(forTimeInterval: $0) }
            r.client.settings = settings
            XCTAssertThrowsError(try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)) { e in
                XCTAssertEqual((e as? RemoteError)?.code, "timeout", "\(e)")
            }
            guard case .submitted(let jobId, _) = r.journal.state("shot-01-attempt-1") else { return XCTFail("\(c.library): journaled as submitted") }
            r.emulator.hold(false)
            let adapter = try LoadedAdapter(path: try Self.library(c.library))
            let provider = EmulatedProvider(rawValue: adapter.manifest.provider)!
            let fresh = RemoteClient(adapter: adapter, secret: Self.credentials[provider]!, issuer: "kling-access",
                                     route: try RemoteRoute(emulator: r.emulator.url), settings: RemoteSettings(pollInterval: 0, sleep: { _ in }))
            r.journal = try RunJournal(folder: r.folder)
            let out = try fresh.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)
            XCTAssertEqual(out.jobId, jobId, c.library)
            XCTAssertEqual(fresh.counts.submits, 0, "\(c.library): resumed without submitting")
            XCTAssertEqual(r.emulator.seen.jobs, 1, c.library)
            try assertDelivered(r, out.outputs, c)
            // A third run reads the downloaded files back without touching the network.
            let polls = r.emulator.seen.polls
            let again = try fresh.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: try RunJournal(folder: r.folder))
            XCTAssertEqual(again.outputs.map(\.bytes), out.outputs.map(\.bytes), c.library)
            XCTAssertEqual(r.emulator.seen.polls, polls, c.library)
        }
    }

    func testAnUnansweredSubmitIsNotResentOnResume() throws {
        let r = try setUp(Self.cases[0])
        try r.journal.append(.init(event: "submitting", key: "shot-01-attempt-1"))
        // The application's remedy for the code reaches the message; the library names no command itself.
        r.client.settings.remedies = ["ambiguous_submit": "resume with --resubmit-unanswered to send it again"]
        XCTAssertThrowsError(try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "ambiguous_submit")
            XCTAssertTrue((e as? RemoteError)?.message.hasSuffix("dashboard; resume with --resubmit-unanswered to send it again") == true, "\(e)")
            XCTAssertFalse((e as? RemoteError)?.message.contains("studio ") == true, "\(e)")
        }
        XCTAssertEqual(r.emulator.seen.submitAttempts, 0)
        _ = try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal, resubmitUnanswered: true)
        XCTAssertEqual(r.emulator.seen.jobs, 1)
    }

    func testOutputsOffTheManifestsHostsAreRefused() throws {
        // The route only rewrites hosts the manifest allows; an output URL elsewhere is refused before any request.
        let r = try setUp(Self.cases[0])
        XCTAssertThrowsError(try r.client.download(.init(url: "https://evil.example/x.png", kind: "image"))) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "forbidden_host")
        }
        XCTAssertThrowsError(try r.client.download(.init(url: "data:image/png;base64,@@@", kind: "image"))) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "malformed_response")
        }
    }

    func testRoutingIsLoopbackOnly() {
        XCTAssertNoThrow(try RemoteRoute(emulator: "http://127.0.0.1:8080"))
        XCTAssertNoThrow(try RemoteRoute(emulator: "http://localhost:9/"))
        for bad in ["https://127.0.0.1:8080", "http://10.0.0.2:8080", "http://127.0.0.1", "http://127.0.0.1:80/path", "http://evil.example:80"] {
            XCTAssertThrowsError(try RemoteRoute(emulator: bad), bad)
        }
        let route = try! RemoteRoute(emulator: "http://127.0.0.1:8080")
        let (url, headers) = route.resolve("https://api.replicate.com/v1/predictions/abc?x=1")
        XCTAssertEqual(url, "http://127.0.0.1:8080/v1/predictions/abc?x=1")
        XCTAssertEqual(headers, ["X-Studio-Original-Host": "api.replicate.com"])
        XCTAssertEqual(RemoteRoute.production.resolve("https://api.replicate.com/v1").url, "https://api.replicate.com/v1")
    }

    func testTheJournalSurvivesATornLastLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try RunJournal(folder: dir)
        try j.append(.init(event: "submitting", key: "a"))
        try j.append(.init(event: "submitted", key: "a", jobId: "job1", pollURL: "https://api.replicate.com/v1/predictions/job1"))
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/journal.jsonl"))
        try h.seekToEnd(); try h.write(contentsOf: Data("{\"event\":\"outp".utf8)); try h.close()
        let reopened = try RunJournal(folder: dir)
        XCTAssertEqual(reopened.state("a"), .submitted(jobId: "job1", pollURL: "https://api.replicate.com/v1/predictions/job1"))
        XCTAssertEqual(reopened.state("b"), .none)
        XCTAssertEqual(reopened.jobIds, ["a": "job1"])
    }
}
