import XCTest
import Foundation
import AdapterSDK
import StudioAdapterHost
import StudioEmulator
@testable import StudioRemote

/// Interrupts and the job cap against the emulators: the cancel call each provider has (Replicate's
/// POST .../cancel, fal's queue PUT .../cancel, Runway's DELETE /v1/tasks/{id}; Kling has none), what
/// the journal keeps, and what a resumed client does with it.
extension EmulatedAdapterTests {
    /// A client whose waits raise the interrupt once the emulator has answered `afterPolls` polls.
    func interruptible(_ r: Run, afterPolls: Int) -> Interruption {
        let interruption = Interruption()
        var s = r.client.settings
        s.interruption = interruption
        let emulator = r.emulator
        s.sleep = { _ in if emulator.seen.polls >= afterPolls { interruption.request("SIGINT") } }
        r.client.settings = s
        return interruption
    }

    func freshClient(_ r: Run, _ c: Case, maxJobs: Int? = nil) throws -> RemoteClient {
        let adapter = try LoadedAdapter(path: try Self.library(c.library))
        let provider = try XCTUnwrap(EmulatedProvider(rawValue: adapter.manifest.provider))
        var settings = RemoteSettings(pollInterval: 0, sleep: { _ in })
        settings.maxJobs = maxJobs
        return RemoteClient(adapter: adapter, secret: Self.credentials[provider]!, issuer: "kling-access",
                            route: try RemoteRoute(emulator: r.emulator.url), settings: settings)
    }

    func testAnInterruptCancelsTheJobInFlightAndResumeDoesNotResubmit() throws {
        // Replicate instant-id, fal flux-pulid, Runway gen4 have cancel calls; Kling's official API has none.
        for (c, cancels) in [(Self.cases[0], true), (Self.cases[3], true), (Self.cases[7], true), (Self.cases[8], false)] {
            let r = try setUp(c, pollsUntilDone: 2)
            r.emulator.hold(true)
            _ = interruptible(r, afterPolls: 1)
            let key = "shot-01-attempt-1"
            XCTAssertThrowsError(try r.client.run(key: key, request: Self.request, images: [Self.reference], journal: r.journal)) { e in
                let e = e as? RemoteError
                XCTAssertEqual(e?.code, "cancelled", "\(c.library): \(String(describing: e))")
                XCTAssertEqual(e?.retryable, false, c.library)
                if !cancels { XCTAssertTrue(e?.message.contains("has no call to cancel") == true, "\(c.library): \(String(describing: e))") }
            }
            XCTAssertEqual(r.emulator.seen.cancels, cancels ? 1 : 0, c.library)
            XCTAssertEqual(r.client.counts.cancels, cancels ? 1 : 0, c.library)
            XCTAssertEqual(r.emulator.allJobs.map(\.cancelled), [cancels], "\(c.library): the emulator's job was cancelled")
            XCTAssertEqual(r.journal.all.last?.event, "cancelled", c.library)
            if cancels { XCTAssertNotNil(r.journal.cancelPlan(key), "\(c.library): the cancel plan is journaled with the job") }
            guard case .failed(let recorded) = try RunJournal(folder: r.folder).state(key) else { return XCTFail("\(c.library): journaled as over") }
            XCTAssertEqual(recorded.code, "cancelled", c.library)

            // A resumed client reports the cancelled attempt and sends nothing.
            r.emulator.hold(false)
            let fresh = try freshClient(r, c)
            XCTAssertThrowsError(try fresh.run(key: key, request: Self.request, images: [Self.reference], journal: try RunJournal(folder: r.folder))) { e in
                XCTAssertEqual((e as? RemoteError)?.code, "cancelled", c.library)
            }
            XCTAssertEqual(fresh.counts.submits + fresh.counts.polls, 0, "\(c.library): nothing sent on resume")
            XCTAssertEqual(r.emulator.seen.submitAttempts, 1, c.library)
        }
    }

