import Foundation
import StudioKit
import StudioImage
import StudioFace
import StudioLocal

/// The emulated providers' model: the local generator, conditioned only through what the surface
/// carried. The identity is measured from the (re-encoded) reference images the request sent, not
/// taken from the character store; there is no latent anchor; the negative prompt counts only as text
/// read back into drift modes (`NegativePrompt.read`); the provider's lever sets the identity strength;
/// and the search budget is the provider's, fixed, not raised with the host's strictness. The gap to
/// direct injection (`studio bench adapters`) is the price of those limits.
public struct LocalSurfaceGenerator: SurfaceGenerator {
    public let generator: DCGANGenerator
    public let pipeline: FacePipeline
    /// How outputs will be judged (the local backend aims below the threshold for its selection).
    public let uncertainty: UncertaintyModel
    public var options: LatentSearchOptions
    /// Frames of a video output (one a second); frame 0 is the first-frame reference.
    public var videoFrames: Int
    /// How much identity strength a video loses per second (image-to-video drifts from its first frame).
    public var videoDecay: Double

    public init(generator: DCGANGenerator, pipeline: FacePipeline, uncertainty: UncertaintyModel, options: LatentSearchOptions = LatentSearchOptions(),
                videoFrames: Int = 5, videoDecay: Double = 0.1) {
        self.generator = generator; self.pipeline = pipeline; self.uncertainty = uncertainty; self.options = options
        self.videoFrames = max(1, videoFrames); self.videoDecay = videoDecay
    }

    /// The character the surface conveyed: the references registered as a new character (nil when none
    /// shows a face and the model does not need one).
    func conveyedCharacter(_ input: SurfaceInput) throws -> CharacterRecord? {
        guard !input.references.isEmpty else {
            if input.requiresFace { throw SurfaceError(.noFace, "no reference image was given") }
            return nil
        }
        var options = RegistrationOptions()
        options.allowLowQuality = true
        options.strangerThreshold = 10
        do {
            let refs = try input.references.enumerated().map { ReferenceInput(fileName: "reference-\($0.offset).png", bytes: try ImageIO.encodePNG($0.element)) }
            return try CharacterRegistration.prepare(name: "surface", references: refs, pipeline: pipeline, options: options, id: "surface", now: 0).character
        } catch let e as RegistrationError where e.kind == .noFace {
            if input.requiresFace { throw SurfaceError(.noFace, e.message) }
            return nil
        }
    }

    public func generate(_ input: SurfaceInput) throws -> SurfaceOutput {
        let conveyed = try conveyedCharacter(input)
        let character = conveyed ?? CharacterRecord(id: "none", tenant: "emulator", name: "none", createdAt: 0,
                                                    identity: FaceDescriptor([Float](repeating: 0, count: 128)), references: [], attributes: FaceAttributes())
        let backend = LocalBackend(generator: generator, pipeline: pipeline, options: options, injectIdentity: conveyed != nil, planPrompt: LocalPrompts.plan)
        let negative = NegativePrompt.read(text: input.negativePrompt ?? "", reference: character.attributes)
        let strength = input.identityStrength ?? Emulator.fixedIdentityStrength
        let baseSeed = input.seed ?? Self.seed(of: input.prompt)
        func frame(_ seed: UInt64, _ s: Double) throws -> RGBImage {
            let shot = ShotRequest(index: 0, prompt: input.prompt, negatives: [], seed: seed)
            let c = Conditioning(character: character, shot: shot, attempt: 1, seed: seed, strictness: StrictnessStep(level: 0, identityStrength: s),
                                 negative: negative, targetedModes: [], uncertainty: uncertainty)
            return try backend.generate(c) { _ in }.image
        }
        guard input.video else { return SurfaceOutput(frames: [try frame(baseSeed, strength)]) }
        var frames: [RGBImage] = []
        let size = options.renderSize
        if let first = input.references.first { frames.append(Self.squareCrop(first, side: size)) }
        for k in frames.count..<videoFrames {
            frames.append(try frame(baseSeed &+ UInt64(k), max(0, strength * (1 - videoDecay * Double(k)))))
        }
        return SurfaceOutput(frames: frames)
    }

    /// The centre square of `image`, resized to `side`.
    static func squareCrop(_ image: RGBImage, side: Int) -> RGBImage {
        let s = min(image.width, image.height)
        let x0 = (image.width - s) / 2, y0 = (image.height - s) / 2
        var crop = RGBImage(width: s, height: s)
        for y in 0..<s {
            let src = ((y0 + y) * image.width + x0) * 3
            crop.pixels.replaceSubrange((y * s * 3)..<((y + 1) * s * 3), with: image.pixels[src..<(src + s * 3)])
        }
        return crop.resizedBilinear(width: side, height: side)
    }

    /// A seed from the prompt when the request sent none (FNV-1a).
    static func seed(of text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
