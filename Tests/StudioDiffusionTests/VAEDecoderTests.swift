import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// A tiny random-weight AutoencoderKL made with diffusers' class, weights stored as F16
/// (`Tests/Fixtures/diffusion/tiny-pipeline/vae`, decode in vae-decode.json; tools/diffusion-oracle/make-fixtures.sh).
final class VAEDecoderTests: XCTestCase {
    func testDecodeMatchesDiffusersWithinTolerance() throws {
        let vae = try VAEDecoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/vae")
        XCTAssertEqual(vae.config.scalingFactor, 0.18215)
        let doc = try DiffusionFixtures.json("vae-decode.json")
        let ls = doc["latent_shape"] as! [Int], ish = doc["image_shape"] as! [Int]
        let latent = Tensor(n: ls[0], c: ls[1], h: ls[2], w: ls[3], data: (doc["latent"] as! [Double]).map(Float.init))
        let want = Tensor(n: ish[0], c: ish[1], h: ish[2], w: ish[3], data: (doc["image"] as! [Double]).map(Float.init))
        let got = try vae.decode(latent)
        XCTAssertEqual(got.shape, want.shape)
        XCTAssertLessThan(got.maxAbsDifference(want), 1e-4)
    }

    func testBadModelsAndInputsAreTypedErrors() throws {
        XCTAssertThrowsError(try VAEDecoder(folder: "/nonexistent")) { XCTAssertEqual("\($0)", "/nonexistent/config.json: the model file is missing") }
        let dir = NSTemporaryDirectory() + "studio-vae-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try String(contentsOfFile: DiffusionFixtures.folder + "/tiny-pipeline/vae/config.json", encoding: .utf8)
        try FileManager.default.copyItem(atPath: DiffusionFixtures.folder + "/tiny-pipeline/vae/diffusion_pytorch_model.safetensors",
                                         toPath: dir + "/diffusion_pytorch_model.safetensors")
        try config.replacingOccurrences(of: "\"layers_per_block\": 1", with: "\"layers_per_block\": 2")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VAEDecoder(folder: dir)) { XCTAssertTrue("\($0)".contains("has no tensor named 'decoder.up_blocks.0.resnets.2.norm1.weight'"), "\($0)") }
        try config.replacingOccurrences(of: "\"norm_num_groups\": 8", with: "\"norm_num_groups\": 7")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VAEDecoder(folder: dir)) { XCTAssertTrue("\($0)".contains("not positive multiples of norm_num_groups 7"), "\($0)") }
        let vae = try VAEDecoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/vae")
        XCTAssertThrowsError(try vae.decode(Tensor(c: 3, h: 8, w: 8)))
    }
}
