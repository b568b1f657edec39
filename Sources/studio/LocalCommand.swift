import ArgumentParser
import Foundation
import Crypto
import StudioKit
import StudioFace
import StudioTensor
import StudioLocal

struct Local: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The local face generator (DCGAN, 64x64; weights trained on DigiFace-1M, research/non-commercial licence).",
        subcommands: [LocalDirections.self])
}

struct LocalDirections: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directions",
        abstract: "Discover the latent directions behind the local generator's prompt vocabulary.",
        discussion: """
        Renders seeds first-seed ..< first-seed + samples (64 px, upscaled to 256 px), detects the largest
        face (MMOD, upsample 0; seeds without a face are left out), measures yaw, brightness, light side,
        warmth and framing (GeneratedMeasures), and fits one direction per measure on the even-numbered
        faces, scoring it on the odd-numbered ones (LatentDirections.discover). Prints each direction's
        held-out correlation and slope, the cosines between the directions and the cross-effects (held-out
        r of each direction's projection with every measure). --write saves the table as Swift source
        (tools/discover-directions.sh writes Sources/StudioLocal/LatentDirectionsData.swift).
        """)

    @Option(help: "Seeds to render (faces are the seeds with a detected face, about 95%).") var samples: Int = 1000
    @Option(help: "First seed.") var firstSeed: UInt64 = 0
    @Option(help: "Write the table as Swift source to this path.") var write: String?
    @Option(help: "Compute threads for BLAS (default: all cores).") var threads: Int?
    @Option(help: "After discovery, steer this many unseen seeds (after the discovery seeds) to projections -2.5, -1.5, +1.5 and +2.5 along each direction and report the measured means and faces kept (0 = off).")
    var check: Int = 0
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        guard (8...100_000).contains(samples) else { throw ValidationError("--samples must be 8...100000") }
        guard (0...10_000).contains(check) else { throw ValidationError("--check must be 0...10000") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    struct Report: Codable {
        var provenance: DirectionsProvenance
        var directions: [LatentDirection]
        /// cosines[a][b] between direction vectors.
        var cosines: [String: [String: Double]]
        /// crossEffects[direction][measure]: held-out r of the direction's projection with the measure.
        var crossEffects: [String: [String: Double]]
        /// With --check: per direction, per target projection, the mean measure and faces kept.
        var steering: [String: [SteeringCheck]]?
        var seconds: Double
    }

    struct SteeringCheck: Codable {
        var projection: Double
        var expected: Double
        /// Nil when no steered seed kept a face.
        var measuredMean: Double?
        var faces: Int
        var seeds: Int
    }

    /// Steers `check` unseen seeds to each target projection (`LatentDirections.steer`) and measures.
    func steeringCheck(_ directions: [LatentDirection], generator: DCGANGenerator, pipeline: FacePipeline) -> [String: [SteeringCheck]] {
        let seeds = (0..<check).map { firstSeed &+ UInt64(samples) &+ UInt64($0) }
        let targets = [-2.5, -1.5, 1.5, 2.5]
        var out: [String: [SteeringCheck]] = [:]
        var bar = ProgressBar("steering \(check) unseen seeds", total: directions.count * targets.count)
        var done = 0
        for d in directions {
            var rows: [SteeringCheck] = []
            for t in targets {
                var values: [Double] = []
                var start = 0
                while start < seeds.count {
                    let zs = seeds[start..<min(seeds.count, start + 32)].map { LatentDirections.steer(DCGANGenerator.latent(seed: $0), targets: [(d, t)]) }
                    for img in generator.generate(zs) {
                        if let v = GeneratedMeasures.measured(image64: img, pipeline: pipeline)?.measures[d.measure] { values.append(v) }
                    }
                    start += 32
                }
                rows.append(SteeringCheck(projection: t, expected: d.expectedMeasure(projection: t),
                                          measuredMean: values.isEmpty ? nil : values.reduce(0, +) / Double(values.count),
                                          faces: values.count, seeds: seeds.count))
                done += 1
                bar.update(done)
            }
            out[d.name] = rows
        }
        return out
    }

    func run() throws {
        if let t = threads { ComputeThreads.set(t) }
        let paths = StudioPaths.fromEnvironment()
        let weights = paths.model(ModelCatalog.generator.file)
        let pipeline = try loadPipeline()
        let generator: DCGANGenerator
        let sha: String
        do {
            generator = try DCGANGenerator(contentsOf: weights)
            sha = SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: weights))).map { String(format: "%02x", $0) }.joined()
        } catch {
            throw BadInputError("\(error) (run scripts/setup.sh to install the generator)")
        }
        let start = Date()
        var latents: [[Float]] = [], measures: [[String: Double]] = []
        var bar = ProgressBar("rendering and measuring \(samples) seeds", total: samples)
        var done = 0
        while done < samples {
            let seeds = (done..<min(samples, done + 32)).map { firstSeed &+ UInt64($0) }
            let zs = seeds.map(DCGANGenerator.latent(seed:))
            for (z, img) in zip(zs, generator.generate(zs)) {
                if let m = GeneratedMeasures.measured(image64: img, pipeline: pipeline) {
                    latents.append(z); measures.append(m.measures)
                }
            }
            done += seeds.count
            bar.update(done)
        }
        let directions = LatentDirections.discover(latents: latents, measures: measures)
        // The same samples fitted by each method, for the record of why the default was chosen.
        let methods: [(String, DiscoveryMethod)] = [("covariance", .covariance), ("ridge 0.01", .ridge(lambda: 0.01)),
                                                    ("ridge 0.1", .ridge(lambda: 0.1)), ("ridge 0.5", .ridge(lambda: 0.5)),
                                                    ("ridge 2", .ridge(lambda: 2))]
        let comparison = methods.map { ($0.0, LatentDirections.discover(latents: latents, measures: measures, method: $0.1)) }
        let steering = check > 0 ? steeringCheck(directions, generator: generator, pipeline: pipeline) : nil
        let seconds = Date().timeIntervalSince(start)

        // Cosines and cross-effects (held-out half only, as the directions' own r).
        var cosines: [String: [String: Double]] = [:], cross: [String: [String: Double]] = [:]
        let held = LatentDirections.split(count: latents.count).heldOut
        for a in directions {
            var row: [String: Double] = [:]
            for b in directions { row[b.name] = zip(a.vector, b.vector).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
            cosines[a.name] = row
            let p = held.map { a.projection(latents[$0]) }
            var effects: [String: Double] = [:]
            for key in GeneratedMeasures.keys { effects[key] = LatentDirections.pearson(p, held.map { measures[$0][key] ?? .nan }) }
            cross[a.name] = effects
        }
        var command = "studio local directions --samples \(samples) --first-seed \(firstSeed)"
        if let t = threads { command += " --threads \(t)" }
        if let w = write { command += " --write \(w)" }
        let provenance = DirectionsProvenance(weightsSHA256: sha, firstSeed: firstSeed, seeds: samples, faces: latents.count,
                                              renderSize: GeneratedMeasures.renderSize, command: command)
        if let w = write {
            let source = LatentDirections.swiftSource(directions, provenance: provenance)
            try Data(source.utf8).write(to: URL(fileURLWithPath: w), options: .atomic)
        }
        if json {
            let report = Report(provenance: provenance, directions: directions, cosines: cosines, crossEffects: cross,
                                steering: steering, seconds: seconds)
            print(try StudioJSON.text(report, as: .local))
            return
        }
        print("latent directions of the local generator: \(latents.count) faces from \(samples) seeds (\(firstSeed)..<\(firstSeed &+ UInt64(samples))), rendered at \(GeneratedMeasures.renderSize) px, in \(fmt(seconds, 1)) s")
        print("fit on the even-numbered faces, scored on the odd-numbered (held-out) ones; generator weights SHA-256 \(sha)")
        print("")
        func col(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
        print(col("direction", 12) + col("samples", 9) + col("held-out r", 12) + col("slope", 10) + col("mean", 10) + col("std", 9) + "unit / offered")
        for d in directions {
            let offered = abs(d.heldOutCorrelation) >= LatentDirections.minimumCorrelation ? "offered" : "NOT offered (|r| < 0.3)"
            print(col(d.name, 12) + col(String(d.samples), 9) + col(fmt(d.heldOutCorrelation, 3), 12) + col(fmt(d.slope, 4), 10)
                  + col(fmt(d.populationMean, 3), 10) + col(fmt(d.populationStd, 3), 9) + d.unit + "; " + offered)
        }
        print("\nslope: measure units per unit of projection <z, v> (the projection of a random latent is N(0, 1))")
        print("\ncross-effects: held-out r of each direction's projection (rows) with each measure (columns)")
        print(col("", 12) + GeneratedMeasures.keys.map { col($0, 11) }.joined())
        for d in directions { print(col(d.name, 12) + GeneratedMeasures.keys.map { col(fmt(cross[d.name]![$0]!, 2), 11) }.joined()) }
        print("\ncosines between directions")
        print(col("", 12) + directions.map { col($0.name, 11) }.joined())
        for a in directions { print(col(a.name, 12) + directions.map { col(fmt(cosines[a.name]![$0.name]!, 2), 11) }.joined()) }
        print("\nheld-out r by fitting method (the table uses \(DiscoveryMethod.defaultMethod))")
        print(col("", 12) + comparison.map { col($0.0, 14) }.joined())
        for (k, d) in directions.enumerated() { print(col(d.name, 12) + comparison.map { col(fmt($0.1[k].heldOutCorrelation, 3), 14) }.joined()) }
        if let st = steering {
            print("\nsteering check: \(check) unseen seeds (\(firstSeed &+ UInt64(samples))..<\(firstSeed &+ UInt64(samples + check))) set to each projection; mean measure (linear expectation) and faces kept")
            print(col("", 12) + st[directions[0].name]!.map { col("at " + fmt($0.projection, 1), 26) }.joined())
            for d in directions {
                print(col(d.name, 12) + st[d.name]!.map { col(($0.measuredMean.map { fmt($0, 3) } ?? "none") + " (" + fmt($0.expected, 3) + ") " + "\($0.faces)/\($0.seeds)", 26) }.joined())
            }
        }
        if let w = write { print("\nwrote \(w)") }
    }
}
