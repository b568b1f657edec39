import XCTest
import Foundation
import StudioKit
import StudioImage
import StudioFace
import StudioLocal
@testable import StudioEmulator

/// The emulated providers' model on the real weights: the identity comes only from the reference it
/// was sent; without a face a face model fails and an init-image model draws without identity.
final class LocalSurfaceGeneratorTests: XCTestCase {
    func testIdentityComesFromTheReferenceAlone() throws {
        let paths = StudioPaths.fromEnvironment()
        guard let pipeline = try? FacePipeline(modelsDirectory: paths.models),
              let generator = try? DCGANGenerator(contentsOf: paths.model(ModelCatalog.generator.file)) else {
            XCTFail("models missing under \(paths.models): run scripts/setup.sh"); return
        }
        var options = LatentSearchOptions()
        options.evaluationsPerLevel = [96]
        let model = LocalSurfaceGenerator(generator: generator, pipeline: pipeline, uncertainty: UncertaintyModel(threshold: 0.508, sigma: 0.011, band: 0.011),
                                          options: options, videoFrames: 3)
        let local = LocalBackend(generator: generator, pipeline: pipeline)
        let reference = local.render(generator.generate(seeds: [101])[0])
        func descriptor(_ image: RGBImage, line: UInt = #line) throws -> FaceDescriptor {
            try XCTUnwrap(pipeline.faces(in: image, upsample: 1).first?.descriptor, "a face in the image", line: line)
        }
        let target = try descriptor(reference)
        func input(_ refs: [RGBImage], strength: Double?, faceModel: Bool = true, video: Bool = false, seed: UInt64 = 5) -> SurfaceInput {
            SurfaceInput(provider: .replicate, model: "zsxkib/instant-id", references: refs, prompt: "portrait", negativePrompt: "blurry",
                         identityStrength: strength, seed: seed, width: 1024, height: 1024, video: video, requiresFace: faceModel)
        }
        let conditioned = try model.generate(input([reference], strength: 1))
        XCTAssertEqual(conditioned.frames.count, 1)
        let d = try descriptor(conditioned.frames[0]).distance(to: target)

        // Draws without any identity (a non-face model sent a faceless init image): the first seeds whose
        // draw shows a detectable face.
        var grey = RGBImage(width: 256, height: 256)
        for i in grey.pixels.indices { grey.pixels[i] = 128 }
        let free = (UInt64(5)...20).lazy.compactMap { seed -> FaceDescriptor? in
            let out = try? model.generate(input([grey], strength: 1, faceModel: false, seed: seed))
            return out.flatMap { pipeline.faces(in: $0.frames[0], upsample: 1).first?.descriptor }
        }.prefix(3).map { $0.distance(to: target) }
        XCTAssertEqual(free.count, 3, "identity-free draws with faces")
        let dFree = free.min() ?? 0
        XCTAssertLessThan(d, dFree - 0.1, "conditioned on the reference: \(d); drawn without it: \(dFree)")
        XCTAssertEqual(try model.generate(input([reference], strength: 1)).frames, conditioned.frames, "seeded: the same request, the same image")

        // A face model sent no face fails with no_face, as the providers do.
        XCTAssertThrowsError(try model.generate(input([grey], strength: 1))) { e in
            XCTAssertEqual((e as? SurfaceError)?.kind, .noFace, "\(e)")
        }
        // Image-to-video: the first frame is the reference itself, then generated seconds.
        let video = try model.generate(input([reference], strength: 1, faceModel: false, video: true))
        XCTAssertEqual(video.frames.count, 3)
        XCTAssertEqual(video.frames[0].width, options.renderSize)
        XCTAssertLessThan(try descriptor(video.frames[0]).distance(to: target), 0.2, "frame 0 is the reference")
    }
}
