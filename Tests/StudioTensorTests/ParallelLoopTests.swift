import Dispatch
import Foundation
import XCTest
@testable import StudioTensor

/// Counts per index, written from any thread.
private final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [Int]
    init(_ n: Int) { counts = Array(repeating: 0, count: n) }
    func hit(_ i: Int) { lock.lock(); counts[i] += 1; lock.unlock() }
    var all: [Int] { lock.lock(); defer { lock.unlock() }; return counts }
}

final class ParallelLoopTests: XCTestCase {
    func testEveryPartRunsOnceAcrossManyBackToBackLoops() {
        for parts in [1, 2, 3, 7, 64] {
            for _ in 0..<200 {
                let tally = Tally(parts)
                ParallelLoop.run(parts) { tally.hit($0) }
                XCTAssertEqual(tally.all, Array(repeating: 1, count: parts), "\(parts) parts")
            }
        }
        XCTAssertLessThanOrEqual(ParallelLoop.poolThreads, 63)
    }

    func testZeroPartsRunNothing() {
        let tally = Tally(1)
        ParallelLoop.run(0) { tally.hit($0) }
        XCTAssertEqual(tally.all, [0])
    }

    /// A loop started inside a part finds the pool busy and runs serially: no deadlock.
    func testNestedLoopsComplete() {
        let tally = Tally(16)
        ParallelLoop.run(4) { outer in
            ParallelLoop.run(4) { inner in tally.hit(outer * 4 + inner) }
        }
        XCTAssertEqual(tally.all, Array(repeating: 1, count: 16))
    }

    /// Callers on several threads at once: each loop completes whole, whoever runs it.
    func testConcurrentCallersEachCompleteTheirLoop() {
        let callers = 8, parts = 5, rounds = 100
        let tally = Tally(callers * parts)
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for _ in 0..<rounds { ParallelLoop.run(parts) { tally.hit(c * parts + $0) } }
        }
        XCTAssertEqual(tally.all, Array(repeating: rounds, count: callers * parts))
    }
}
