import Foundation
import StudioKit
import StudioStore
import XCTest

/// The store's figures at 100,000 characters. Runs only with `STUDIO_STORE_BENCH=1` (it takes a while and
/// the numbers mean something only in a release build):
///
///     STUDIO_STORE_BENCH=1 swift test -c release --scratch-path .build-store --filter StudioStoreTests.StoreBenchmarkTests
final class StoreBenchmarkTests: XCTestCase {
    func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

    func testHundredThousandCharacters() throws {
        guard ProcessInfo.processInfo.environment["STUDIO_STORE_BENCH"] == "1" else {
            throw XCTSkip("set STUDIO_STORE_BENCH=1 to run the 100,000-character benchmark")
        }
        let count = Int(ProcessInfo.processInfo.environment["STUDIO_STORE_BENCH_COUNT"] ?? "") ?? 100_000
        let home = ProcessInfo.processInfo.environment["STUDIO_STORE_BENCH_HOME"] ?? makeTemporaryHome(self)
        let env = ["STUDIO_KEY_BENCH": hexKey(0x42)]
        var store = try SQLiteCharacterStore(home: home, environment: env)
        let existing = try store.list(tenant: "bench").filter { $0.name.hasPrefix("synthetic-") }.count
        var t = Date()
        if existing < count {
            try store.addSynthetic(count: count - existing, tenant: "bench", seed: 1, start: existing)
        }
        let insert = Date().timeIntervalSince(t)
        // Ten full characters (3 references each) among the synthetic ones.
        var full: [String] = []
        for i in 0..<10 {
            let (c, images) = sampleCharacter(name: "full-\(i)", tenant: "bench", referenceCount: 3, seed: UInt64(i + 1))
            if (try? store.character(named: c.name, tenant: "bench")) == nil { try store.add(c, images: images) }
            full.append(c.name)
        }
        let size = (try FileManager.default.attributesOfItem(atPath: home + "/studio.sqlite")[.size] as? NSNumber)?.intValue ?? 0

        // A fresh instance, as a new CLI process would have.
        store = try SQLiteCharacterStore(home: home, environment: env)
        var rng = SplitMix64(seed: 9)
        var lookups: [Double] = []
        for _ in 0..<2000 {
            let name = SyntheticCharacters.name(index: Int(rng.next() % UInt64(count)), seed: 1)
            t = Date()
            _ = try store.character(named: name, tenant: "bench")
            lookups.append(Date().timeIntervalSince(t) * 1000)
        }
        var fullLookups: [Double] = []
        for _ in 0..<20 { for name in full {
            t = Date()
            _ = try store.character(named: name, tenant: "bench")
            fullLookups.append(Date().timeIntervalSince(t) * 1000)
        } }
        t = Date()
        let listed = try store.list(tenant: "bench").count
        let list = Date().timeIntervalSince(t)

        t = Date()
        let loaded = try store.preloadIndex(tenant: "bench")
        let load = Date().timeIntervalSince(t)
        // Again with the file in the page cache (what a second CLI run would see).
        var warmLoads: [Double] = []
        for _ in 0..<(Int(ProcessInfo.processInfo.environment["STUDIO_STORE_BENCH_LOADS"] ?? "") ?? 3) {
            store.dropIndexes()
            t = Date()
            _ = try store.preloadIndex(tenant: "bench")
            warmLoads.append(Date().timeIntervalSince(t) * 1000)
        }
        warmLoads.sort()
        var searches: [Double] = []
        for i in 0..<300 {
            let q = SyntheticCharacters.identity(index: i, seed: 777)
            t = Date()
            let hits = try store.nearest(to: q, tenant: "bench", top: 5)
            searches.append(Date().timeIntervalSince(t) * 1000)
            XCTAssertEqual(hits.count, 5)
        }
        let probe = try store.nearest(to: SyntheticCharacters.identity(index: count / 2, seed: 1), tenant: "bench", top: 1)
        XCTAssertEqual(probe.first?.name, SyntheticCharacters.name(index: count / 2, seed: 1))
        lookups.sort(); fullLookups.sort(); searches.sort()
        print(String(format: """
            store bench: %d characters (%d inserted in %.2f s), studio.sqlite %.1f MB
              lookup by name (no references): p50 %.3f ms, p95 %.3f ms
              lookup by name (3 references):  p50 %.3f ms, p95 %.3f ms
              list %d names: %.1f ms
              index load (%d identities): first %.1f ms, again (warm) p50 %.1f ms
              nearest top 5: p50 %.2f ms, p95 %.2f ms, max %.2f ms
            """, listed, count - existing, insert, Double(size) / 1e6,
            percentile(lookups, 0.5), percentile(lookups, 0.95), percentile(fullLookups, 0.5), percentile(fullLookups, 0.95),
            listed, list * 1000, loaded, load * 1000, percentile(warmLoads, 0.5),
            percentile(searches, 0.5), percentile(searches, 0.95), searches.last ?? 0))
    }
}
