import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// The tiny text encoder, UNet and VAE assembled as diffusers' StableDiffusionPipeline assembles them,
/// DDIM with SD 1.5's schedule, 4 steps, guidance 7.5 (`Tests/Fixtures/diffusion/pipeline-ddim.json`).
final class SamplerTests: XCTestCase {
    func testDDIMSamplingAndDecodeMatchDiffusers() throws {
        let doc = try DiffusionFixtures.json("pipeline-ddim.json")
        let encoder = try CLIPTextEncoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/text_encoder")
        let unet = try UNet(folder: DiffusionFixtures.folder + "/tiny-pipeline/unet")
        let vae = try VAEDecoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/vae")
        let schedule = try JSONDecoder().decode(NoiseSchedule.self, from: JSONSerialization.data(withJSONObject: doc["scheduler"]!))
        XCTAssertEqual(schedule, .stableDiffusion)
        let scheduler = try DDIMScheduler(schedule: schedule, steps: doc["steps"] as! Int)
        XCTAssertEqual(scheduler.steps, doc["timesteps"] as! [Int])
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

    /// Noise the oracle recorded, handed out in order.
    struct RecordedNoise: NoiseSource {
        var draws: [[Float]]
        mutating func next(like shape: Tensor) -> Tensor {
            Tensor(n: shape.n, c: shape.c, h: shape.h, w: shape.w, data: draws.removeFirst())
        }
    }

    /// A pipeline fixture's document and its schedule.
    private func fixture(_ name: String) throws -> ([String: Any], NoiseSchedule) {
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: DiffusionFixtures.folder + "/" + name))) as! [String: Any]
        return (doc, try JSONDecoder().decode(NoiseSchedule.self, from: JSONSerialization.data(withJSONObject: doc["scheduler"]!)))
    }

    /// The fixture's prompts through the tiny parts with `scheduler`: the max abs difference of the latents.
    private func latentDifference<S: DiffusionScheduler>(_ doc: [String: Any], _ scheduler: S) throws -> Float {
        let encoder = try CLIPTextEncoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/text_encoder")
        let unet = try UNet(folder: DiffusionFixtures.folder + "/tiny-pipeline/unet")
        let latents = try Sampler(unet: unet).sample(prompt: try encoder.encode(doc["positive_ids"] as! [Int]).hidden,
                                                     negative: try encoder.encode(doc["negative_ids"] as! [Int]).hidden,
                                                     noise: Tensor(c: 4, h: 8, w: 8, data: (doc["noise"] as! [Double]).map(Float.init)),
                                                     guidance: Float(doc["guidance"] as! Double), scheduler: scheduler)
        return latents.maxAbsDifference(Tensor(c: 4, h: 8, w: 8, data: (doc["latents"] as! [Double]).map(Float.init)))
    }

    func testEulerAncestralSamplingMatchesDiffusersWithItsNoise() throws {
        let (doc, schedule) = try fixture("pipeline-euler-a.json")
        let draws = (doc["step_noise"] as! [[Double]]).map { $0.map(Float.init) }
        let scheduler = try EulerAncestralScheduler(schedule: schedule, steps: 4, noise: RecordedNoise(draws: draws))
        XCTAssertEqual(scheduler.timesteps, (doc["timesteps"] as! [Double]).map(Float.init))
        XCTAssertLessThan(try latentDifference(doc, scheduler), 1e-3)
    }

    func testDPMSolver2MKarrasSamplingMatchesDiffusers() throws {
        let (doc, schedule) = try fixture("pipeline-dpmpp-2m-karras.json")
        let scheduler = try DPMSolverScheduler(schedule: schedule, steps: 4, karras: true)
        XCTAssertEqual(scheduler.timesteps, (doc["timesteps"] as! [Int]).map(Float.init))
        for (a, b) in zip(scheduler.sigmas, doc["sigmas"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, b)) }
        XCTAssertLessThan(try latentDifference(doc, scheduler), 1e-3)
    }

    func testLCMSamplingMatchesDiffusersWithItsNoise() throws {
        let (doc, schedule) = try fixture("pipeline-lcm.json")
        XCTAssertTrue(schedule.setAlphaToOne, "LCM's own defaults")
        let draws = (doc["step_noise"] as! [[Double]]).map { $0.map(Float.init) }
        XCTAssertEqual(draws.count, 3, "no noise after the last step")
        let scheduler = try LCMScheduler(schedule: schedule, steps: 4, noise: RecordedNoise(draws: draws))
        XCTAssertEqual(scheduler.steps, doc["timesteps"] as! [Int])
        let d = try latentDifference(doc, scheduler)
        XCTAssertLessThan(d, 1e-3)
        XCTAssertThrowsError(try LCMScheduler(schedule: schedule, steps: 51, noise: SeededNoise(seed: 1)))
    }

    func testSeededNoiseIsRepeatableStandardNormal() {
        var a = SeededNoise(seed: 9), b = SeededNoise(seed: 9)
        let shape = Tensor(c: 4, h: 64, w: 64)
        let x = a.next(like: shape)
        XCTAssertEqual(x.data, b.next(like: shape).data)
        let mean = x.data.reduce(0, +) / Float(x.count)
        let variance = x.data.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        XCTAssertNotEqual(a.next(like: shape).data, x.data, "the next draw differs")
    }

    func testSchedulesAndStepCountsItCannotRunAreRefused() {
        var s = NoiseSchedule.stableDiffusion
        s.betaSchedule = "squaredcos_cap_v2"
        XCTAssertThrowsError(try DDIMScheduler(schedule: s, steps: 4)) { XCTAssertTrue("\($0)".contains("unsupported schedule: beta_schedule squaredcos_cap_v2")) }
        XCTAssertThrowsError(try DDIMScheduler(schedule: .stableDiffusion, steps: 0))
        XCTAssertEqual(try DDIMScheduler(schedule: .stableDiffusion, steps: 4).steps, [751, 501, 251, 1])
    }
}
