import Foundation
import AdapterSDK
import StudioAdapterHost
import StudioNet

/// How the host paces and bounds remote jobs.
public struct RemoteSettings: Sendable {
    /// Seconds between polls of a running job.
    public var pollInterval: Double
    /// Seconds a job may stay queued or running before the host gives up on it (it can be resumed).
    public var maxPollSeconds: Double
    /// Retries of a submit answered 429 (the job was not created: safe to resend). A submit that fails
    /// any other way is never resent: it may have created a job, and resending would pay twice.
    public var submitRetry: RetryPolicy
    /// Retries of a poll or a download answered 429 or 5xx, or lost to a timeout or a dropped connection.
    public var pollRetry: RetryPolicy
    public var maxImageBytes: Int
    public var maxVideoBytes: Int
    /// Waits (injected by tests).
    public var sleep: @Sendable (Double) -> Void
    /// Raised on SIGINT/SIGTERM: the client sends no further submit and cancels a job in flight.
    public var interruption: Interruption? = nil
    /// The most attempts a run may send to the provider (each may create a paid job), counted over the
    /// run's journal so a resumed run keeps to it; nil: no cap beyond shots x attempts.
    public var maxJobs: Int? = nil
    /// What the application tells its user to do, by error code ("timeout": how to go on polling),
    /// appended to those errors' messages; the library itself names no command.
    public var remedies: [String: String] = [:]

    public init(pollInterval: Double = 2, maxPollSeconds: Double = 1800, submitRetry: RetryPolicy = RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 60),
                pollRetry: RetryPolicy = RetryPolicy(maxAttempts: 8, baseDelay: 1, maxDelay: 60), maxImageBytes: Int = 64 << 20,
                maxVideoBytes: Int = 512 << 20, sleep: @escaping @Sendable (Double) -> Void = { if $0 > 0 { Thread.sleep(forTimeInterval: $0) } }) {
        self.pollInterval = pollInterval; self.maxPollSeconds = maxPollSeconds; self.submitRetry = submitRetry; self.pollRetry = pollRetry
        self.maxImageBytes = maxImageBytes; self.maxVideoBytes = maxVideoBytes; self.sleep = sleep
    }
}

/// A remote job that did not deliver. `retryable`: another attempt (a new seed) may succeed.
public struct RemoteError: Error, CustomStringConvertible, Sendable, Equatable {
    /// An `AdapterError` code, or "network", "ambiguous_submit", "timeout", "forbidden_host", "download".
    public var code: String
    public var message: String
    public var retryable: Bool
    /// The provider kept answering 429/5xx, or the network failed: the job itself may be fine.
    public var transient = false
    public init(code: String, message: String, retryable: Bool) { self.code = code; self.message = message; self.retryable = retryable }
    public var description: String { message }

    /// As the run journal keeps it.
    var journaled: AdapterError { AdapterError(code: code, message: message, retryable: retryable) }
}

/// One output of a job, downloaded.
public struct FetchedOutput: Sendable {
    public var kind: String
    public var bytes: [UInt8]
    /// The file under the run folder, when journaled.
    public var file: String?
}

/// The host's side of one adapter: sends its plans with the credential injected, polls, downloads,
/// and journals every step. Adapters only translate; everything on the network is here.
public final class RemoteClient: @unchecked Sendable {
    public let adapter: any AdapterEndpoint
    public let manifest: AdapterManifest
    public let route: RemoteRoute
    public var settings: RemoteSettings
    let secret: String
    let issuer: String?
    let http: HTTPClient
    private var random = SystemRandomNumberGenerator()

    /// What this client has sent, for tests and reports.
    public struct Counts: Sendable, Equatable {
        public var submits = 0; public var polls = 0; public var downloads = 0; public var retries = 0
        /// Cancel calls answered 2xx.
        public var cancels = 0
        /// Attempts sent to the provider by this client (without a journal, what `maxJobs` counts).
        public var jobsSent = 0
        /// Attempts held back because the run had reached `maxJobs`.
        public var heldAtCap = 0
        /// Attempts the user's interrupt stopped: held back before their submit, or cancelled in flight.
        public var interrupted = 0
    }
    public internal(set) var counts = Counts()

