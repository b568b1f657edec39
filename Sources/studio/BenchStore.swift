import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioStore

struct BenchStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Store figures at scale: insert N synthetic characters, then time lookup, search and a real add.",
        discussion: """
        Runs in a temporary STUDIO_HOME (removed afterwards). Goals: lookup by name < 1 ms, nearest-neighbour
        search p95 < 20 ms over 100,000 characters, `character add` with 3 references < 2 s.
        """)
    @Option(help: "Synthetic characters to insert.") var count: Int = 100_000
    @Option(help: "Queries timed for lookup and search.") var queries: Int = 500
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let fm = FileManager.default
        let home = fm.temporaryDirectory.appendingPathComponent("studio-bench-store-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: home) }
        setenv("STUDIO_KEY_BENCH", String(repeating: "ab", count: 32), 1)
        let store: SQLiteCharacterStore
        do { store = try SQLiteCharacterStore(home: home) } catch { throw BadInputError("\(error)") }

        // Insert.
        warn("bench: inserting \(count) synthetic characters ...")
        var rng = SplitMix64(seed: 7)
        let t0 = now()
        var bar = ProgressBar("inserting", total: count)
        try store.batch {
            for i in 0..<count {
                if i % 1000 == 0 { bar.update(i) }
                let d = FaceDescriptor((0..<128).map { _ in Float.random(in: -0.25...0.25, using: &rng) })
                let c = CharacterRecord(id: "syn-\(i)", tenant: "bench", name: "character-\(i)", createdAt: 0, identity: d,
                                        references: [], attributes: FaceAttributes(), metadata: CharacterOrigin.synthetic.metadata)
                try store.add(c, images: [:])
            }
        }
        bar.update(count)
        let insertSeconds = now() - t0

        // Lookup by name.
        var lookup: [Double] = []
        for _ in 0..<queries {
            let name = "character-\(Int.random(in: 0..<count, using: &rng))"
            let s = now()
            _ = try store.character(named: name, tenant: "bench")
            lookup.append((now() - s) * 1000)
        }
        // Nearest neighbour: the first query loads the index.
        let q0 = FaceDescriptor((0..<128).map { _ in Float.random(in: -0.25...0.25, using: &rng) })
        let l0 = now()
        _ = try store.nearest(to: q0, tenant: "bench", top: 5)
        let indexLoadMs = (now() - l0) * 1000
        var search: [Double] = []
        for _ in 0..<queries {
            let q = FaceDescriptor((0..<128).map { _ in Float.random(in: -0.25...0.25, using: &rng) })
            let s = now()
            _ = try store.nearest(to: q, tenant: "bench", top: 5)
            search.append((now() - s) * 1000)
        }

        // A real add with 3 references (photos installed by set-up), end to end: decode, detect, align,
        // embed, quality, attributes, fuse, encrypt and store.
        let photos = ["obama.jpg", "obama2.jpg", "obama3.jpg"].map { StudioPaths.fromEnvironment().testData + "/face_recognition/" + $0 }
        let pipeline = try loadPipeline()
        var addTimes: [Double] = [], prepareTimes: [Double] = []
        for k in 0..<3 {
            let s = now()
            var inputs: [ReferenceInput] = []
            for p in photos { inputs.append(ReferenceInput(fileName: p, bytes: try readFile(p))) }
            var options = RegistrationOptions(); options.tenant = "bench"
            let reg = try CharacterRegistration.prepare(name: "real-\(k)", references: inputs, pipeline: pipeline, options: options,
                                                        id: "real-\(k)", now: 0)
            prepareTimes.append(now() - s)
            try store.add(reg.character, images: reg.images)
            addTimes.append(now() - s)
        }

        let lp = percentiles(lookup), sp = percentiles(search)
        let addMedian = addTimes.sorted()[1], prepareMedian = prepareTimes.sorted()[1]
        if json {
            let obj: [String: Any] = [
                "characters": count, "insert_seconds": insertSeconds, "index_load_ms": indexLoadMs,
                "lookup_ms": ["p50": lp.0, "p95": lp.1, "goal": 1.0], "nearest_ms": ["p50": sp.0, "p95": sp.1, "goal_p95": 20.0],
                "add_3_references_seconds": ["median_of_3": addMedian, "goal": 2.0, "of_which_analysis": prepareMedian],
            ]
            print(try JSON.document(.benchStore, obj))
            return
        }
        print("store benchmark: \(count) characters (inserted in \(fmt(insertSeconds, 1)) s)")
        print("  lookup by name          p50 \(fmt(lp.0, 3)) ms   p95 \(fmt(lp.1, 3)) ms   goal < 1 ms      \(lp.1 < 1 ? "met" : "MISSED")")
        print("  nearest neighbour       p50 \(fmt(sp.0, 2)) ms   p95 \(fmt(sp.1, 2)) ms    goal p95 < 20 ms \(sp.1 < 20 ? "met" : "MISSED")  (index load \(fmt(indexLoadMs, 0)) ms, once)")
        print("  add with 3 references   median \(fmt(addMedian, 2)) s            goal < 2 s       \(addMedian < 2 ? "met" : "MISSED")  (analysis \(fmt(prepareMedian, 2)) s, storing \(fmt(addMedian - prepareMedian, 2)) s)")
    }

    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    func percentiles(_ v: [Double]) -> (Double, Double) {
        let s = v.sorted()
        return (s[s.count / 2], s[min(s.count - 1, Int(Double(s.count) * 0.95))])
    }
}
