import Foundation
import StudioKit
import StudioFace
import StudioImage

/// Peak resident memory of a whole `faces` run (decode, detection, landmarks, descriptors) for
/// studio and the dlib oracle, each measured on its own child process.
struct FacesMemoryBench {
    struct Row {
        var label: String
        var studioBytes: Int
        /// nil where dlib is not run (it would need more memory than the goal is about).
        var dlibBytes: Int?
        var note: String
    }

    /// The goal for any accepted image.
    static let goalBytes = 1_500_000_000

    let photo: RGBImage
    let oracle: String
    let models: String

    /// Two inputs made from `photo` in a temporary folder: a 2000x1500 photo (dlib measured too) and
    /// the largest square the decoder accepts (9999x9999) with the photo pasted in, both at upsample 1.
    func run() throws -> [Row] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("studio-bench-memory-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let large = dir.appendingPathComponent("photo-2000x1500.png").path
        try ImageIO.writePNG(photo.resizedBilinear(width: 2000, height: 1500), to: large)
        let huge = dir.appendingPathComponent("square-9999.png").path
        try writeHugeSquare(to: huge)
        let studio = Adapters.executable()
        return [
            Row(label: "faces up1 2000x1500 photo",
                studioBytes: try peak(studio, ["faces", "--json", "--upsample", "1", large]),
                dlibBytes: try peak(oracle, ["faces", "--models", models, "--upsample", "1", large]),
                note: ""),
            Row(label: "faces up1 9999x9999 (working size)",
                studioBytes: try peak(studio, ["faces", "--json", "--upsample", "1", huge]),
                dlibBytes: nil, note: "dlib not run: its pyramid needs tens of GB here"),
        ]
    }

    func writeHugeSquare(to path: String) throws {
        var canvas = RGBImage(width: 9999, height: 9999)
        for i in canvas.pixels.indices { canvas.pixels[i] = 96 }
        canvas.paste(photo, x: 4000, y: 4000)
        try ImageIO.writePNG(canvas, to: path)
    }

    func peak(_ executable: String, _ arguments: [String]) throws -> Int {
        let run = try ChildProcess.run(executable, arguments)
        guard run.status == 0 else {
            throw BadInputError("bench: \((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) exited with status \(run.status)")
        }
        return run.peakResidentBytes
    }
}
