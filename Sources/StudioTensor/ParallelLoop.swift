import CStudioKernels

/// Short fork-join loops on a pool whose threads stay awake between back-to-back loops
/// (`studio_parallel_for`): the layers of one network pass, each a fraction of a millisecond, where
/// waking a sleeping thread per layer (`DispatchQueue.concurrentPerform`) would cost as much as the
/// layer. For long, independent items use `ParallelMap`.
public enum ParallelLoop {
    /// Runs `body(0) ..< body(parts)`, on the calling thread and up to `parts - 1` pool threads, and
    /// returns when every part has finished. Serial when the pool is busy with another caller's loop.
    public static func run(_ parts: Int, _ body: @Sendable (Int) -> Void) {
        if parts <= 1 { if parts == 1 { body(0) }; return }
        withoutActuallyEscaping(body) { escaping in
            var box = escaping
            withUnsafeMutablePointer(to: &box) { pointer in
                studio_parallel_for(Int32(parts), { context, part in
                    context!.assumingMemoryBound(to: (@Sendable (Int) -> Void).self).pointee(Int(part))
                }, pointer)
            }
        }
    }

    /// Threads the pool has started so far.
    public static var poolThreads: Int { Int(studio_parallel_workers()) }
}
