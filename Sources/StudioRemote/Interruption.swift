import Foundation

/// A request to stop a run, raised from another thread (the CLI's SIGINT/SIGTERM handler) and read by
/// the `RemoteClient` between steps: before a submit (nothing is sent), while a job is queued or
/// running (the job is cancelled where the provider can), and during the waits between polls.
public final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var why: String?

    public init() {}

    /// Asks the run to stop; `reason` names the cause in messages and the journal ("SIGINT"). Only the
    /// first request's reason is kept.
    public func request(_ reason: String) { lock.withLock { if why == nil { why = reason } } }

    /// The reason, once a stop was requested.
    public var reason: String? { lock.withLock { why } }
    public var isRequested: Bool { reason != nil }
}
