import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// The tiny diffusers folder (`Tests/Fixtures/diffusion/tiny-pipeline`) from text to image against
/// diffusers' StableDiffusionPipeline (`pipeline-text.json`: prompt and negative prompt through the
/// tokenizer, DDIM, 4 steps, guidance 7.5).
final class StableDiffusionTests: XCTestCase {
    func testTextToImageMatchesDiffusers() throws {
        let model = try StableDiffusion(folder: DiffusionFixtures.folder + "/tiny-pipeline")
        let doc = try DiffusionFixtures.json("pipeline-text.json")
        let prompt = doc["prompt"] as! String, negative = doc["negative_prompt"] as! String
        XCTAssertEqual(model.tokenizer.encode(prompt).ids, doc["positive_ids"] as! [Int])
        XCTAssertEqual(model.tokenizer.encode(negative).ids, doc["negative_ids"] as! [Int])
        let noise = Tensor(c: 4, h: 8, w: 8, data: (doc["noise"] as! [Double]).map(Float.init))
        var steps = 0
        let (latents, image) = try model.generate(.init(prompt: prompt, negativePrompt: negative, width: 64, height: 64, steps: 4,
                                                        guidance: 7.5, scheduler: .ddim, seed: 0), noise: noise) { done, _ in steps = done }
        XCTAssertEqual(steps, 4)
        XCTAssertLessThan(latents.maxAbsDifference(Tensor(c: 4, h: 8, w: 8, data: (doc["latents"] as! [Double]).map(Float.init))), 1e-3)
        XCTAssertLessThan(image.maxAbsDifference(Tensor(c: 3, h: 16, w: 16, data: (doc["image"] as! [Double]).map(Float.init))), 1e-3)
        let rgb = StableDiffusion.rgbImage(image)
        XCTAssertEqual([rgb.width, rgb.height], [64 / 4, 64 / 4], "the tiny VAE upsamples 2x (one up block), not 8x")
    }

    func testEverySchedulerRunsFromASeedAndRepeats() throws {
        let model = try StableDiffusion(folder: DiffusionFixtures.folder + "/tiny-pipeline")
        for kind in StableDiffusion.SchedulerKind.allCases {
            let r = StableDiffusion.Request(prompt: "a cat", width: 64, height: 64, steps: 3, scheduler: kind, seed: 42)
            let a = try model.generate(r).latents, b = try model.generate(r).latents
            XCTAssertEqual(a.data, b.data, "\(kind) repeats from its seed")
            XCTAssertTrue(a.data.allSatisfy(\.isFinite), "\(kind)")
        }
    }

    func testBadFoldersAndRequestsAreTypedErrors() throws {
        XCTAssertThrowsError(try StableDiffusion(folder: "/nonexistent")) { XCTAssertEqual("\($0)", "/nonexistent/model_index.json: the model file is missing") }
        let dir = NSTemporaryDirectory() + "studio-sd-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: DiffusionFixtures.folder + "/tiny-pipeline", toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let index = try String(contentsOfFile: dir + "/model_index.json", encoding: .utf8)
        try index.replacingOccurrences(of: "\"StableDiffusionPipeline\"", with: "\"StableDiffusionXLPipeline\"")
            .write(toFile: dir + "/model_index.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StableDiffusion(folder: dir)) { XCTAssertTrue("\($0)".contains("unsupported architecture StableDiffusionXLPipeline"), "\($0)") }
        try index.write(toFile: dir + "/model_index.json", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir + "/unet/diffusion_pytorch_model.safetensors")
        XCTAssertThrowsError(try StableDiffusion(folder: dir)) { XCTAssertTrue("\($0)".contains("the weights file is missing"), "\($0)") }
        // A truncated weights file: the header's offsets run past the end.
        let weights = try Data(contentsOf: URL(fileURLWithPath: DiffusionFixtures.folder + "/tiny-pipeline/unet/diffusion_pytorch_model.safetensors"))
        try weights.prefix(weights.count / 2).write(to: URL(fileURLWithPath: dir + "/unet/diffusion_pytorch_model.safetensors"))
        XCTAssertThrowsError(try StableDiffusion(folder: dir)) { XCTAssertTrue("\($0)".contains("truncated?"), "\($0)") }

        let model = try StableDiffusion(folder: DiffusionFixtures.folder + "/tiny-pipeline")
        XCTAssertThrowsError(try model.generate(.init(prompt: "x", width: 60, height: 64, seed: 1))) { XCTAssertTrue("\($0)".contains("multiples of 16")) }
    }
}
