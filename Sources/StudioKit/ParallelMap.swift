import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `body(0) ..< body(count)` on every core, results in order.
public enum ParallelMap {
    /// Online processors (at least 1).
    public static let cores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// One slot per index; each worker writes only its own slots, read after all have finished.
    final class Slots<T>: @unchecked Sendable {
        private let slots: UnsafeMutableBufferPointer<T?>
        init(_ n: Int) { slots = .allocate(capacity: n); slots.initialize(repeating: nil) }
        deinit { slots.deinitialize(); slots.deallocate() }
        func set(_ i: Int, _ v: T) { slots[i] = v }
        var all: [T] { slots.map { $0! } }
    }

    /// Runs serially when there is one item or one core.
    public static func run<T>(count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        guard count > 1, cores > 1 else { return (0..<count).map(body) }
        let slots = Slots<T>(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in slots.set(i, body(i)) }
        return slots.all
    }
}
