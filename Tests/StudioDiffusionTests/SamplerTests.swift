import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// The tiny text encoder, UNet and VAE assembled as diffusers' StableDiffusionPipeline assembles them,
/// DDIM with SD 1.5's schedule, 4 steps, guidance 7.5 (`Tests/Fixtures/diffusion/pipeline-ddim.json`).
final class SamplerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/diffusion").path

    func testDDIMSamplingAndDecodeMatchDiffusers() throws {
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/pipeline-ddim.json"))) as! [String: Any]
        let encoder = try CLIPTextEncoder(folder: Self.fixtures + "/tiny-text-encoder")
        let unet = try UNet(folder: Self.fixtures + "/tiny-unet")
        let vae = try VAEDecoder(folder: Self.fixtures + "/tiny-vae")
        let schedule = try JSONDecoder().decode(NoiseSchedule.self, from: JSONSerialization.data(withJSONObject: doc["scheduler"]!))
        XCTAssertEqual(schedule, .stableDiffusion)
        let scheduler = try DDIMScheduler(schedule: schedule, steps: doc["steps"] as! Int)
        XCTAssertEqual(scheduler.timesteps, doc["timesteps"] as! [Int])
        let prompt = try encoder.encode(doc["positive_ids"] as! [Int]).hidden
        let negative = try encoder.encode(doc["negative_ids"] as! [Int]).hidden
        let noise = Tensor(c: 4, h: 8, w: 8, data: (doc["noise"] as! [Double]).map(Float.init))
        var steps: [Int] = []
        let latents = try Sampler(unet: unet).sample(prompt: prompt, negative: negative, noise: noise,
                                                     guidance: Float(doc["guidance"] as! Double), scheduler: scheduler) { done, _ in steps.append(done) }
        XCTAssertEqual(steps, [1, 2, 3, 4])
        let want = Tensor(c: 4, h: 8, w: 8, data: (doc["latents"] as! [Double]).map(Float.init))
        XCTAssertLessThan(latents.maxAbsDifference(want), 1e-3)
        var scaled = latents
        for i in scaled.data.indices { scaled.data[i] /= vae.config.scalingFactor }
        let image = try vae.decode(scaled)
        let wantImage = Tensor(c: 3, h: 16, w: 16, data: (doc["image"] as! [Double]).map(Float.init))
        XCTAssertLessThan(image.maxAbsDifference(wantImage), 1e-3)
    }

    func testSchedulesAndStepCountsItCannotRunAreRefused() {
        var s = NoiseSchedule.stableDiffusion
        s.betaSchedule = "squaredcos_cap_v2"
        XCTAssertThrowsError(try DDIMScheduler(schedule: s, steps: 4)) { XCTAssertTrue("\($0)".contains("unsupported schedule: beta_schedule squaredcos_cap_v2")) }
        XCTAssertThrowsError(try DDIMScheduler(schedule: .stableDiffusion, steps: 0))
        XCTAssertEqual(try DDIMScheduler(schedule: .stableDiffusion, steps: 4).timesteps, [751, 501, 251, 1])
    }
}
