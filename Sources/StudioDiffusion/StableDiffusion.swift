import Foundation
import StudioKit
import StudioTensor

/// A Stable Diffusion 1.x/2.x model from a diffusers folder (`model_index.json` naming a
/// `StableDiffusionPipeline`, with `tokenizer/`, `text_encoder/`, `unet/`, `vae/`, `scheduler/`), its
/// parts checked against each other at load, and text-to-image generation through them.
public struct StableDiffusion: Sendable {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextEncoder
    public let unet: UNet
    public let vae: VAEDecoder
    public let schedule: NoiseSchedule

    /// The samplers `generate` offers.
    public enum SchedulerKind: String, Sendable, CaseIterable {
        case ddim, eulerAncestral = "euler-a", dpmpp2m = "dpm++2m", dpmpp2mKarras = "dpm++2m-karras", lcm
    }

    public init(folder: String) throws(DiffusionModelError) {
        let indexPath = folder + "/model_index.json"
        guard let data = FileManager.default.contents(atPath: indexPath) else { throw .missingFile(indexPath) }
        guard let index = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw .badConfig(indexPath, "not a JSON object")
        }
        let kind = index["_class_name"] as? String ?? "(none)"
        guard kind == "StableDiffusionPipeline" else {
            throw .badConfig(indexPath, "unsupported architecture \(kind): the runtime runs StableDiffusionPipeline folders (SD 1.x and 2.x)")
        }
        do { tokenizer = try CLIPTokenizer(folder: folder + "/tokenizer") } catch { throw .badConfig(folder + "/tokenizer", error.description) }
        textEncoder = try CLIPTextEncoder(folder: folder + "/text_encoder")
        unet = try UNet(folder: folder + "/unet")
        vae = try VAEDecoder(folder: folder + "/vae")
        schedule = try ModelFolder.config(folder + "/scheduler", "scheduler_config.json", as: "a scheduler config")
        if let why = schedule.unsupported { throw .badConfig(folder + "/scheduler/scheduler_config.json", "unsupported schedule: \(why)") }
        try checkParts(folder)
    }

    /// The parts must fit: text width = cross-attention width, VAE latents = UNet channels, token ids
    /// within the text encoder's vocabulary.
    private func checkParts(_ folder: String) throws(DiffusionModelError) {
        if textEncoder.config.hiddenSize != unet.config.crossAttentionDim {
            throw .badConfig(folder, "the text encoder's width \(textEncoder.config.hiddenSize) is not the UNet's cross-attention width \(unet.config.crossAttentionDim)")
        }
        if vae.config.latentChannels != unet.config.inChannels || unet.config.outChannels != unet.config.inChannels {
            throw .badConfig(folder, "the VAE's \(vae.config.latentChannels) latent channels do not match the UNet's \(unet.config.inChannels) in / \(unet.config.outChannels) out")
        }
        if let top = tokenizer.vocabulary.values.max(), top >= textEncoder.config.vocabSize {
            throw .badConfig(folder, "the tokenizer's ids reach \(top) but the text encoder's vocabulary has \(textEncoder.config.vocabSize)")
        }
    }

    /// What one generation asks for. `width` and `height` are multiples of the VAE's 8x and the UNet's downsampling.
    public struct Request: Sendable {
        public var prompt: String, negativePrompt: String
        public var width: Int, height: Int
        public var steps: Int, guidance: Float
        public var scheduler: SchedulerKind
        public var seed: UInt64
        public init(prompt: String, negativePrompt: String = "", width: Int = 512, height: Int = 512, steps: Int = 25,
                    guidance: Float = 7.5, scheduler: SchedulerKind = .dpmpp2mKarras, seed: UInt64) {
            self.prompt = prompt; self.negativePrompt = negativePrompt; self.width = width; self.height = height
            self.steps = steps; self.guidance = guidance; self.scheduler = scheduler; self.seed = seed
        }
    }

    /// The prompt's text states (`last_hidden_state` of its 77 ids).
    public func embed(_ text: String) throws(DiffusionModelError) -> Matrix {
        try textEncoder.encode(tokenizer.encode(text).ids).hidden
    }

    /// Latents for `request` from `noise` (or from the request's seed), and their image [1, 3, H, W]
    /// in about -1 ... 1. `progress(done, total)` after each denoising step.
    public func generate(_ r: Request, noise: Tensor? = nil, progress: (Int, Int) -> Void = { _, _ in }) throws(DiffusionModelError) -> (latents: Tensor, image: Tensor) {
        let scale = 8 * (1 << (unet.config.blockOutChannels.count - 1))
        guard r.width > 0, r.height > 0, r.width % scale == 0, r.height % scale == 0 else {
            throw .badInput("size \(r.width)x\(r.height): width and height must be positive multiples of \(scale)")
        }
        let shape = Tensor(c: unet.config.inChannels, h: r.height / 8, w: r.width / 8)
        var seeded = SeededNoise(seed: r.seed)
        let start = noise ?? seeded.next(like: shape)
        guard start.shape == shape.shape else { throw .badInput("initial noise of shape \(start.shape), expected \(shape.shape)") }
        let prompt = try embed(r.prompt)
        let negative = r.guidance == 1 ? nil : try embed(r.negativePrompt)
        let sampler = Sampler(unet: unet)
        let latents: Tensor
        switch r.scheduler {
        case .ddim:
            latents = try sampler.sample(prompt: prompt, negative: negative, noise: start, guidance: r.guidance,
                                         scheduler: try DDIMScheduler(schedule: schedule, steps: r.steps), progress: progress)
        case .eulerAncestral:
            latents = try sampler.sample(prompt: prompt, negative: negative, noise: start, guidance: r.guidance,
                                         scheduler: try EulerAncestralScheduler(schedule: schedule, steps: r.steps, noise: seeded), progress: progress)
        case .lcm:
            latents = try sampler.sample(prompt: prompt, negative: negative, noise: start, guidance: r.guidance,
                                         scheduler: try LCMScheduler(schedule: schedule, steps: r.steps, noise: seeded), progress: progress)
        case .dpmpp2m, .dpmpp2mKarras:
            latents = try sampler.sample(prompt: prompt, negative: negative, noise: start, guidance: r.guidance,
                                         scheduler: try DPMSolverScheduler(schedule: schedule, steps: r.steps, karras: r.scheduler == .dpmpp2mKarras),
                                         progress: progress)
        }
        var scaled = latents
        for i in scaled.data.indices { scaled.data[i] /= vae.config.scalingFactor }
        return (latents, try vae.decode(scaled))
    }

    /// An image tensor [1, 3, H, W] in -1 ... 1 as 8-bit RGB (`(x + 1) / 2`, clamped, rounded).
    public static func rgbImage(_ t: Tensor) -> RGBImage {
        let plane = t.h * t.w
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for c in 0..<min(3, t.c) {
            for p in 0..<plane {
                let v = ((t.data[c * plane + p] + 1) * 0.5 * 255).rounded()
                pixels[p * 3 + c] = v.isNaN ? 0 : UInt8(max(0, min(255, v)))
            }
        }
        return RGBImage(width: t.w, height: t.h, pixels: pixels)
    }
}