    func testAResumedClientCancelsWithTheJournaledPlan() throws {
        let c = Self.cases[7]
        let r = try setUp(c, pollsUntilDone: 2)
        r.emulator.hold(true)
        var s = r.client.settings
        s.maxPollSeconds = 0
        r.client.settings = s
        let key = "shot-01-attempt-1"
        XCTAssertThrowsError(try r.client.run(key: key, request: Self.request, images: [Self.reference], journal: r.journal))
        guard case .submitted = r.journal.state(key) else { return XCTFail("left submitted by the poll timeout") }
        let fresh = try freshClient(r, c)
        let interruption = Interruption()
        interruption.request("SIGTERM")
        fresh.settings.interruption = interruption
        XCTAssertThrowsError(try fresh.run(key: key, request: Self.request, images: [Self.reference], journal: try RunJournal(folder: r.folder))) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "cancelled")
            XCTAssertTrue((e as? RemoteError)?.message.contains("SIGTERM") == true)
        }
        XCTAssertEqual(r.emulator.seen.cancels, 1, "the resumed host cancels the job it did not submit")
        XCTAssertEqual(r.emulator.seen.submitAttempts, 1)
    }

    func testAnInterruptBeforeTheSubmitSendsNothing() throws {
        let r = try setUp(Self.cases[0])
        let interruption = interruptible(r, afterPolls: 0)
        interruption.request("SIGINT")
        XCTAssertThrowsError(try r.client.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "interrupted")
        }
        XCTAssertEqual(r.emulator.seen.submitAttempts, 0)
        XCTAssertEqual(r.journal.all.count, 0, "nothing journaled: a resumed run sends the attempt")
    }

    func testAnInterruptWhileWaitingOutA429WithdrawsTheAttempt() throws {
        let r = try setUp(Self.cases[0], faults: FaultPlan(submit: [.rateLimited(retryAfter: 5)]))
        _ = interruptible(r, afterPolls: 0)
        let key = "shot-01-attempt-1"
        XCTAssertThrowsError(try r.client.run(key: key, request: Self.request, images: [Self.reference], journal: r.journal)) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "interrupted")
        }
        XCTAssertEqual(r.emulator.seen.jobs, 0, "the 429 created no job")
        XCTAssertEqual(r.journal.state(key), RunJournal.State.none)
        XCTAssertEqual(r.journal.jobsSent, 0)
        let out = try freshClient(r, Self.cases[0]).run(key: key, request: Self.request, images: [Self.reference], journal: try RunJournal(folder: r.folder))
        XCTAssertEqual(out.outputs.count, 1, "a resumed run sends the withdrawn attempt")
        XCTAssertEqual(r.emulator.seen.jobs, 1)
    }

    func testTheJobCapHoldsBackTheNextAttemptAcrossResumptions() throws {
        let c = Self.cases[0]
        let r = try setUp(c, pollsUntilDone: 1)
        let capped = try freshClient(r, c, maxJobs: 1)
        _ = try capped.run(key: "shot-01-attempt-1", request: Self.request, images: [Self.reference], journal: r.journal)
        XCTAssertThrowsError(try capped.run(key: "shot-01-attempt-2", request: Self.request, images: [Self.reference], journal: r.journal)) { e in
            XCTAssertEqual((e as? RemoteError)?.code, "job_cap")
            XCTAssertTrue((e as? RemoteError)?.message.contains("its cap of 1") == true, "\(e)")
        }
        XCTAssertEqual(capped.counts.heldAtCap, 1)
        XCTAssertEqual(r.emulator.seen.submitAttempts, 1)
        // The cap counts the journal, not the client: a resumed run with the same cap sends nothing more.
        let resumed = try freshClient(r, c, maxJobs: 1)
        XCTAssertThrowsError(try resumed.run(key: "shot-01-attempt-2", request: Self.request, images: [Self.reference], journal: try RunJournal(folder: r.folder)))
        XCTAssertEqual(r.emulator.seen.submitAttempts, 1)
        let raised = try freshClient(r, c, maxJobs: 2)
        _ = try raised.run(key: "shot-01-attempt-2", request: Self.request, images: [Self.reference], journal: try RunJournal(folder: r.folder))
        XCTAssertEqual(r.emulator.seen.jobs, 2)
    }
}
