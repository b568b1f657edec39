import Foundation
import StudioKit
import StudioStore
import XCTest

final class SearchTests: XCTestCase {
    let env = ["STUDIO_KEY_ACME": hexKey(0x55), "STUDIO_KEY_GLOBEX": hexKey(0x56)]

    /// All-`Double` brute force: every distance, ordered by (distance, tenant, name).
    func reference(_ records: [CharacterRecord], _ q: FaceDescriptor, tenant: String?, top: Int) -> [CharacterMatch] {
        records.filter { tenant == nil || $0.tenant == tenant }
            .map { CharacterMatch(name: $0.name, tenant: $0.tenant, distance: $0.identity.distance(to: q), cosineSimilarity: $0.identity.cosineSimilarity(to: q)) }
            .sorted { ($0.distance, $0.tenant, $0.name) < ($1.distance, $1.tenant, $1.name) }
            .prefix(top).map { $0 }
    }

    func assertSame(_ got: [CharacterMatch], _ want: [CharacterMatch], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.map { "\($0.tenant)/\($0.name)" }, want.map { "\($0.tenant)/\($0.name)" }, label, file: file, line: line)
        for (g, w) in zip(got, want) {
            XCTAssertEqual(g.distance, w.distance, accuracy: 1e-12, label, file: file, line: line)
            XCTAssertEqual(g.cosineSimilarity, w.cosineSimilarity, accuracy: 1e-12, label, file: file, line: line)
        }
    }

    func testNearestMatchesBruteForceOnRandomData() throws {
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        var records: [CharacterRecord] = []
        try store.batch {
            for i in 0..<1500 {
                let r = SyntheticCharacters.record(index: i, tenant: i % 3 == 0 ? "globex" : "acme", seed: 77)
                try store.add(r, images: [:])
                records.append(r)
            }
        }
        // Two characters at exactly the same place: ties are broken by name.
        var twin = records[10]
        twin.name = "a-twin"; twin.id = "twin"
        try store.add(twin, images: [:])
        records.append(twin)

        var rng = SplitMix64(seed: 5)
        var queries = (0..<12).map { _ in FaceDescriptor((0..<128).map { _ in Float(rng.next() >> 40) / Float(1 << 24) * 0.5 - 0.25 }) }
        queries.append(records[10].identity)                 // exact hit (and its twin)
        queries.append(FaceDescriptor(records[500].identity.values.map { $0 + 0.001 }))
        for (qi, q) in queries.enumerated() {
            for (tenant, top) in [("acme", 1), ("acme", 5), ("globex", 20), (nil, 10), (nil, 300)] as [(String?, Int)] {
                let got = try store.nearest(to: q, tenant: tenant, top: top)
                assertSame(got, reference(records, q, tenant: tenant, top: top), "query \(qi) tenant \(tenant ?? "*") top \(top)")
            }
        }
        let exact = try store.nearest(to: records[10].identity, tenant: "acme", top: 2)
        XCTAssertEqual(exact.map(\.name), ["a-twin", records[10].name])
        XCTAssertEqual(exact[0].distance, 0)
        XCTAssertEqual(exact[0].cosineSimilarity, 1, accuracy: 1e-6)
        XCTAssertEqual(try store.nearest(to: queries[0], tenant: "acme", top: 0), [])
        XCTAssertEqual(try store.nearest(to: queries[0], tenant: "nobody", top: 3), [])
        XCTAssertEqual(try store.nearest(to: queries[0], tenant: "acme", top: 5000).count, 1001)
    }

    func testIndexFollowsAddsAndRemovesOfThisAndOtherInstances() throws {
        let home = makeTemporaryHome(self)
        let store = try SQLiteCharacterStore(home: home, environment: env)
        try store.addSynthetic(count: 200, tenant: "acme", seed: 1)
        let probe = SyntheticCharacters.identity(index: 0, seed: 999)
        XCTAssertEqual(try store.preloadIndex(tenant: "acme"), 200)
        XCTAssertNotEqual(try store.nearest(to: probe, tenant: "acme", top: 1).first?.name, "probe")

        // This instance: add then remove.
        let probeRecord = CharacterRecord(id: "probe", tenant: "acme", name: "probe", createdAt: 0, identity: probe, references: [], attributes: FaceAttributes())
        try store.add(probeRecord, images: [:])
        XCTAssertEqual(try store.nearest(to: probe, tenant: "acme", top: 1).first?.name, "probe")
        try store.remove(named: "probe", tenant: "acme")
        XCTAssertNotEqual(try store.nearest(to: probe, tenant: "acme", top: 1).first?.name, "probe")
        XCTAssertEqual(try store.nearest(to: probe, tenant: "acme", top: 1000).count, 200)

        // Another instance (as another process would) adds: this one notices.
        let other = try SQLiteCharacterStore(home: home, environment: env)
        try other.add(probeRecord, images: [:])
        XCTAssertEqual(try store.nearest(to: probe, tenant: "acme", top: 1).first?.name, "probe")
        try other.remove(named: SyntheticCharacters.name(index: 3, seed: 1), tenant: "acme")
        XCTAssertFalse(try store.nearest(to: probe, tenant: "acme", top: 1000).contains { $0.name == SyntheticCharacters.name(index: 3, seed: 1) })
    }

    /// 10,000 characters: nearest() timing is printed, not asserted (debug builds are slow; the release
    /// figures come from `STUDIO_STORE_BENCH=1`, see StoreBenchmarkTests).
    func testTenThousandCharactersSmoke() throws {
        let store = try SQLiteCharacterStore(home: makeTemporaryHome(self), environment: env)
        let t0 = Date()
        try store.addSynthetic(count: 10_000, tenant: "acme", seed: 42)
        let insert = Date().timeIntervalSince(t0)
        let t1 = Date()
        XCTAssertEqual(try store.preloadIndex(tenant: "acme"), 10_000)
        let load = Date().timeIntervalSince(t1)
        var times: [Double] = []
        for i in 0..<50 {
            let q = SyntheticCharacters.identity(index: i, seed: 4242)
            let t = Date()
            let hits = try store.nearest(to: q, tenant: "acme", top: 5)
            times.append(Date().timeIntervalSince(t) * 1000)
            XCTAssertEqual(hits.count, 5)
        }
        let known = try store.nearest(to: SyntheticCharacters.identity(index: 1234, seed: 42), tenant: "acme", top: 1)
        XCTAssertEqual(known.first?.name, SyntheticCharacters.name(index: 1234, seed: 42))
        times.sort()
        print(String(format: "store smoke (10,000 characters, this build): insert %.2f s, index load %.1f ms, nearest p50 %.2f ms, p95 %.2f ms",
                     insert, load * 1000, times[times.count / 2], times[times.count * 95 / 100]))
    }
}
