import ArgumentParser
import StudioKit
import StudioFace
import StudioImage
import StudioTensor
#if canImport(Glibc)
import Glibc
#endif

/// Prints to standard error.
func warn(_ message: String) {
    var s = message
    if !s.hasSuffix("\n") { s += "\n" }
    _ = s.withCString { write(2, $0, strlen($0)) }
}

/// Bad input of any kind (unreadable image, missing model, unknown character, a usage error): `Studio.main`
/// prints "studio: <message>" to standard error and exits 2.
struct BadInputError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Exit status 2 for bad input whose messages were already printed (several files, each reported).
let badInputExit = ExitCode(2)

/// Loads the face pipeline from `$STUDIO_HOME/models`, turning a missing or corrupt model into a
/// clear message and exit status 2.
func loadPipeline() throws -> FacePipeline {
    let paths = StudioPaths.fromEnvironment()
    do {
        return try FacePipeline(modelsDirectory: paths.models)
    } catch let e as ModelFormatError where e.isMissing {
        throw BadInputError("\(e.description): the face models are not installed in \(paths.models); `bash scripts/setup.sh install` fetches them (or set STUDIO_HOME to where they are)")
    } catch let e as ModelFormatError {
        throw BadInputError("\(e.description) (`studio models` checks every file's SHA-256; `bash scripts/setup.sh install` fetches it again)")
    }
}

/// Shared options for commands that run the face pipeline.
struct PipelineOptions: ParsableArguments {
    @Option(help: "Upsample the image this many times before detection (finds smaller faces; about 4x slower each).")
    var upsample: Int = 1
    @Option(help: "Descriptor jitter: average over N perturbed copies of each chip (0 = off).")
    var jitter: Int = 0
    @Option(help: "Compute threads for BLAS (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard (0...4).contains(upsample) else { throw ValidationError("--upsample must be between 0 and 4") }
        guard (0...1000).contains(jitter) else { throw ValidationError("--jitter must be between 0 and 1000") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func applyThreads() { if let t = threads { ComputeThreads.set(t) } }
}

/// Decodes an image; a bad file prints its error and returns nil.
func loadImage(_ path: String) -> RGBImage? {
    do { return try readImage(path) } catch {
        warn("studio: \(error)")
        return nil
    }
}

/// An image file decoded, or `BadInputError` saying why not.
func readImage(_ path: String) throws -> RGBImage {
    do { return try ImageIO.load(path: path) } catch { throw BadInputError("\(error)") }
}

extension DetectedFace {
    var json: String {
        JSON.object([
            ("box", JSON.array([box.left, box.top, box.right, box.bottom].map(String.init))),
            ("confidence", JSON.number(confidence)),
            ("landmarks", JSON.array(landmarks.map { JSON.array([String(Int($0.x)), String(Int($0.y))]) })),
            ("descriptor", JSON.array(descriptor.values.map { JSON.number($0) })),
        ])
    }
}

/// A one-line progress bar on standard error, drawn only when it is a terminal (logs stay clean).
struct ProgressBar {
    let label: String
    let total: Int
    private var lastPercent = -1
    private let enabled = isatty(2) == 1

    init(_ label: String, total: Int) { self.label = label; self.total = max(1, total) }

    mutating func update(_ done: Int) {
        guard enabled else { return }
        let percent = min(100, done * 100 / total)
        guard percent != lastPercent else { return }
        lastPercent = percent
        let width = 30, filled = percent * width / 100
        warnNoNewline("\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(percent)%")
        if done >= total { warnNoNewline("\n") }
    }
}

func warnNoNewline(_ s: String) { _ = s.withCString { write(2, $0, strlen($0)) } }
