import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioImage
import StudioTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print studio's figure beside the reference implementation's.",
        subcommands: [BenchFaces.self, BenchCalibrate.self, BenchStore.self, BenchGeneratedQuality.self, BenchGen.self, BenchAdapters.self])
}

struct BenchFaces: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faces",
        abstract: "Descriptor ms/face and MMOD ms/image for studio and dlib 19.24, same images, one run.",
        discussion: """
        dlib runs through tools/oracle (built on first use with tools/oracle/build.sh against Debian's
        libdlib-dev). Both sides use OpenBLAS with the same thread count: 1, then all cores.
        Figures are medians over --repeat runs after one warm-up; per-face figures are per face over
        every face found in the images, on both sides.
        """)

    @Option(help: "Images for detection timing (default: set-up's face_recognition photos obama.jpg, biden.jpg, obama2.jpg).")
    var image: [String] = []
    @Option(name: .customLong("repeat"), help: "Timed runs per figure (median reported).") var repeats: Int = 5
    @Option(help: "Detector upsampling for the MMOD timing.") var upsample: Int = 0
    @Option(help: "Path of the dlib oracle binary.") var oracle: String = "tools/oracle/build/dlib-oracle"
    @Flag(help: "Leave out the peak-memory figures (two child runs of faces, about a minute).") var skipMemory = false
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let paths = StudioPaths.fromEnvironment()
        let images = image.isEmpty ? ["obama.jpg", "biden.jpg", "obama2.jpg"].map { paths.testData + "/face_recognition/" + $0 } : image
        let pipeline = try loadPipeline()
        var decoded: [(String, RGBImage)] = []
        for p in images {
            let img = try readImage(p)
            decoded.append((p, img))
        }
        // The per-face figures run over every face found in every image, as the oracle's do.
        let faces = decoded.flatMap { _, img in pipeline.align(img, upsample: upsample).map { (img, $0) } }
        guard let first = decoded.first, !faces.isEmpty else {
            throw BadInputError("no face found in \(images.joined(separator: ", ")) for the per-face timings")
        }
        let batch = (0..<16).map { faces[$0 % faces.count].1.chip }
        let perFace = 1 / Double(faces.count)
        let oracleBinary = try ensureOracle()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var results: [[String: Any]] = []
        let threadCounts = Array(Set([1, cores])).sorted()
        var bar = ProgressBar("bench faces", total: threadCounts.count * 2)
        var steps = 0
        for threads in threadCounts {
            ComputeThreads.set(threads)
            warn("bench: studio, \(threads) thread\(threads == 1 ? "" : "s") ...")
            let desc = perFace * median(repeats) { for f in faces { _ = pipeline.recognizer.descriptor(f.1.chip) } }
            let desc16 = median(repeats) { _ = pipeline.recognizer.descriptors(batch) } / Double(batch.count)
            let lm = perFace * median(repeats * 10) { for f in faces { _ = pipeline.landmarks.predict(f.0, in: f.1.detection.rect) } }
            let chip = perFace * median(repeats * 10) { for f in faces { _ = FaceChip.extract(f.0, FaceChip.details(landmarks: f.1.landmarks)) } }
            var mmod: [String: Double] = [:]
            for (p, img) in decoded { mmod[p] = median(repeats) { _ = pipeline.detector.detect(img, upsample: upsample) } }
            steps += 1; bar.update(steps)
            warn("bench: dlib, \(threads) thread\(threads == 1 ? "" : "s") ...")
            let ref = try runOracle(oracleBinary, threads: threads, images: images)
            let refMMOD = ref["mmod_ms"] as? [String: Double] ?? [:]
            var row: [String: Any] = ["threads": threads]
            row["descriptor_ms"] = ["studio": desc, "dlib": ref["descriptor_ms"] as? Double ?? .nan]
            row["descriptor_batch16_ms_per_face"] = ["studio": desc16, "dlib": ref["descriptor_batch16_ms_per_face"] as? Double ?? .nan]
            row["landmarks_ms"] = ["studio": lm, "dlib": ref["landmarks_ms"] as? Double ?? .nan]
            row["chip_ms"] = ["studio": chip, "dlib": ref["chip_ms"] as? Double ?? .nan]
            row["mmod_ms"] = Dictionary(uniqueKeysWithValues: images.map { p in
                (p, ["studio": mmod[p] ?? .nan, "dlib": refMMOD[p] ?? .nan])
            })
            results.append(row)
            steps += 1; bar.update(steps)
        }
        var memory: [FacesMemoryBench.Row] = []
        if !skipMemory {
            warn("bench: peak memory of faces, studio and dlib ...")
            memory = try FacesMemoryBench(photo: first.1, oracle: oracleBinary, models: paths.models).run()
        }
        if json {
            let rows: [[String: Any]] = memory.map { r in
                ["figure": r.label, "studio_bytes": r.studioBytes, "dlib_bytes": r.dlibBytes.map { $0 as Any } ?? NSNull(),
                 "goal_bytes": FacesMemoryBench.goalBytes]
            }
            let obj: [String: Any] = ["upsample": upsample, "repeat": repeats, "dlib": "19.24 (Debian libdlib-dev)", "results": results,
                                      "peak_memory": rows]
            print(try JSON.document(.benchFaces, obj))
            return
        }
        print("studio vs dlib 19.24 — medians of \(repeats) (ratio = studio / dlib; < 1 means studio is faster)")
        for row in results {
            print("\n\(row["threads"]!) thread(s):")
            print(pad("figure", 44) + pad("studio", 12) + pad("dlib", 12) + "ratio")
            func line(_ name: String, _ v: Any?) {
                guard let d = v as? [String: Double], let s = d["studio"], let r = d["dlib"] else { return }
                print(pad(name, 44) + pad(fmt(s, 2) + " ms", 12) + pad(fmt(r, 2) + " ms", 12) + fmt(s / r, 2))
            }
            line("descriptor per face", row["descriptor_ms"])
            line("descriptor per face, batches of 16", row["descriptor_batch16_ms_per_face"])
            line("5-point landmarks per face", row["landmarks_ms"])
            line("chip extraction per face", row["chip_ms"])
            let m = row["mmod_ms"] as! [String: [String: Double]]
            for (p, img) in decoded {
                line("MMOD \(img.width)x\(img.height) up\(upsample) \((p as NSString).lastPathComponent)", m[p])
            }
        }
        printMemory(memory)
    }

    func printMemory(_ rows: [FacesMemoryBench.Row]) {
        guard !rows.isEmpty else { return }
        func gb(_ b: Int) -> String { fmt(Double(b) / 1e9, 2) + " GB" }
        print("\npeak resident memory of a whole faces run (goal: under \(gb(FacesMemoryBench.goalBytes)) for any accepted image):")
        print(pad("figure", 44) + pad("studio", 12) + pad("dlib", 12) + "ratio")
        for r in rows {
            let ratio = r.dlibBytes.map { fmt(Double(r.studioBytes) / Double($0), 2) } ?? r.note
            print(pad(r.label, 44) + pad(gb(r.studioBytes), 12) + pad(r.dlibBytes.map(gb) ?? "-", 12) + ratio)
        }
    }

    func median(_ n: Int, _ body: () -> Void) -> Double {
        body()
        var t: [Double] = []
        for _ in 0..<max(1, n) {
            let s = DispatchTime.now().uptimeNanoseconds
            body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
        }
        t.sort()
        return t.count % 2 == 1 ? t[t.count / 2] : (t[t.count / 2 - 1] + t[t.count / 2]) / 2
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    /// Finds the oracle binary, building it with tools/oracle/build.sh when absent.
    func ensureOracle() throws -> String {
        if FileManager.default.isExecutableFile(atPath: oracle) { return oracle }
        let script = "tools/oracle/build.sh"
        guard FileManager.default.fileExists(atPath: script) else {
            throw BadInputError("the dlib oracle is not at \(oracle) and \(script) is missing; run from the repository root")
        }
        warn("bench: building the dlib oracle (tools/oracle/build.sh) ...")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script]
        try p.run(); p.waitUntilExit()
        guard p.terminationStatus == 0, FileManager.default.isExecutableFile(atPath: oracle) else {
            throw BadInputError("building the dlib oracle failed (is libdlib-dev installed? `bash scripts/setup.sh install` installs it with g++)")
        }
        return oracle
    }

    func runOracle(_ bin: String, threads: Int, images: [String]) throws -> [String: Any] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["bench", "--models", StudioPaths.fromEnvironment().models, "--repeat", String(repeats),
                       "--upsample", String(upsample)] + images
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = String(threads)
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BadInputError("the dlib oracle failed (status \(p.terminationStatus))")
        }
        return obj
    }
}
