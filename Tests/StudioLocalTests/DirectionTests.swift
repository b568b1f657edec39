import XCTest
import StudioKit
import StudioFace
import StudioImage
@testable import StudioLocal

final class DirectionTests: XCTestCase {
    static let d = DCGANGenerator.latentDimension

    /// `count` standard-normal latents (seeds 10_000 ...) and a random unit vector (seed 7).
    func syntheticData(count: Int) -> (z: [[Float]], u: [Double]) {
        let z = (0..<count).map { DCGANGenerator.latent(seed: 10_000 + UInt64($0)) }
        let raw = DCGANGenerator.latent(seed: 7).map(Double.init)
        let n = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (z, raw.map { $0 / n })
    }

    func dot(_ a: [Float], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * $1.1 } }

    /// measure = 3 <z, u> + noise (sd 0.5) on 400 latents: the default method recovers u and the slope.
    func testDiscoveryRecoversAPlantedDirection() {
        let (z, u) = syntheticData(count: 400)
        var rng = SplitMix64(seed: 99)
        let noise = (0..<z.count).map { _ in 0.5 * (Double(rng.next() >> 11) * 0x1p-53 - 0.5) * 12.0.squareRoot() }
        let m = z.enumerated().map { i, v in ["planted": 3 * dot(v, u) + noise[i], "noise": noise[i]] }
        let specs = [DirectionSpec(name: "planted", measure: "planted", unit: "u"), DirectionSpec(name: "noise", measure: "noise", unit: "u")]
        let found = LatentDirections.discover(latents: z, measures: m, names: specs)
        let p = found[0]
        let cosine = zip(p.vector, u).reduce(0) { $0 + Double($1.0) * $1.1 }
        print("planted: cosine \(cosine), slope \(p.slope), held-out r \(p.heldOutCorrelation); noise r \(found[1].heldOutCorrelation)")
        XCTAssertGreaterThan(cosine, 0.9)
        XCTAssertEqual(p.slope, 3, accuracy: 0.3)
        XCTAssertGreaterThan(p.heldOutCorrelation, 0.9)
        XCTAssertEqual(p.samples, 400)
        XCTAssertEqual(p.vector.count, Self.d)
        XCTAssertEqual(p.vector.reduce(0) { $0 + Double($1) * Double($1) }, 1, accuracy: 1e-5)
        // A measure with no relation to z: the held-out r is small (its sd over 200 samples is ~0.07).
        XCTAssertLessThan(abs(found[1].heldOutCorrelation), 0.2)
    }

    /// The plain covariance vector, on the same data, is a noisier estimate (its error grows with the
    /// measure's whole variance, not just the residual): recorded here because it is why the default
    /// method is least squares.
    func testCovarianceVectorIsNoisierThanLeastSquares() {
        let (z, u) = syntheticData(count: 400)
        let m = z.map { ["planted": 3 * dot($0, u)] }
        let spec = [DirectionSpec(name: "planted", measure: "planted", unit: "u")]
        let cov = LatentDirections.discover(latents: z, measures: m, names: spec, method: .covariance)[0]
        let ls = LatentDirections.discover(latents: z, measures: m, names: spec, method: .ridge(lambda: 0.01))[0]
        func cosine(_ d: LatentDirection) -> Double { zip(d.vector, u).reduce(0) { $0 + Double($1.0) * $1.1 } }
        print("noiseless plant: covariance cosine \(cosine(cov)), least squares cosine \(cosine(ls))")
        XCTAssertGreaterThan(cosine(ls), 0.999)
        XCTAssertLessThan(cosine(cov), cosine(ls))
    }

    func testDiscoverySkipsMissingMeasuresAndHandlesConstantOnes() {
        let (z, _) = syntheticData(count: 400)
        let m: [[String: Double]] = z.enumerated().map { i, v in i % 4 == 0 ? ["c": 1] : ["x": Double(v[0]), "c": 1] }
        let found = LatentDirections.discover(latents: z, measures: m, names: [
            DirectionSpec(name: "x", measure: "x", unit: "u"), DirectionSpec(name: "c", measure: "c", unit: "u")])
        XCTAssertEqual(found[0].samples, 300)
        XCTAssertGreaterThan(found[0].heldOutCorrelation, 0.7)
        XCTAssertEqual(found[1].samples, 400)
        XCTAssertEqual(found[1].heldOutCorrelation, 0)
        XCTAssertEqual(found[1].vector, [Float](repeating: 0, count: Self.d))
        XCTAssertEqual(found[1].populationStd, 0)
    }

    /// `steer` sets every requested projection at once, even for directions that are not orthogonal,
    /// and leaves the part of z orthogonal to them alone.
    func testSteerSetsProjectionsOfNonOrthogonalDirections() {
        let a = LatentDirection(name: "a", measure: "a", unit: "", vector: unit([1, 0, 0]), slope: 1, heldOutCorrelation: 1,
                                samples: 1, populationMean: 0, populationStd: 1)
        let b = LatentDirection(name: "b", measure: "b", unit: "", vector: unit([1, 1, 0]), slope: 1, heldOutCorrelation: 1,
                                samples: 1, populationMean: 0, populationStd: 1)
        let z = DCGANGenerator.latent(seed: 5)
        let out = LatentDirections.steer(z, targets: [(a, -1.5), (b, 2.5)])
        XCTAssertEqual(a.projection(out), -1.5, accuracy: 1e-5)
        XCTAssertEqual(b.projection(out), 2.5, accuracy: 1e-5)
        for k in 2..<Self.d { XCTAssertEqual(out[k], z[k]) }
        // A duplicated direction is solved once (the system is singular): no NaN, the target holds.
        let twice = LatentDirections.steer(z, targets: [(a, 1), (a, 1)])
        XCTAssertEqual(a.projection(twice), 1, accuracy: 1e-5)
        // Terms from a prompt, the later one winning.
        let parsed = PromptVocabulary.parse("turned left, warmer", directions: syntheticDirections())
        let steered = LatentDirections.apply(parsed.terms, to: z, directions: syntheticDirections())
        XCTAssertEqual(Double(steered[0]), -1.5, accuracy: 1e-6)   // yaw is axis 0 in syntheticDirections
        XCTAssertEqual(Double(steered[3]), 1.5, accuracy: 1e-6)    // warmth is axis 3
        XCTAssertEqual(steered[1], z[1])
    }

    func unit(_ head: [Float]) -> [Float] {
        var v = head + [Float](repeating: 0, count: Self.d - head.count)
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        v = v.map { $0 / n }
        return v
    }

    func testGeneratedSourceRoundTripsTheFigures() {
        let (z, u) = syntheticData(count: 60)
        let m = z.map { ["yaw": 10 * dot($0, u)] }
        let found = LatentDirections.discover(latents: z, measures: m, names: [LatentDirections.standard[0]])
        let src = LatentDirections.swiftSource(found, provenance: DirectionsProvenance(
            weightsSHA256: "abc", firstSeed: 3, seeds: 70, faces: 60, renderSize: 256, command: "studio local directions --samples 70"))
        XCTAssertTrue(src.hasPrefix("// GENERATED FILE"))
        XCTAssertTrue(src.contains("studio local directions --samples 70"))
        XCTAssertTrue(src.contains("SHA-256:\n//   abc"))
        XCTAssertTrue(src.contains("seeds 3..<73 (70 seeds, 60 with a detected face)"))
        XCTAssertTrue(src.contains("heldOutCorrelation: \(found[0].heldOutCorrelation)"))
        XCTAssertEqual(src.components(separatedBy: "\n").filter { $0.hasPrefix("                ") }.count, 10)   // 10 lines of 10 values
    }

    // MARK: The committed table

    func testCommittedTableIsConsistent() {
        let t = LatentDirections.discovered
        XCTAssertEqual(t.map(\.name), LatentDirections.standard.map(\.name))
        XCTAssertEqual(Set(t.map(\.name)).count, t.count, "names unique")
        for d in t {
            XCTAssertEqual(d.vector.count, Self.d, d.name)
            XCTAssertEqual(d.vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot(), 1, accuracy: 1e-4, d.name)
            XCTAssertTrue(GeneratedMeasures.keys.contains(d.measure), d.name)
            XCTAssertGreaterThan(d.samples, 500, d.name)
            XCTAssertTrue(d.slope.isFinite && d.heldOutCorrelation.isFinite && d.populationStd > 0, d.name)
            XCTAssertEqual(LatentDirections.named(d.name), d)
        }
        let p = LatentDirections.discoveredProvenance
        XCTAssertEqual(p.weightsSHA256, ModelCatalog.generator.sha256, "the table was discovered with the catalogued weights")
        XCTAssertEqual(p.faces, t.first?.samples)
        XCTAssertTrue(p.command.hasPrefix("studio local directions"))
        XCTAssertNil(LatentDirections.named("no such direction"))
    }

    // MARK: On the real weights

    static let pipeline: FacePipeline? = try? FacePipeline(modelsDirectory: LocalTestData.paths.models)

    /// For each discovered direction and 8 fixed seeds, moving the latent by −2 and +2 along it (not
    /// re-normalised) changes the measure with the expected sign (+2 above −2) for at least 6 of 8.
    ///
    /// A measure needs a detected face, and two directions lose faces at their negative end (dark
    /// faces and small ones are missed by MMOD: at a projection of −2, 31/40 and 32/40 seeds keep a
    /// face for brightness and framing, against 39/40 unmoved). So the seeds are, per direction, the
    /// first 8 from 100 on with a face at −2, at 0 and at +2 — chosen on detection only, before the
    /// measures are compared — and no more than 8 candidates may be passed over (a direction that
    /// destroyed faces half the time would fail here).
    func testMovingAlongEachDirectionChangesItsMeasure() throws {
        _ = try LocalTestData.weights()
        guard let g = LocalTestData.generator, let pipeline = Self.pipeline else { return XCTFail("generator or face models failed to load") }
        for d in LatentDirections.discovered {
            var seeds: [UInt64] = [], deltas: [Double] = [], skipped = 0
            var next: UInt64 = 100
            while seeds.count < 8 && skipped <= 8 {
                let z = DCGANGenerator.latent(seed: next)
                let m = g.generate([d.moved(z, by: -2), z, d.moved(z, by: 2)])
                    .map { GeneratedMeasures.measured(image64: $0, pipeline: pipeline)?.measures[d.measure] }
                if let lo = m[0], m[1] != nil, let hi = m[2] { seeds.append(next); deltas.append(hi - lo) } else { skipped += 1 }
                next += 1
            }
            let agree = deltas.filter { $0 > 0 }.count
            print("\(d.name) (held-out r \(formatFixed(d.heldOutCorrelation, 3)), slope \(formatFixed(d.slope, 3))): seeds \(seeds), "
                  + "\(skipped) passed over for a lost face; measure at +2 minus at -2: \(deltas.map { formatFixed($0, 3) }.joined(separator: " "))")
            XCTAssertLessThanOrEqual(skipped, 8, "\(d.name): the face was lost on \(skipped) of \(skipped + seeds.count) seeds")
            XCTAssertGreaterThanOrEqual(agree, 6, "\(d.name): \(agree) of \(seeds.count) seeds moved the measure the expected way (\(deltas))")
        }
    }

    /// Left and right are the image's: mirroring a generated face flips the sign of yaw and light_side.
    func testMirroringFlipsYawAndLightSide() throws {
        _ = try LocalTestData.weights()
        guard let g = LocalTestData.generator, let pipeline = Self.pipeline else { return XCTFail("generator or face models failed to load") }
        guard let yaw = LatentDirections.named("yaw") else { return XCTFail("no yaw direction") }
        // A face turned well to the image right: +2.5 along yaw.
        let img = g.generate([yaw.moved(DCGANGenerator.latent(seed: 11), by: 2.5)])[0]
        guard let a = GeneratedMeasures.measured(image64: img, pipeline: pipeline),
              let b = GeneratedMeasures.measured(image64: mirrored(img), pipeline: pipeline) else { return XCTFail("no face") }
        print("yaw \(a.measures["yaw"]!) mirrored \(b.measures["yaw"]!); light_side \(a.measures["light_side"]!) mirrored \(b.measures["light_side"]!)")
        XCTAssertGreaterThan(a.measures["yaw"]!, 5, "+2.5 along yaw turns the nose to the image right")
        XCTAssertLessThan(b.measures["yaw"]!, -5)
        XCTAssertEqual(a.measures["light_side"]! * b.measures["light_side"]! < 0, true)
        XCTAssertEqual(a.measures["framing"]!, b.measures["framing"]!, accuracy: 0.05)
    }

    func mirrored(_ img: RGBImage) -> RGBImage {
        var out = img
        for y in 0..<img.height { for x in 0..<img.width { for c in 0..<3 { out[x, y, c] = img[img.width - 1 - x, y, c] } } }
        return out
    }

    /// The measures on one rendered face are what their definitions say.
    func testMeasuresOfARenderedFace() throws {
        _ = try LocalTestData.weights()
        guard let g = LocalTestData.generator, let pipeline = Self.pipeline else { return XCTFail("generator or face models failed to load") }
        let img = g.generate(seeds: [0])[0]
        guard let full = GeneratedMeasures.measure(image64: img, pipeline: pipeline),
              let m = GeneratedMeasures.measured(image64: img, pipeline: pipeline) else { return XCTFail("seed 0 has no face") }
        XCTAssertEqual(full.measures, m.measures)
        XCTAssertEqual(Set(m.measures.keys), Set(GeneratedMeasures.keys))
        XCTAssertEqual(m.render.width, 256)
        XCTAssertEqual(m.measures["box_height"]!, Double(full.face.box.height) / 256, accuracy: 1e-12)
        let chip = FaceChip.details(landmarks: full.face.landmarks)
        XCTAssertEqual(m.measures["framing"]!, (chip.right - chip.left + 1) / 256, accuracy: 1e-12)
        XCTAssertTrue((0.5...1.2).contains(m.measures["framing"]!))
        XCTAssertEqual(m.measures["yaw"]!, ReferenceQuality.headPose(landmarks: full.face.landmarks).yaw, accuracy: 1e-12)
        let cheeks = ReferenceQuality.cheekLightness(chip: full.chip)
        XCTAssertEqual(m.measures["light_side"]!, cheeks.left - cheeks.right, accuracy: 1e-12)
        XCTAssertTrue((0...100).contains(m.measures["brightness"]!))
        XCTAssertEqual(full.face.descriptor.values.count, 128)
        // A flat grey image is neutral: b* of grey is ~0; a yellowish tint raises it.
        let grey = RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: 128, count: 48))
        XCTAssertEqual(GeneratedMeasures.meanLab(grey, Rect(left: 0, top: 0, right: 3, bottom: 3)).b, 0, accuracy: 0.01)
        var warm = grey
        for i in stride(from: 2, to: 48, by: 3) { warm.pixels[i] = 90 }
        XCTAssertGreaterThan(GeneratedMeasures.meanLab(warm, Rect(left: 0, top: 0, right: 3, bottom: 3)).b, 15)
    }
}
