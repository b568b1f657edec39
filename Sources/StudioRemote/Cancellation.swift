import Foundation
import AdapterSDK
import StudioNet

// How a remote run stops short: at the user's interrupt (the job in flight is cancelled where the
// provider has a cancel call, and journaled) or at its job cap (nothing more is sent). Their error
// codes: `interrupted` (stopped before sending), `cancelled` (a job in flight was cancelled, or could
// not be), `job_cap` (`maxJobs` reached).
extension RemoteClient {
    /// Throws when this attempt may not be sent: the user interrupted the run, or the run has sent
    /// `maxJobs` attempts already (counted over the journal, so resumptions keep to the cap).
    func mayCreateJob(_ key: String, journal: RunJournal?) throws(RemoteError) {
        if let why = settings.interruption?.reason {
            counts.interrupted += 1
            throw fail("interrupted", "\(key): not submitted: the run was interrupted (\(why)) before it was sent", retryable: false)
        }
        if let cap = settings.maxJobs {
            let sent = journal?.jobsSent ?? counts.jobsSent
            guard sent < cap else {
                counts.heldAtCap += 1
                throw fail("job_cap", "\(key): not submitted: the run has sent \(sent) job(s) to \(manifest.provider), its cap of \(cap)", retryable: false)
            }
        }
        counts.jobsSent += 1
    }

    /// Waits `seconds`; with an `interruption` to watch, in slices of at most 0.2 s, returning early
    /// once it is raised.
    func pause(_ seconds: Double) {
        guard settings.interruption != nil else { return settings.sleep(seconds) }
        var left = seconds
        while left > 0, settings.interruption?.isRequested != true {
            let slice = min(left, 0.2)
            settings.sleep(slice)
            left -= slice
        }
    }

    /// Cancels an interrupted job with `plan` (sent authenticated with the poll headers, retried on
    /// 429/5xx a few times), journals the outcome as "cancelled" and returns the error that ends the
    /// attempt. Without a plan (Kling has no cancel call) it says the job may still be charged.
    func cancelJob(key: String, jobId: String?, plan: HTTPRequestPlan?, headers: [String: String], reason: String,
                   journal: RunJournal?) -> RemoteError {
        let job = "job \(jobId ?? "?") on \(manifest.provider)"
        counts.interrupted += 1
        let outcome: String
        if var plan {
            plan.purpose = "cancel"
            for (k, v) in headers where plan.headers[k] == nil { plan.headers[k] = v }
            outcome = sendCancel(plan, job: job)
        } else {
            outcome = "\(manifest.provider) has no call to cancel a job: \(job) may run to its end and be charged"
        }
        let e = fail("cancelled", "\(key): interrupted (\(reason)): \(outcome); a resumed run does not send this attempt again", retryable: false)
        try? journal?.append(.init(event: "cancelled", key: key, jobId: jobId, error: e.journaled))
        return e
    }

    /// Sends a cancel (at most 3 tries, the later ones only after a 429, a 5xx or a lost connection)
    /// and says what came of it.
    func sendCancel(_ plan: HTTPRequestPlan, job: String) -> String {
        var attempt = 1
        while true {
            let why: String
            let again: Bool
            do {
                let r = try transmit(plan, images: [])
                if (200..<300).contains(r.status) {
                    counts.cancels += 1
                    return "\(job) was cancelled (\(plan.method) \(NetError.redact(plan.url)) answered \(r.status))"
                }
                why = "the cancel call answered \(r.status)"
                again = RetryPolicy.isRetryable(status: r.status)
            } catch {
                why = "the cancel call failed: \(error.message)"
                again = error.code == "network" && error.retryable
            }
            guard again, attempt < 3 else { return "\(why): \(job) may still run and be charged; check the provider's dashboard" }
            settings.sleep(Double(attempt))
            attempt += 1
        }
    }
}
