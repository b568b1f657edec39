#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program to completion and reports what it cost: its exit and its peak resident memory
/// (`wait4`'s rusage of that one child, so nothing else the caller ran is counted).
public enum ChildProcess {
    public struct Outcome: Sendable, Equatable {
        /// The exit status, or 128 + the signal number when a signal ended it.
        public var status: Int32
        /// Whether a signal ended it.
        public var signaled: Bool
        /// Peak resident set size in bytes.
        public var peakResidentBytes: Int
    }


    /// Runs `executable` with `arguments` (the caller's environment), its standard output and
    /// error written to the given files (created or truncated), and waits for it.
    public static func run(_ executable: String, _ arguments: [String],
                           stdout: String = "/dev/null", stderr: String = "/dev/null") throws -> Outcome {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        if rc != 0 { throw ChildProcessError(executable: executable, code: rc) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        let signaled = signal != 0 && signal != 0x7f
        // Linux reports ru_maxrss in kilobytes, macOS in bytes.
        #if os(Linux)
        let peak = Int(usage.ru_maxrss) * 1024
        #else
        let peak = Int(usage.ru_maxrss)
        #endif
        return Outcome(status: signaled ? 128 + signal : (status >> 8) & 0xff, signaled: signaled, peakResidentBytes: peak)
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var executable: String
    public var code: Int32
    public var description: String { "could not start \(executable): \(String(cString: strerror(code)))" }
}
