import ArgumentParser
import Foundation
import StudioKit
import AdapterSDK
import StudioAdapterHost

/// `studio bench adapters`: per adapter, load time and request-building time, in process and out of
/// process. (The identity pass rate per surface needs the emulators, not built yet.)
struct BenchAdapters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapters",
        abstract: "Adapter load time and request-building time, in process and out of process (identity pass rates need the emulators: not yet).")
    @Option(name: .customLong("repeat"), help: "Requests built per figure (median reported).") var repeats: Int = 200
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws { guard (1...100_000).contains(repeats) else { throw ValidationError("--repeat must be 1...100000") } }

    func run() throws {
        let paths = AdapterDiscovery.candidates(in: Adapters.searchPath())
        let image = AdapterImage(bytes: [UInt8](repeating: 0x42, count: 256 * 1024), mimeType: "image/png")
        let request = AdapterRequest(
            character: .init(name: "ada", attributes: ["eye_colour": "brown", "hair_colour": "black"], embedding: [Float](repeating: 0.05, count: 128),
                             referenceCount: 3),
            prompt: "portrait of ada, head turned left", negativePrompt: "blurry, green eyes, blue eyes",
            negativePromptWeighted: "blurry, (green eyes:1.5), (blue eyes:1.5)", strictness: .init(level: 1, identityStrength: 0.85),
            seed: 7, width: 1024, height: 1024)
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
        var rows: [[String: Any]] = []
        if !json { print("adapter                 load (in / out of process)   build request, 256 KB reference (in / out of process)") }
        for path in paths {
            guard let a = try? LoadedAdapter(path: path) else { continue }
            let n = max(1, min(3, a.manifest.surface.maxReferences))
            let imgs = Array(repeating: image, count: n)
            var inTimes: [Double] = []
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try? a.buildRequest(request, images: imgs)
                inTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let child = try? OutOfProcessAdapter(path: path, command: [Adapters.executable(), "adapters", "serve", path])
            let childLoad = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            var outTimes: [Double] = []
            if let child {
                for _ in 0..<max(1, repeats / 10) {
                    let t = DispatchTime.now().uptimeNanoseconds
                    _ = try? child.buildRequest(request, images: imgs)
                    outTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                }
            }
            rows.append(["adapter": a.manifest.name, "load_ms": a.loadSeconds * 1000, "load_out_of_process_ms": childLoad,
                         "build_ms": median(inTimes), "build_out_of_process_ms": median(outTimes), "references": n])
            if !json {
                print(a.manifest.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + "\(fmt(a.loadSeconds * 1000, 2)) / \(fmt(childLoad, 1)) ms".padding(toLength: 29, withPad: " ", startingAt: 0)
                      + "\(fmt(median(inTimes), 3)) / \(fmt(median(outTimes), 3)) ms (\(n) reference(s))")
            }
        }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: ["adapters": rows, "repeat": repeats], options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("identity pass rate per surface vs the local backend: needs the provider emulators (issue 5, not built yet)")
        }
    }
}
