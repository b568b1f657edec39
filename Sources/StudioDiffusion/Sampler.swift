import StudioTensor

/// The denoising loop of diffusers' `StableDiffusionPipeline`, with classifier-free guidance: at each
/// timestep the UNet predicts noise for the prompt and for the negative prompt (the unconditional
/// branch), the prediction is `negative + guidance · (prompt - negative)`, and the scheduler steps.
public struct Sampler: Sendable {
    public let unet: UNet

    public init(unet: UNet) { self.unet = unet }

    /// Latents after the scheduler's timesteps, from `noise` ([1, C, h, w], unit variance). `negative`
    /// nil or `guidance` 1: the prompt alone. `progress(done, total)` after each step.
    public func sample<S: DiffusionScheduler>(prompt: Matrix, negative: Matrix?, noise: Tensor, guidance: Float,
                                              scheduler: S, progress: (Int, Int) -> Void = { _, _ in }) throws(DiffusionModelError) -> Tensor {
        var scheduler = scheduler
        var latents = noise
        for i in latents.data.indices { latents.data[i] *= scheduler.initNoiseSigma }
        let guided = negative != nil && guidance != 1
        for (i, t) in scheduler.timesteps.enumerated() {
            let input = scheduler.scaleModelInput(latents, index: i)
            var prediction = try unet.predictNoise(input, timestep: t, context: prompt)
            if guided, let negative {
                let unconditional = try unet.predictNoise(input, timestep: t, context: negative)
                for k in prediction.data.indices {
                    let u = unconditional.data[k]
                    prediction.data[k] = u + guidance * (prediction.data[k] - u)
                }
            }
            latents = scheduler.step(prediction, index: i, sample: latents)
            progress(i + 1, scheduler.timesteps.count)
        }
        return latents
    }
}
