import Foundation

/// When and how long to wait between attempts.
///
/// The delay before retry number `attempt` (1 after the first failure) is based on
/// `cap = min(maxDelay, baseDelay * 2^(attempt-1))`, then jittered:
/// - `.none`: exactly `cap`;
/// - `.full`: uniform in `[0, cap]` (AWS "full jitter": spreads clients best, may retry at once);
/// - `.equal`: `cap/2` plus uniform in `[0, cap/2]` (never less than half the backoff).
///
/// A server's `Retry-After` (seconds, or an HTTP-date) replaces the computed delay, without jitter,
/// capped at `maxDelay`.
public struct RetryPolicy: Sendable, Equatable {
    public enum Jitter: Sendable, Equatable { case none, full, equal }

    /// Attempts in all, the first included (1: no retry).
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    public var jitter: Jitter

    public init(maxAttempts: Int = 4, baseDelay: Double = 0.5, maxDelay: Double = 30, jitter: Jitter = .full) {
        self.maxAttempts = max(1, maxAttempts); self.baseDelay = max(0, baseDelay); self.maxDelay = max(0, maxDelay)
        self.jitter = jitter
    }

    /// No retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Seconds to wait after failed attempt number `attempt` (1-based).
    public func delay<R: RandomNumberGenerator>(attempt: Int, retryAfter: Double? = nil, random: inout R) -> Double {
        if let retryAfter, retryAfter.isFinite { return min(max(0, retryAfter), maxDelay) }
        let exponent = Double(min(max(attempt, 1) - 1, 60))
        let cap = min(maxDelay, baseDelay * pow(2, exponent))
        guard cap > 0 else { return 0 }
        switch jitter {
        case .none: return cap
        case .full: return Double.random(in: 0...cap, using: &random)
        case .equal: return cap / 2 + Double.random(in: 0...(cap / 2), using: &random)
        }
    }

    /// 429 and 5xx are worth another attempt; other statuses are final.
    public static func isRetryable(status: Int) -> Bool { status == 429 || (500..<600).contains(status) }

    /// A `Retry-After` value in seconds from now: delta-seconds, or an IMF-fixdate
    /// ("Sun, 06 Nov 1994 08:49:37 GMT"). Nil when it is neither.
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> Double? {
        let v = value.trimmingCharacters(in: .whitespaces)
        if !v.isEmpty, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return Double(v) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = f.date(from: v) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}
