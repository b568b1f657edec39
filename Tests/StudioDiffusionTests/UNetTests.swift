import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// A tiny random-weight UNet2DConditionModel made with diffusers' class, F16 weights
/// (`Tests/Fixtures/diffusion/tiny-pipeline/unet`, outputs in unet-step.json; tools/diffusion-oracle/make-fixtures.sh).
final class UNetTests: XCTestCase {
    private func document() throws -> [String: Any] {
        try DiffusionFixtures.json("unet-step.json")
    }

    func testOneStepMatchesDiffusersWithinTolerance() throws {
        let unet = try UNet(folder: DiffusionFixtures.folder + "/tiny-pipeline/unet")
        let doc = try document()
        let latents = Tensor(c: 4, h: 8, w: 8, data: (doc["latents"] as! [Double]).map(Float.init))
        let ts = doc["text_shape"] as! [Int]
        let text = Matrix(rows: ts[1], cols: ts[2], data: (doc["text"] as! [Double]).map(Float.init))
        for c in doc["cases"] as! [[String: Any]] {
            let want = Tensor(c: 4, h: 8, w: 8, data: (c["noise"] as! [Double]).map(Float.init))
            let got = try unet.predictNoise(latents, timestep: Float(c["timestep"] as! Int), context: text)
            XCTAssertLessThan(got.maxAbsDifference(want), 1e-4, "timestep \(c["timestep"]!)")
        }
    }

    func testUnsupportedLayoutsAndBadInputsAreTypedErrors() throws {
        let dir = NSTemporaryDirectory() + "studio-unet-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try String(contentsOfFile: DiffusionFixtures.folder + "/tiny-pipeline/unet/config.json", encoding: .utf8)
        try FileManager.default.copyItem(atPath: DiffusionFixtures.folder + "/tiny-pipeline/unet/diffusion_pytorch_model.safetensors",
                                         toPath: dir + "/diffusion_pytorch_model.safetensors")
        try config.replacingOccurrences(of: "\"addition_embed_type\": null", with: "\"addition_embed_type\": \"text_time\"")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try UNet(folder: dir)) { XCTAssertTrue("\($0)".contains("unsupported UNet layout: addition_embed_type text_time"), "\($0)") }
        try config.replacingOccurrences(of: "\"cross_attention_dim\": 32", with: "\"cross_attention_dim\": 768")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try UNet(folder: dir)) { XCTAssertTrue("\($0)".contains("has shape [32, 32], expected [32, 768]"), "\($0)") }

        let unet = try UNet(folder: DiffusionFixtures.folder + "/tiny-pipeline/unet")
        let text = Matrix(rows: 7, cols: 32)
        XCTAssertThrowsError(try unet.predictNoise(Tensor(c: 4, h: 7, w: 8), timestep: 1, context: text)) { XCTAssertTrue("\($0)".contains("divisible by 2")) }
        XCTAssertThrowsError(try unet.predictNoise(Tensor(c: 4, h: 8, w: 8), timestep: 1, context: Matrix(rows: 7, cols: 23)))
    }
}
