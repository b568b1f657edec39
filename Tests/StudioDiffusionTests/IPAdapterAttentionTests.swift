import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// IP-Adapter's decoupled cross-attention against diffusers' `Attention` with `IPAdapterAttnProcessor2_0`
/// on random weights (`Tests/Fixtures/diffusion/ip-attention.*`).
final class IPAdapterAttentionTests: XCTestCase {
    func testDecoupledCrossAttentionMatchesDiffusers() throws {
        let doc = try DiffusionFixtures.json("ip-attention.json")
        let w = WeightReader(file: try SafeTensors(path: DiffusionFixtures.folder + "/ip-attention.safetensors"), prefix: "")
        let heads = doc["heads"] as! Int
        let attention = try AttentionWeights(w, channels: 32, keyChannels: 32, heads: heads)
        let adapter = try IPAdapterProjections(w.scoped("processor."), channels: 32, tokenChannels: 32)
        func m(_ key: String, _ rows: Int) -> Matrix { Matrix(rows: rows, cols: 32, data: (doc[key] as! [Double]).map(Float.init)) }
        let scale = Float(doc["scale"] as! Double)
        let got = attention.forward(m("hidden", 16), text: m("text", 7), image: m("image", 4), adapter: adapter, scale: scale)
        XCTAssertLessThan(got.maxAbsDifference(m("output", 16)), 1e-4)
        // Scale 0 is plain cross-attention on the text.
        let plain = attention.forward(m("hidden", 16), text: m("text", 7), image: m("image", 4), adapter: adapter, scale: 0)
        XCTAssertLessThan(plain.maxAbsDifference(attention.forward(m("hidden", 16), keysFrom: m("text", 7))), 1e-6)
    }

    func testAnAdapterOfTheWrongWidthIsRefused() throws {
        let w = WeightReader(file: try SafeTensors(path: DiffusionFixtures.folder + "/ip-attention.safetensors"), prefix: "processor.")
        XCTAssertThrowsError(try IPAdapterProjections(w, channels: 32, tokenChannels: 768)) {
            XCTAssertTrue("\($0)".contains("has shape [32, 32], expected [32, 768]"), "\($0)")
        }
    }
}
