import Foundation
import XCTest
import StudioTensor
@testable import StudioDiffusion

/// A tiny random-weight CLIPTextModel made with transformers' classes (`Tests/Fixtures/diffusion/
/// tiny-pipeline/text_encoder`, outputs in text-encoder.json; tools/diffusion-oracle/make-fixtures.sh).
final class CLIPTextEncoderTests: XCTestCase {
    func testMatchesTransformersWithinTolerance() throws {
        let encoder = try CLIPTextEncoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/text_encoder")
        let doc = try DiffusionFixtures.json("text-encoder.json")
        let h = doc["hidden_size"] as! Int
        for c in doc["cases"] as! [[String: Any]] {
            let ids = c["ids"] as! [Int]
            let out = try encoder.encode(ids, skip: 1)
            func expect(_ key: String) -> Matrix { Matrix(rows: ids.count, cols: h, data: (c[key] as! [Double]).map(Float.init)) }
            // Sums of 32 to 37 products per layer over 3 layers of unit-scale random weights.
            XCTAssertLessThan(out.hidden.maxAbsDifference(expect("last_hidden_state")), 1e-4)
            XCTAssertLessThan(try XCTUnwrap(out.skipped).maxAbsDifference(expect("clip_skip_1")), 1e-4)
            let pooled = (c["pooled"] as! [Double]).map(Float.init)
            XCTAssertLessThan(zip(out.pooled, pooled).map { abs($0 - $1) }.max()!, 1e-4)
        }
    }

    func testBadModelsAndInputsAreTypedErrors() throws {
        XCTAssertThrowsError(try CLIPTextEncoder(folder: "/nonexistent")) { e in
            XCTAssertEqual("\(e)", "/nonexistent/config.json: the model file is missing")
        }
        let dir = NSTemporaryDirectory() + "studio-te-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try String(contentsOfFile: DiffusionFixtures.folder + "/tiny-pipeline/text_encoder/config.json", encoding: .utf8)
        // A config that disagrees with the weights' shapes: the first mismatching tensor is named.
        try config.replacingOccurrences(of: "\"intermediate_size\": 37", with: "\"intermediate_size\": 38")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: DiffusionFixtures.folder + "/tiny-pipeline/text_encoder/model.safetensors", toPath: dir + "/model.safetensors")
        XCTAssertThrowsError(try CLIPTextEncoder(folder: dir)) { e in
            XCTAssertTrue("\(e)".contains("tensor 'text_model.encoder.layers.0.mlp.fc1.weight' has shape [37, 32], expected [38, 32]"), "\(e)")
        }
        try config.replacingOccurrences(of: "quick_gelu", with: "swish").write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTextEncoder(folder: dir)) { XCTAssertTrue("\($0)".contains("unsupported hidden_act 'swish'")) }
        try "{}".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTextEncoder(folder: dir)) { XCTAssertTrue("\($0)".contains("not a CLIP text config")) }

        let encoder = try CLIPTextEncoder(folder: DiffusionFixtures.folder + "/tiny-pipeline/text_encoder")
        XCTAssertThrowsError(try encoder.encode([])) 
        XCTAssertThrowsError(try encoder.encode(Array(repeating: 1, count: 78)))
        XCTAssertThrowsError(try encoder.encode([998, 1000])) { XCTAssertEqual("\($0)", "token id 1000 is outside the vocabulary of 1000") }
        XCTAssertThrowsError(try encoder.encode([998, 999], skip: 3))
    }
}
