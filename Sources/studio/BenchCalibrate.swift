import ArgumentParser
import Foundation
import Crypto
import StudioKit
import StudioFace
import StudioImage
import StudioLocal

struct BenchCalibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Same/different-person distance and cosine distributions on johns, and the threshold's error rates.",
        discussion: """
        Embeds dlib's johns set (5 people x 11 aligned chips, installed by set-up), forms every pair, and
        prints the distributions and the false-accept rate (different people judged the same) and
        false-reject rate (same person judged different) at a range of thresholds. Byte-identical image
        files are one photo, not two: such pairs are left out and counted.
        """)
    @Option(help: "Folder of <person>/<image> files (default: $STUDIO_HOME/testdata/johns).") var dataset: String?
    @Option(help: "photos (johns, real photos) or generated (faces from the local generator).") var domain: String = "photos"
    @Option(help: "With --domain generated: faces to embed (every pair is compared; 48 give 1,128 pairs).") var samples: Int = 48
    @Option(help: "With --domain generated: the largest share of different-seed pairs allowed to pass.") var falseAcceptRate: Double = 0.01
    @Option(help: "With --domain generated: also measure the lookalike threshold on this many targets (about a minute each).") var lookalike: Int = 0
    @Option(help: "Write the distance distributions with the threshold as a PNG plot to this file.") var plot: String?
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        guard ["photos", "generated"].contains(domain) else { throw ValidationError("--domain must be photos or generated") }
        guard samples >= 2 && samples <= 5000 else { throw ValidationError("--samples must be 2...5000") }
        guard falseAcceptRate > 0 && falseAcceptRate < 1 else { throw ValidationError("--false-accept-rate must be in (0, 1)") }
    }

    func run() throws {
        if domain == "generated" { return try runGenerated() }
        let root = dataset ?? StudioPaths.fromEnvironment().testData + "/johns"
        let fm = FileManager.default
        guard let people = try? fm.contentsOfDirectory(atPath: root).sorted(), !people.isEmpty else {
            throw BadInputError("\(root): no data set (run scripts/setup.sh)")
        }
        let pipeline = try loadPipeline()
        var items: [(person: String, sha: String, d: FaceDescriptor)] = []
        for p in people {
            let dir = root + "/" + p
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
            for f in (try fm.contentsOfDirectory(atPath: dir)).sorted() {
                let path = dir + "/" + f
                let bytes = try readFile(path)
                guard let img = try? ImageIO.decode(bytes, name: path) else { warn("studio: skipping \(path): not an image"); continue }
                // Chips already aligned at 150x150 are embedded directly; photos go through the pipeline.
                let d: FaceDescriptor?
                if img.width == 150 && img.height == 150 { d = pipeline.recognizer.descriptor(img) }
                else { d = pipeline.faces(in: img, upsample: 1).max { $0.box.area < $1.box.area }?.descriptor }
                guard let desc = d else { warn("studio: skipping \(path): no face"); continue }
                let sha = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
                items.append((p, sha, desc))
            }
        }
        var same: [(Double, Double)] = [], diff: [(Double, Double)] = []
        var duplicates = 0
        for i in 0..<items.count { for j in (i + 1)..<items.count {
            if items[i].sha == items[j].sha { duplicates += 1; continue }
            let pair = (items[i].d.distance(to: items[j].d), items[i].d.cosineSimilarity(to: items[j].d))
            if items[i].person == items[j].person { same.append(pair) } else { diff.append(pair) }
        }}
        guard !same.isEmpty, !diff.isEmpty else { throw BadInputError("need at least two people with two images each") }
        let thresholds = stride(from: 0.40, through: 0.801, by: 0.05).map { $0 }
        let rates = thresholds.map { t in
            (t, Double(diff.filter { $0.0 < t }.count) / Double(diff.count), Double(same.filter { $0.0 >= t }.count) / Double(same.count))
        }
        func stats(_ v: [Double]) -> [String: Double] {
            let s = v.sorted()
            func q(_ p: Double) -> Double { s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))] }
            return ["min": s.first!, "p05": q(0.05), "median": q(0.5), "p95": q(0.95), "max": s.last!, "mean": s.reduce(0, +) / Double(s.count)]
        }
        let sd = stats(same.map(\.0)), dd = stats(diff.map(\.0)), sc = stats(same.map(\.1)), dc = stats(diff.map(\.1))
        try writePlot(DistanceHistogram.render(title: "photos: distances between pairs of faces",
                                               sets: [("same person", same.map(\.0)), ("different people", diff.map(\.0))],
                                               threshold: FaceDescriptor.sameIdentityDistance,
                                               thresholdLabel: "threshold \(fmt(FaceDescriptor.sameIdentityDistance, 2)) (dlib)"))
        if json {
            let obj: [String: Any] = [
                "images": items.count, "people": Set(items.map(\.person)).count, "same_pairs": same.count, "different_pairs": diff.count,
                "duplicate_pairs_skipped": duplicates,
                "same_distance": sd, "different_distance": dd, "same_cosine": sc, "different_cosine": dc,
                "rates": rates.map { ["threshold": $0.0, "false_accept_rate": $0.1, "false_reject_rate": $0.2] },
            ]
            print(try JSON.document(.benchCalibrate, obj))
            return
        }
        print("calibration on \(root): \(items.count) images of \(Set(items.map(\.person)).count) people; \(same.count) same-person and \(diff.count) different-person pairs (\(duplicates) pair(s) of byte-identical files left out)")
        func row(_ name: String, _ s: [String: Double]) {
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + ["min", "p05", "median", "p95", "max"].map { fmt(s[$0]!, 3).padding(toLength: 9, withPad: " ", startingAt: 0) }.joined())
        }
        print("".padding(toLength: 28, withPad: " ", startingAt: 0) + "min      p05      median   p95      max")
        row("distance, same person", sd); row("distance, different people", dd)
        row("cosine, same person", sc); row("cosine, different people", dc)
        print("\nthreshold  false accepts  false rejects")
        for (t, far, frr) in rates { print("  \(fmt(t, 2))     " + (fmt(far * 100, 1) + "%").padding(toLength: 15, withPad: " ", startingAt: 0) + fmt(frr * 100, 1) + "%") }
        let gapLow = sd["max"]!, gapHigh = dd["min"]!
        print("\nThe default threshold 0.6 (dlib's training margin): on this set every same-person pair is below \(fmt(gapLow, 3)) and every different-person pair above \(fmt(gapHigh, 3)), so 0.6 sits in the gap; a distance under 0.6 means 'the same person' with the error rates above, for real photos. Generated faces are less diverse and need their own threshold.")
    }

    /// Calibrates the threshold for the local generator's faces and saves it under
    /// $STUDIO_HOME/calibration/generated.json for the verification loop.
    func runGenerated() throws {
        let pipeline = try loadPipeline()
        let generator = try loadGenerator()
        var bar = ProgressBar("embedding generated faces", total: samples)
        var pairDistances: [Double] = []
        let c = GeneratedCalibration.run(generator: generator, pipeline: pipeline, faces: samples, targetFalseAcceptRate: falseAcceptRate,
                                         progress: { bar.update($0) }, distances: { pairDistances = $0 })
        try saveGeneratedCalibration(c)
        try writePlot(DistanceHistogram.render(title: "generated faces: distances between different seeds",
                                               sets: [("different seeds", pairDistances)], threshold: c.threshold,
                                               thresholdLabel: "calibrated threshold \(fmt(c.threshold, 3))"))
        var lookalikes: [(seed: UInt64, distance: Double)] = []
        if lookalike > 0 {
            var bar2 = ProgressBar("lookalike searches", total: lookalike)
            do { lookalikes = try LookalikeCalibration.run(generator: generator, pipeline: pipeline, targets: lookalike) { bar2.update($0) } } catch {
                throw BadInputError("\(error)")
            }
        }
        if json {
            var out = try StudioJSON.text(c, as: .calibration)
            if !lookalikes.isEmpty {
                out = JSON.document(.benchCalibrate, [("calibration", out), ("lookalike_threshold", JSON.number(LookalikeCalibration.threshold)),
                                   ("lookalike_distances", JSON.array(lookalikes.map { JSON.object([("seed", String($0.seed)), ("distance", JSON.number($0.distance))]) }))])
            }
            print(out); return
        }
        let s = c.distanceSummary
        print("calibration for generated faces (\(c.domain), rendered at \(c.renderSize) px): \(c.detected) faces from \(c.samples) seeds, \(c.pairs) different-seed pairs")
        print("different-seed distances: min \(fmt(s["min"]!, 3))  p01 \(fmt(s["p01"]!, 3))  p05 \(fmt(s["p05"]!, 3))  median \(fmt(s["median"]!, 3))  p95 \(fmt(s["p95"]!, 3))  max \(fmt(s["max"]!, 3))")
        print("dlib's 0.6 would accept \(fmt(c.falseAcceptRateAtDlibThreshold * 100, 1))% of different-seed pairs")
        if let n = c.distanceNoise, let k = c.noisePairs {
            print("distance noise near the threshold (re-rendered 3% larger, \(k) pairs): RMS \(fmt(n, 4)); the verification loop calls results within this of the threshold 'uncertain'")
        }
        if !lookalikes.isEmpty {
            let m = lookalikes.map(\.distance).min()!
            print("lookalike searches (whole latent space, 3 attempts, against a different generated person): " +
                  lookalikes.map { "seed \($0.seed) \(fmt($0.distance, 3))" }.joined(separator: ", "))
            print("lowest \(fmt(m, 3)); committed lookalike threshold \(fmt(LookalikeCalibration.threshold, 3)) (ratio measured/committed \(fmt(m / LookalikeCalibration.threshold, 2)))")
        }
        print("calibrated threshold: \(fmt(c.threshold, 3)) (at most \(fmt(c.targetFalseAcceptRate * 100, 1))% of different-seed pairs below it); saved to \(generatedCalibrationFile())")
    }

    /// Writes the plot when --plot names a file (and says where, unless --json).
    func writePlot(_ image: @autoclosure () -> RGBImage) throws {
        guard let plot else { return }
        do { try ImageIO.writePNG(image(), to: plot) } catch { throw BadInputError("\(error)") }
        if !json { warn("plot: \(plot)") }
    }
}
