import StudioKit
import StudioTensor

/// A Stable Diffusion folder as a `GenerationBackend` for the verification loop: each attempt draws from
/// its seed with the shot's prompt and the attempt's synthesized negative prompt as the unconditional
/// branch. No identity injection yet (IP-Adapter is still to come): the character is verified, not
/// conditioned, and each output says so.
public struct DiffusionBackend: GenerationBackend {
    public let name: String
    public let model: StableDiffusion
    /// Size, steps, guidance and scheduler; prompt, negative prompt and seed come from each attempt.
    public let settings: StableDiffusion.Request

    public static let noInjectionMessage = "no identity injection: IP-Adapter is not implemented yet, so the character is verified but not conditioned"

    public init(name: String, model: StableDiffusion, settings: StableDiffusion.Request) {
        self.name = name; self.model = model; self.settings = settings
    }

    public func generate(_ c: Conditioning, progress: (GenerationProgress) -> Void) throws -> GeneratedOutput {
        var r = settings
        r.prompt = c.shot.prompt
        r.negativePrompt = c.negative.text
        r.seed = c.seed
        let image: Tensor
        do { image = try model.generate(r) { done, total in progress(GenerationProgress(done: done, total: total)) }.image } catch {
            throw GenerationError(error.description, retryable: false)
        }
        return GeneratedOutput(image: StableDiffusion.rgbImage(image),
                               notes: ["steps": Double(r.steps), "guidance": Double(r.guidance), "width": Double(r.width), "height": Double(r.height)],
                               flags: ["identity_injection": false], messages: [Self.noInjectionMessage, "scheduler: \(r.scheduler.rawValue)"])
    }
}
