import Foundation
import StudioKit

/// A model that draws nothing: it returns the (re-encoded) reference it was sent — for a video, that
/// frame and `videoFrames - 1` darker copies — and records every input. It needs no weights, so
/// `studio adapters check` and the tests run an adapter against its provider's emulator in
/// milliseconds, and what came through the surface can be inspected.
public final class MirrorSurfaceGenerator: SurfaceGenerator, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [SurfaceInput] = []
    private var made: [SurfaceOutput] = []
    public let videoFrames: Int

    public init(videoFrames: Int = 3) { self.videoFrames = max(1, videoFrames) }

    public var inputs: [SurfaceInput] { lock.withLock { seen } }
    public var outputs: [SurfaceOutput] { lock.withLock { made } }

    public func generate(_ input: SurfaceInput) throws -> SurfaceOutput {
        guard let ref = input.references.first else {
            throw SurfaceError(input.requiresFace ? .noFace : .invalid, "no reference image reached the model")
        }
        var frames = [ref]
        if input.video {
            for k in 1..<videoFrames {
                var f = ref
                let scale = max(0, 1 - 0.3 * Double(k))
                for i in f.pixels.indices { f.pixels[i] = UInt8(Double(f.pixels[i]) * scale) }
                frames.append(f)
            }
        }
        let out = SurfaceOutput(frames: frames)
        lock.withLock { seen.append(input); made.append(out) }
        return out
    }
}
