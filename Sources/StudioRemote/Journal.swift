import Foundation
import AdapterSDK

/// The run journal: one JSON line per step of every remote job of a run, appended and flushed to disk
/// before the step's consequence (a submit is journaled before it is sent, its job id as soon as the
/// answer is read). After a crash `studio runs resume` replays it: a job already submitted is polled
/// again, never submitted twice; downloaded outputs are read from `downloads/`.
public final class RunJournal: @unchecked Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        /// "submitting", "submitted", "outputs", "downloaded", "failed", "cancelled" (the user
        /// interrupted the run; `error` says whether the provider accepted the cancel) or "withdrawn"
        /// (interrupted while waiting to resend a submit the provider refused with 429: no job exists,
        /// and a resumed run sends the attempt).
        public var event: String
        /// The attempt: "shot-01-attempt-2".
        public var key: String
        public var jobId: String?
        public var pollURL: String?
        public var outputs: [JobUpdate.Output]?
        /// Files under the run folder (for "downloaded").
        public var files: [String]?
        public var error: AdapterError?
        /// How to cancel the job (for "submitted"), so a resumed host can cancel it too.
        public var cancel: HTTPRequestPlan?
        /// Seconds since 1970.
        public var time: Double

        public init(event: String, key: String, jobId: String? = nil, pollURL: String? = nil, outputs: [JobUpdate.Output]? = nil,
                    files: [String]? = nil, error: AdapterError? = nil, cancel: HTTPRequestPlan? = nil, time: Double = Date().timeIntervalSince1970) {
            self.event = event; self.key = key; self.jobId = jobId; self.pollURL = pollURL; self.outputs = outputs
            self.files = files; self.error = error; self.cancel = cancel; self.time = time
        }
    }


    /// What the journal says about one attempt.
    public enum State: Equatable, Sendable {
        case none
        /// A submit was sent and its answer never recorded: it may have created (and be charging) a job.
        case submitting
        case submitted(jobId: String?, pollURL: String?)
        case outputs([JobUpdate.Output], jobId: String?)
        case downloaded(files: [String], kinds: [String], jobId: String?)
        case failed(AdapterError)
    }

    /// The run folder (files in entries are relative to it).
    public let folder: String
    public let path: String
    private let lock = NSLock()
    private var entries: [Entry]

    /// Opens (or creates) `<folder>/journal.jsonl`. A torn last line (a crash mid-write) is ignored.
    public init(folder: String) throws(RunJournalError) {
        self.folder = folder
        path = folder + "/journal.jsonl"
        var loaded: [Entry] = []
        if let data = FileManager.default.contents(atPath: path) {
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                guard let e = try? JSONDecoder().decode(Entry.self, from: Data(line)) else { continue }
                loaded.append(e)
            }
        } else if !FileManager.default.createFile(atPath: path, contents: nil) {
            throw RunJournalError(description: "cannot create the run journal \(path)")
        }
        entries = loaded
    }

    public var all: [Entry] { lock.withLock { entries } }

    /// Appends an entry and flushes it to disk before returning.
    public func append(_ e: Entry) throws(RunJournalError) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(e) else { throw RunJournalError(description: "cannot encode a journal entry") }
        lock.lock()
        defer { lock.unlock() }
        guard let h = FileHandle(forWritingAtPath: path) else { throw RunJournalError(description: "cannot open the run journal \(path)") }
        defer { try? h.close() }
        do {
            try h.seekToEnd()
            try h.write(contentsOf: data + Data([UInt8(ascii: "\n")]))
            try h.synchronize()
        } catch {
            throw RunJournalError(description: "cannot write the run journal \(path): \(error.localizedDescription)")
        }
        entries.append(e)
    }

    /// The latest state of an attempt.
    public func state(_ key: String) -> State {
        var s = State.none
        var jobId: String? = nil
        for e in all where e.key == key {
            if let j = e.jobId { jobId = j }
            switch e.event {
            case "submitting": s = .submitting
            case "withdrawn": s = .none
            case "submitted": s = .submitted(jobId: jobId, pollURL: e.pollURL)
            case "outputs": s = .outputs(e.outputs ?? [], jobId: jobId)
            case "downloaded": s = .downloaded(files: e.files ?? [], kinds: (e.outputs ?? []).map(\.kind), jobId: jobId)
            // A cancelled job is over: a resumed run reports it and never submits the attempt again.
            case "failed", "cancelled": if let err = e.error { s = .failed(err) }
            default: break
            }
        }
        return s
    }

    /// The latest cancel plan journaled for an attempt's job.
    public func cancelPlan(_ key: String) -> HTTPRequestPlan? {
        all.last { $0.key == key && $0.cancel != nil }?.cancel
    }

    /// How many attempts were sent to the provider (each may have created a paid job): what
    /// `--max-jobs` counts, across a run and its resumptions.
    public var jobsSent: Int {
        var sent: Set<String> = []
        for e in all {
            if e.event == "submitting" { sent.insert(e.key) } else if e.event == "withdrawn" { sent.remove(e.key) }
        }
        return sent.count
    }

    /// Job ids by attempt key, for the report.
    public var jobIds: [String: String] {
        var out: [String: String] = [:]
        for e in all { if let j = e.jobId { out[e.key] = j } }
        return out
    }
}

public struct RunJournalError: Error, CustomStringConvertible, Sendable { public let description: String }
