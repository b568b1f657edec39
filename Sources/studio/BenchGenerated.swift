import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioImage
import StudioLocal

struct BenchGeneratedQuality: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generated-quality",
        abstract: "The generator's own reference-quality distribution (what QualityThresholds.generated is set from).",
        discussion: """
        Renders seeds --first-seed ..< --first-seed + --seeds at 64 px, upscales them to 256 px (bilinear),
        detects (MMOD, upsample 0) and measures every reference-quality check on the largest face. Prints
        each check's percentiles beside the generated gate's limits and which seeds fail the gate.
        With --variation-scale (repeatable), also measures how far seeded variations (z0 + ε, re-scaled to
        |z0|) of the first --variation-seeds passing seeds move from the seed's face (descriptor distance).
        """)
    @Option(help: "First seed.") var firstSeed: UInt64 = 0
    @Option(help: "Seeds to render.") var seeds: Int = 200
    @Option(help: "Box-blur each 64 px render with this radius first (the distribution a sharpness limit must fail).") var blur: Int = 0
    @Option(help: "Variation scale (σ of ε per latent component) to measure; repeat for several.") var variationScale: [Double] = []
    @Option(help: "Seeds whose variations are measured (the first that pass the gate).") var variationSeeds: Int = 40
    @Option(help: "Variations per seed and scale.") var perSeed: Int = 4
    @Option(help: "Write a contact sheet PNG: the failing seeds, then the passing ones lowest in sharpness, lighting and frontality.") var sheet: String?
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        guard (0...8).contains(blur) else { throw ValidationError("--blur must be 0...8") }
        guard (1...100_000).contains(seeds) else { throw ValidationError("--seeds must be 1...100000") }
        guard variationScale.allSatisfy({ $0 > 0 && $0 < 10 }) else { throw ValidationError("--variation-scale must be in (0, 10)") }
        guard (1...1000).contains(variationSeeds), (1...100).contains(perSeed) else {
            throw ValidationError("--variation-seeds must be 1...1000 and --per-seed 1...100")
        }
    }

    func run() throws {
        let pipeline = try loadPipeline()
        let generator = try loadGenerator()
        let seedList = (0..<seeds).map { firstSeed &+ UInt64($0) }
        var bar = ProgressBar("measuring generated faces", total: seeds)
        let samples = GeneratedQuality.survey(generator: generator, pipeline: pipeline, seeds: seedList, blurRadius: blur) { bar.update($0) }
        let summary = GeneratedQuality.summarize(samples)
        let t = QualityThresholds.generated
        let limits: [String: String] = [
            "resolution": "pass >= \(t.resolutionPass), fail < \(t.resolutionFail)",
            "face_count": "pass == 1, warn > 1",
            "face_size": "pass \(fmt(t.faceSizeWarn, 2))...\(fmt(t.faceSizeMax, 2)), fail < \(fmt(t.faceSizeFail, 2))",
            "sharpness": "pass >= \(fmt(t.sharpnessWarn, 2)), fail < \(fmt(t.sharpnessFail, 2))",
            "lighting": "pass >= \(fmt(t.lightingWarn, 2)), fail < \(fmt(t.lightingFail, 2))",
            "exposure": "pass <= \(fmt(t.exposureWarn, 3)), fail > \(fmt(t.exposureFail, 3))",
            "frontality": "pass <= \(fmt(t.yawWarn, 0)), fail > \(fmt(t.yawFail, 0))",
            "roll": "pass <= \(fmt(t.rollWarn, 0))",
        ]
        // Variations.
        var variationRows: [[String: Any]] = []
        var variationSheetRows: [(title: String, tiles: [ContactSheet.Tile])] = []
        if !variationScale.isEmpty {
            let passing = samples.filter { $0.failing.isEmpty }.map(\.seed).prefix(variationSeeds)
            var vbar = ProgressBar("measuring variations", total: passing.count)
            let vs = FictionalCharacter.variationSurvey(generator: generator, pipeline: pipeline, seeds: Array(passing),
                                                        scales: variationScale, perSeed: perSeed) { vbar.update($0) }
            for s in variationScale {
                let rows = vs.filter { $0.scale == s }
                for seed in passing.prefix(3) {
                    var t = [ContactSheet.Tile(image: FictionalCharacter.render(DCGANGenerator.latent(seed: seed), generator: generator),
                                               captions: ["SEED \(seed)", "SCALE \(fmt(s, 2))"], colour: .grey)]
                    for v in rows where v.seed == seed {
                        let img = FictionalCharacter.render(FictionalCharacter.variationLatent(seed: seed, attempt: v.attempt, scale: s), generator: generator)
                        let kept = v.failing.isEmpty && (v.distance ?? .infinity) < FictionalCharacter.defaultMaxDistanceToSeed
                        t.append(ContactSheet.Tile(image: img, captions: ["VAR \(v.attempt)", v.distance.map { "D \(fmt($0, 3))" } ?? "NO FACE"],
                                                   colour: kept ? .pass : .fail))
                    }
                    variationSheetRows.append((title: seed == passing.first ? "VARIATIONS AT SCALE \(fmt(s, 2))" : "", tiles: t))
                }
                let d = rows.compactMap(\.distance).sorted()
                let ok = rows.filter { $0.failing.isEmpty }
                let bound = FictionalCharacter.defaultMaxDistanceToSeed
                variationRows.append([
                    "scale": s, "variations": rows.count, "seeds": passing.count,
                    "no_face": rows.filter { $0.distance == nil }.count,
                    "failing_gate": rows.filter { $0.distance != nil && !$0.failing.isEmpty }.count,
                    "distance_percentiles": Dictionary(uniqueKeysWithValues: GeneratedQuality.percentiles.map {
                        (pctName($0), GeneratedQuality.quantile(d, $0)) }),
                    "kept_at_default_bound": ok.filter { ($0.distance ?? .infinity) < bound }.count,
                    "default_bound": bound,
                ])
            }
        }
        if let out = sheet {
            func tiles(_ list: [GeneratedQuality.Sample], _ caption: (GeneratedQuality.Sample) -> String) -> [ContactSheet.Tile] {
                list.map { smp in
                    let img = GeneratedQuality.upscaled(generator.generate([DCGANGenerator.latent(seed: smp.seed)])[0])
                    return ContactSheet.Tile(image: img, captions: ["SEED \(smp.seed)", caption(smp)],
                                             colour: smp.failing.isEmpty ? (smp.warning.isEmpty ? .pass : .uncertain) : .fail)
                }
            }
            let ok = samples.filter { $0.failing.isEmpty }
            func lowest(_ name: String, _ n: Int, descending: Bool = false) -> [GeneratedQuality.Sample] {
                Array(ok.sorted { descending ? ($0.values[name] ?? 0) > ($1.values[name] ?? 0) : ($0.values[name] ?? 0) < ($1.values[name] ?? 0) }.prefix(n))
            }
            let failingTiles = tiles(samples.filter { !$0.failing.isEmpty }) { $0.failing.joined(separator: " ") }
            let failingRows = stride(from: 0, to: failingTiles.count, by: 10).map { i in
                (title: i == 0 ? "FAILING THE GENERATED GATE" : "", tiles: Array(failingTiles[i..<min(failingTiles.count, i + 10)]))
            }
            let png = ContactSheet.render(rows: failingRows + [

                (title: "PASSING, LEAST SHARP", tiles: tiles(lowest("sharpness", 10)) { "SHARP \(fmt($0.values["sharpness"] ?? .nan, 1))" }),
                (title: "PASSING, LEAST EVEN LIGHT", tiles: tiles(lowest("lighting", 10)) { "LIGHT \(fmt($0.values["lighting"] ?? .nan, 2))" }),
                (title: "PASSING, MOST TURNED", tiles: tiles(lowest("frontality", 10, descending: true)) { "YAW \(fmt($0.values["frontality"] ?? .nan, 1))" }),
            ] + variationSheetRows, tile: 128, scale: 1)
            do { try ImageIO.writePNG(png, to: out) } catch { throw BadInputError("\(error)") }
            if !json { print("contact sheet: \(out)") }
        }
        if json {
            var dist: [String: Any] = [:]
            for (k, v) in summary.distribution {
                dist[k] = Dictionary(uniqueKeysWithValues: zip(GeneratedQuality.percentiles.map(pctName), v).map { ($0, $1) })
            }
            let obj: [String: Any] = [
                "first_seed": firstSeed, "seeds": summary.seeds, "with_face": summary.withFace,
                "passing": summary.passing, "warning_only": summary.warningOnly,
                "failing_seeds": summary.failingSeeds, "failures_by_check": summary.failuresByCheck,
                "distribution": dist, "limits": limits, "variations": variationRows, "blur_radius": blur,
                "samples": samples.map { ["seed": $0.seed, "faces": $0.faces, "values": $0.values, "failing": $0.failing, "warning": $0.warning] as [String: Any] },
            ]
            print(try JSON.document(.benchGeneratedQuality, obj))
            return
        }
        print("generated reference quality: seeds \(firstSeed)..<\(firstSeed &+ UInt64(seeds)), 64 px\(blur > 0 ? " box-blurred (radius \(blur))" : "") upscaled to 256 px, MMOD upsample 0")
        print("faces found in \(summary.withFace) of \(summary.seeds) seeds; under QualityThresholds.generated: \(summary.passing) pass every check, \(summary.warningOnly) warn, \(summary.failingSeeds.count) fail")
        print("failures by check: " + summary.failuresByCheck.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        print("failing seeds: " + summary.failingSeeds.map(String.init).joined(separator: " "))
        print("\n" + pad("check", 12) + GeneratedQuality.percentiles.map { pad(pctName($0), 9) }.joined() + "generated limits")
        for name in ["resolution", "face_count", "face_size", "sharpness", "lighting", "exposure", "frontality", "roll"] {
            guard let v = summary.distribution[name] else { continue }
            print(pad(name, 12) + v.map { pad(fmt($0, 3), 9) }.joined() + (limits[name] ?? ""))
        }
        for r in variationRows {
            let p = r["distance_percentiles"] as! [String: Double]
            print("\nvariations at scale \(r["scale"]!): \(r["variations"]!) from \(r["seeds"]!) seeds; no face \(r["no_face"]!), failing the gate \(r["failing_gate"]!); "
                  + "kept at bound \(r["default_bound"]!): \(r["kept_at_default_bound"]!)")
            print("  distance to the seed face: " + GeneratedQuality.percentiles.map { "\(pctName($0)) \(fmt(p[pctName($0)] ?? .nan, 3))" }.joined(separator: "  "))
        }
    }

    func pctName(_ p: Double) -> String { p == 0 ? "min" : p == 1 ? "max" : "p" + (p * 100 < 10 ? "0" : "") + String(Int((p * 100).rounded())) }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
