import Foundation
import StudioKit

/// Video through ffmpeg (Debian's `ffmpeg` package; `$STUDIO_FFMPEG` names another binary): sampling
/// frames of a downloaded video for verification, and encoding frames into an H.264 MP4 (the emulators'
/// video outputs). ffmpeg runs as a child process on temporary files; its output is never trusted
/// beyond what `ImageIO` decodes.
public enum VideoFrames {

    /// The ffmpeg binary: `$STUDIO_FFMPEG`, else the first `ffmpeg` on `$PATH`.
    public static func ffmpeg() throws(VideoFramesError) -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["STUDIO_FFMPEG"], !p.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: p) else { throw VideoFramesError(description: "STUDIO_FFMPEG=\(p) is not an executable file") }
            return p
        }
        for dir in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = String(dir) + "/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw VideoFramesError(description: "ffmpeg is not installed (videos are verified on frames decoded by ffmpeg: Debian's ffmpeg package, or set STUDIO_FFMPEG)")
    }

    /// Up to `maxFrames` frames of `video` (any container ffmpeg reads), decoded at `fps` frames per
    /// second and then thinned evenly; each with its time in seconds.
    public static func sample(video: [UInt8], fps: Double = 2, maxFrames: Int = 12, maxSide: Int = 1024) throws -> [(seconds: Double, image: RGBImage)] {
        guard !video.isEmpty else { throw VideoFramesError(description: "the video is empty") }
        guard fps > 0, fps <= 30, maxFrames >= 1 else { throw VideoFramesError(description: "frame sampling needs 0 < fps <= 30 and at least one frame") }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = dir + "/input.bin"
        try Data(video).write(to: URL(fileURLWithPath: input))
        let scale = "scale='min(\(maxSide),iw)':'min(\(maxSide),ih)':force_original_aspect_ratio=decrease"
        try run(["-v", "error", "-nostdin", "-i", input, "-vf", "fps=\(formatFixed(fps, 3)),\(scale)", "-frames:v", "600", dir + "/f%05d.png"])
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("f") && $0.hasSuffix(".png") }.sorted()
        guard !names.isEmpty else { throw VideoFramesError(description: "ffmpeg decoded no frame from the \(video.count)-byte video") }
        let picks: [Int] = names.count <= maxFrames ? Array(names.indices)
            : (0..<maxFrames).map { Int((Double($0) * Double(names.count - 1) / Double(maxFrames - 1)).rounded()) }
        return try picks.map { i in (Double(i) / fps, try ImageIO.load(path: dir + "/" + names[i], applyOrientation: false)) }
    }

    /// An H.264 MP4 of `frames` (all of one size) at `fps` frames per second.
    public static func encodeMP4(_ frames: [RGBImage], fps: Double = 1) throws -> [UInt8] {
        guard let first = frames.first else { throw VideoFramesError(description: "no frames to encode") }
        guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw VideoFramesError(description: "frames of a video must share one size")
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, f) in frames.enumerated() { try ImageIO.writePNG(f, to: dir + String(format: "/f%05d.png", i + 1)) }
        let out = dir + "/out.mp4"
        try run(["-v", "error", "-nostdin", "-framerate", formatFixed(fps, 3), "-i", dir + "/f%05d.png",
                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
                 "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", out])
        return try FileBytes.read(out, limit: 512 << 20).get()
    }

    static func temporaryDirectory() throws(VideoFramesError) -> String {
        let dir = NSTemporaryDirectory() + "studio-video-" + UUID().uuidString
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw VideoFramesError(description: "cannot create a temporary folder for ffmpeg: \(error.localizedDescription)")
        }
        return dir
    }

    static func run(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ffmpeg())
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let detail = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let text = String(decoding: detail.prefix(600), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw VideoFramesError(description: "ffmpeg failed (exit \(p.terminationStatus)): \(text.isEmpty ? "no message" : text)")
        }
    }
}

public struct VideoFramesError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