    public init(adapter: any AdapterEndpoint, secret: String, issuer: String? = nil, route: RemoteRoute, settings: RemoteSettings = RemoteSettings()) {
        self.adapter = adapter; self.manifest = adapter.manifest; self.secret = secret; self.issuer = issuer; self.route = route
        self.settings = settings
        self.http = HTTPClient(maxResponseBytes: 64 << 20, connectTimeout: 15, timeout: 180, sleep: settings.sleep)
    }

    /// The secret (and Kling's access key) for an adapter, from the environment or `$STUDIO_HOME/credentials`.
    public static func credentials(for manifest: AdapterManifest, home: String,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (secret: String, issuer: String?) {
        let auth = manifest.surface.auth
        guard let secret = try Credentials.value(auth.credential, environment: environment, home: home), !secret.isEmpty else {
            throw RemoteError(code: "auth", message: "no credential for \(manifest.name): set \(auth.credential) or add it to \(Credentials.file(home: home))", retryable: false)
        }
        var issuer: String? = nil
        if auth.scheme == "jwt-hs256" {
            guard let access = try Credentials.value("KLING_ACCESS_KEY", environment: environment, home: home), !access.isEmpty else {
                throw RemoteError(code: "auth", message: "\(manifest.name) signs a JWT: set KLING_ACCESS_KEY (and \(auth.credential)) or add them to \(Credentials.file(home: home))", retryable: false)
            }
            issuer = access
        }
        return (secret, issuer)
    }

    func redact(_ s: String) -> String { Redaction.redact(s, secrets: [secret, issuer ?? ""].filter { !$0.isEmpty }) }

    func fail(_ code: String, _ message: String, retryable: Bool) -> RemoteError {
        let remedy = settings.remedies[code].map { "; " + $0 } ?? ""
        return RemoteError(code: code, message: redact(message + remedy), retryable: retryable)
    }

    func fail(_ e: AdapterError) -> RemoteError {
        RemoteError(code: e.code, message: redact("\(manifest.name): \(e.code): \(e.message)"), retryable: e.retryable)
    }

    /// Runs one attempt's job to its outputs: resumes from the journal where it has the attempt (never
    /// resubmitting a job that was sent), else builds, submits, polls and downloads.
    public func run(key: String, request: AdapterRequest, images: [AdapterImage], journal: RunJournal?,
                    resubmitUnanswered: Bool = false, event: (String) -> Void = { _ in }) throws(RemoteError) -> (jobId: String?, outputs: [FetchedOutput]) {
        func note(_ e: RunJournal.Entry) throws(RemoteError) {
            do { try journal?.append(e) } catch { throw fail("journal", "\(error)", retryable: false) }
        }
        var update: JobUpdate
        // Polls carry the submit plan's own headers, not those about its body or waiting (Runway's X-Runway-Version): adapters
        // are pure, so after a restart the plan is rebuilt, never resent, to learn them.
        var pollHeaders: [String: String] = [:]
        func learnPollHeaders(_ plans: [HTTPRequestPlan]) {
            let submit = plans.first { $0.purpose == "submit" }
            pollHeaders = (submit?.headers ?? [:]).filter { !["content-type", "content-length", "accept", "prefer"].contains($0.key.lowercased()) }
        }
        switch journal?.state(key) ?? .none {
        case .downloaded(let files, let kinds, let jobId):
            var out: [FetchedOutput] = []
            for (f, k) in zip(files, kinds) {
                guard let bytes = FileManager.default.contents(atPath: journal!.folder + "/" + f) else {
                    throw fail("journal", "the journal lists \(f) but it is missing from \(journal!.folder)", retryable: false)
                }
                out.append(FetchedOutput(kind: k, bytes: Array(bytes), file: f))
            }
            event("\(key): outputs of job \(jobId ?? "?") already downloaded")
            return (jobId, out)
        case .failed(let e):
            // Journaled as the host reported it (already named and redacted).
            throw RemoteError(code: e.code, message: e.message + " (as recorded in the run journal)", retryable: e.retryable)
        case .submitting where !resubmitUnanswered:
            throw fail("ambiguous_submit", "\(key): a submit to \(manifest.provider) was sent but its answer was never recorded (the host stopped mid-request); it is not sent again, since it may have created a job that is being charged. Check the provider's dashboard", retryable: false)
        case .outputs(let outputs, let jobId):
            update = JobUpdate(state: "succeeded", outputs: outputs, jobId: jobId)
            event("\(key): job \(jobId ?? "?") had finished; downloading its outputs")
        case .submitted(let jobId, let pollURL):
            update = JobUpdate(state: "running", pollURL: pollURL, jobId: jobId, cancel: journal?.cancelPlan(key))
            if let plans = try? adapter.buildRequest(request, images: images) { learnPollHeaders(plans) }
            event("\(key): resuming job \(jobId ?? "?") (not resubmitted)")
        case .none, .submitting:
            let plans: [HTTPRequestPlan]
            do { plans = try adapter.buildRequest(request, images: images) } catch let e as AdapterError { throw fail(e) } catch {
                throw fail("adapter", "\(manifest.name) could not build the request: \(error)", retryable: false)
            }
            guard let plan = plans.first(where: { $0.purpose == "submit" }) else {
                throw fail("adapter", "\(manifest.name) planned no submit request", retryable: false)
            }
            learnPollHeaders(plans)
            try mayCreateJob(key, journal: journal)
            try note(.init(event: "submitting", key: key))
            update = try submit(plan, images: images.map(\.bytes), key: key, journal: journal)
            try note(.init(event: "submitted", key: key, jobId: update.jobId, pollURL: update.pollURL, cancel: update.cancel))
            event("\(key): submitted to \(manifest.provider)" + (update.jobId.map { " as job \($0)" } ?? ""))
        }

        // Poll until the job ends (or the user interrupts: then cancel it).
        let started = Date()
        var lastPoll = update.pollURL
        var cancel = update.cancel
        func stopIfInterrupted() throws(RemoteError) {
            guard let why = settings.interruption?.reason, update.state == "queued" || update.state == "running" else { return }
            throw cancelJob(key: key, jobId: update.jobId, plan: cancel, headers: pollHeaders, reason: why, journal: journal)
        }
        while update.state == "queued" || update.state == "running" {
            try stopIfInterrupted()
            guard let url = update.pollURL else {
                throw fail("malformed_response", "\(manifest.name): job \(update.jobId ?? "?") is \(update.state) but the adapter gave no poll URL", retryable: false)
            }
            guard Date().timeIntervalSince(started) < settings.maxPollSeconds else {
                throw fail("timeout", "job \(update.jobId ?? "?") on \(manifest.provider) still \(update.state) after \(Int(settings.maxPollSeconds)) s; the job is journaled and can be polled again", retryable: false)
            }
            pause(settings.pollInterval)
            try stopIfInterrupted()
            let jobId = update.jobId
            do {
                update = try send(HTTPRequestPlan(purpose: "poll", method: "GET", url: url, headers: pollHeaders), images: [], retry: settings.pollRetry)
            } catch {
                // A job that ended (failed, filtered) is journaled as such; a provider still answering 429/5xx
                // after every retry is not: the job may be running, and `runs resume` polls it again.
                if !error.transient { try note(.init(event: "failed", key: key, jobId: jobId, error: error.journaled)) }
                throw error
            }
            counts.polls += 1
            if update.jobId == nil { update.jobId = jobId }
            if update.cancel == nil { update.cancel = cancel }
            if update.pollURL != lastPoll || update.cancel != cancel, update.state == "queued" || update.state == "running" {
                try note(.init(event: "submitted", key: key, jobId: update.jobId, pollURL: update.pollURL, cancel: update.cancel))
                lastPoll = update.pollURL
                cancel = update.cancel
            }
            event("\(key): job \(update.jobId ?? "?") \(update.state)")
        }
        guard update.state == "succeeded", !update.outputs.isEmpty else {
            let e = fail(AdapterError(code: "server", message: "job \(update.jobId ?? "?") ended \(update.state) without outputs", retryable: true))
            try note(.init(event: "failed", key: key, jobId: update.jobId, error: e.journaled))
            throw e
        }
        try note(.init(event: "outputs", key: key, jobId: update.jobId, outputs: update.outputs))

        // Download.
        var out: [FetchedOutput] = []
        for (i, o) in update.outputs.enumerated() {
            let bytes = try download(o)
            var file: String? = nil
            if let journal {
                let name = "downloads/\(key)-\(i).\(Self.fileExtension(bytes, kind: o.kind))"
                do {
                    try FileManager.default.createDirectory(atPath: journal.folder + "/downloads", withIntermediateDirectories: true)
                    try Data(bytes).write(to: URL(fileURLWithPath: journal.folder + "/" + name), options: .atomic)
                } catch { throw fail("journal", "cannot save \(name): \(error.localizedDescription)", retryable: false) }
                file = name
            }
            out.append(FetchedOutput(kind: o.kind, bytes: bytes, file: file))
        }
        try note(.init(event: "downloaded", key: key, jobId: update.jobId, outputs: update.outputs, files: out.compactMap(\.file)))
        event("\(key): downloaded \(out.count) output(s)")
        return (update.jobId, out)
    }

    /// Sends the submit; resends only after a 429 (the provider did not create the job).
    func submit(_ plan: HTTPRequestPlan, images: [[UInt8]], key: String, journal: RunJournal?) throws(RemoteError) -> JobUpdate {
        var attempt = 1
        while true {
            counts.submits += 1
            let (response, parsed) = try exchange(plan, images: images)
            switch parsed {
            case .success(let u): return u
            case .failure(let e):
                if response.status == 429, attempt < settings.submitRetry.maxAttempts {
                    let wait = settings.submitRetry.delay(attempt: attempt, retryAfter: e.retryAfterSeconds ?? response.header("retry-after").flatMap { RetryPolicy.parseRetryAfter($0) }, random: &random)
                    counts.retries += 1
                    pause(wait)
                    if let why = settings.interruption?.reason {
                        // The 429 created no job: withdraw the attempt, so a resumed run sends it.
                        counts.interrupted += 1
                        try? journal?.append(.init(event: "withdrawn", key: key))
                        throw fail("interrupted", "\(key): interrupted (\(why)) while waiting to resend a submit \(manifest.provider) refused with 429; no job was created", retryable: false)
                    }
                    attempt += 1
                    continue
                }
                let why: AdapterError
                if (500...599).contains(response.status) {
                    why = AdapterError(code: e.code, message: e.message + " (the submit is not resent: it may have created a job)", retryable: false)
                } else {
                    why = e
                }
                let e = fail(why)
                try? journal?.append(.init(event: "failed", key: key, error: e.journaled))
                throw e
            }
        }
    }

    /// Sends an idempotent request (poll), retrying 429, 5xx and transient network failures.
    func send(_ plan: HTTPRequestPlan, images: [[UInt8]], retry: RetryPolicy) throws(RemoteError) -> JobUpdate {
        var attempt = 1
        while true {
            var wait: Double? = nil
            var lastError: RemoteError
            do throws(RemoteError) {
                let (response, parsed) = try exchange(plan, images: images)
                switch parsed {
                case .success(let u): return u
                case .failure(let e):
                    lastError = fail(e)
                    let transient = response.status == 429 || (500...599).contains(response.status) || (e.code == "auth" && e.retryable)
                    guard transient else { throw lastError }
                    lastError.transient = true
                    wait = e.retryAfterSeconds ?? response.header("retry-after").flatMap { RetryPolicy.parseRetryAfter($0) }
                }
            } catch {
                guard error.code == "network" && error.retryable else { throw error }
                lastError = error
                lastError.transient = true
            }
            guard attempt < retry.maxAttempts else { throw lastError }
            counts.retries += 1
            pause(retry.delay(attempt: attempt, retryAfter: wait, random: &random))
            attempt += 1
        }
    }

    /// One request: validated against the manifest, routed, credential injected when planned; the
    /// response handed to the adapter.
    func exchange(_ plan: HTTPRequestPlan, images: [[UInt8]]) throws(RemoteError) -> (HTTPResponse, Result<JobUpdate, AdapterError>) {
        let response = try transmit(plan, images: images)
        let answer = AdapterResponse(purpose: plan.purpose, status: response.status, headers: response.headers)
        do { return (response, .success(try adapter.parseResponse(answer, body: response.body))) } catch let e as AdapterError {
            return (response, .failure(e))
        } catch {
            return (response, .failure(AdapterError(code: "adapter", message: "\(error)", retryable: false)))
        }
    }

    /// Sends one plan: validated against the manifest, routed, credential injected when planned.
    func transmit(_ plan: HTTPRequestPlan, images: [[UInt8]]) throws(RemoteError) -> HTTPResponse {
        if let problem = ManifestValidator.problem(plan: plan, manifest: manifest) {
            throw fail("forbidden_host", "refused to send: \(problem)", retryable: false)
        }
        var request: HTTPRequest
        do { request = try HTTPRequest(plan: plan, images: images, random: &random) } catch {
            throw fail("adapter", "\(manifest.name): \(error)", retryable: false)
        }
        let (url, extra) = route.resolve(plan.url)
        request.url = url
        for (k, v) in extra { request.headers[k] = v }
        if plan.authenticated {
            let (name, value) = Credentials.authHeader(manifest.surface.auth, secret: secret, issuer: issuer)
            request.headers[name] = value
        }
        do { return try http.send(request).requireNoRedirect() } catch {
            throw fail("network", "\(plan.purpose) to \(manifest.provider): \(error)", retryable: error.isTransient)
        }
    }

    /// An output's bytes: a data URL decoded, or an https URL on an allowed host fetched without
    /// credentials, size-limited, retried like a poll.
    func download(_ o: JobUpdate.Output) throws(RemoteError) -> [UInt8] {
        let limit = o.kind == "video" ? settings.maxVideoBytes : settings.maxImageBytes
        if o.url.hasPrefix("data:") {
            guard let comma = o.url.firstIndex(of: ","), o.url[..<comma].hasSuffix(";base64"),
                  o.url.count - o.url.distance(from: o.url.startIndex, to: comma) <= limit / 3 * 4 + 4,
                  let data = Data(base64Encoded: String(o.url[o.url.index(after: comma)...])) else {
                throw fail("malformed_response", "\(manifest.name): an inline output is not a base64 data URL within \(limit) bytes", retryable: false)
            }
            counts.downloads += 1
            return Array(data)
        }
        let plan = HTTPRequestPlan(purpose: "download", method: "GET", url: o.url, authenticated: false)
        if let problem = ManifestValidator.problem(plan: plan, manifest: manifest) {
            throw fail("forbidden_host", "refused to download an output: \(problem)", retryable: false)
        }
        var client = http
        client.maxResponseBytes = limit
        let (url, extra) = route.resolve(o.url)
        let request = HTTPRequest(method: "GET", url: url, headers: extra)
        var attempt = 1
        while true {
            var wait: Double? = nil
            let outcome: Result<HTTPResponse, NetError>
            do { outcome = .success(try client.send(request).requireNoRedirect()) } catch { outcome = .failure(error) }
            switch outcome {
            case .success(let r) where (200..<300).contains(r.status) && !r.body.isEmpty:
                counts.downloads += 1
                return r.body
            case .success(let r) where RetryPolicy.isRetryable(status: r.status) && attempt < settings.pollRetry.maxAttempts:
                wait = r.header("retry-after").flatMap { RetryPolicy.parseRetryAfter($0) }
            case .success(let r):
                throw fail("download", "downloading an output from \(NetError.redact(o.url)) answered \(r.status) (\(r.body.count) bytes)", retryable: true)
            case .failure(let e) where e.isTransient && attempt < settings.pollRetry.maxAttempts:
                break
            case .failure(let e):
                throw fail("download", "downloading an output: \(e)", retryable: e.isTransient)
            }
            counts.retries += 1
            settings.sleep(settings.pollRetry.delay(attempt: attempt, retryAfter: wait, random: &random))
            attempt += 1
        }
    }

    /// png, jpg, webp, mp4 or bin, from the bytes.
    static func fileExtension(_ b: [UInt8], kind: String) -> String {
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "png" }
        if b.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpg" }
        if b.count > 12, b[0..<4].elementsEqual(Array("RIFF".utf8)), b[8..<12].elementsEqual(Array("WEBP".utf8)) { return "webp" }
        if b.count > 8, b[4..<8].elementsEqual(Array("ftyp".utf8)) { return "mp4" }
        return kind == "video" ? "video" : "bin"
    }
}
