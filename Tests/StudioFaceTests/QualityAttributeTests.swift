import XCTest
import Foundation
import StudioKit
import StudioImage
@testable import StudioFace

/// Reference quality checks, attribute measures and the colour conversions they use.
final class QualityAttributeTests: XCTestCase {
    // MARK: Helpers

    /// One image run through the pipeline, its quality report and attributes.
    struct Analysed {
        var image: RGBImage
        var faces: [FacePipeline.AlignedFace]
        var chosen: Int
        var report: QualityReport
        var attributes: FaceAttributes
    }

    /// Analyses are shared by the tests of one process (detection ≈ 1 s per photo in release).
    nonisolated(unsafe) static var cache: [String: Analysed] = [:]
    static let lock = NSLock()

    /// Upsample 0 for photos, 1 for small images (faces under ≈ 100 px need it).
    static func analyse(_ image: RGBImage) -> Analysed {
        let upsample = image.width * image.height <= 300_000 ? 1 : 0
        let faces = TestData.pipeline.align(image, upsample: upsample)
        guard let chosen = ReferenceQuality.largestFace(faces) else {
            return Analysed(image: image, faces: [], chosen: -1, report: QualityReport(checks: [], weight: 1), attributes: FaceAttributes())
        }
        let f = faces[chosen]
        return Analysed(image: image, faces: faces, chosen: chosen,
                        report: ReferenceQuality.assess(image: image, faces: faces, chosen: chosen),
                        attributes: FaceAttributeMeter.measure(chip: f.chip, landmarks: f.landmarks, box: f.detection.rect, image: image))
    }

    static func analysed(_ key: String, _ make: () throws -> RGBImage) rethrows -> Analysed {
        lock.lock(); defer { lock.unlock() }
        if let a = cache[key] { return a }
        let a = analyse(try make())
        cache[key] = a
        return a
    }

    func photo(_ name: String) throws -> Analysed {
        let path = try TestData.testImage("face_recognition/" + name)
        let a = try Self.analysed(name) { try ImageIO.load(path: path) }
        XCTAssertEqual(a.faces.count, 1, "\(name): one face")
        guard a.chosen >= 0 else { throw XCTSkip("no face in \(name)") }
        return a
    }

    func blurredObama() throws -> Analysed {
        let obama = try photo("obama.jpg")
        return Self.analysed("obama-blur4") { Self.boxBlur(obama.image, radius: 4) }
    }

    func check(_ a: Analysed, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> QualityCheck {
        try XCTUnwrap(a.report.checks.first { $0.name == name }, "no \(name) check", file: file, line: line)
    }

    func attribute(_ a: Analysed, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> AttributeMeasurement {
        try XCTUnwrap(a.attributes[name], "no \(name) attribute", file: file, line: line)
    }

    /// Box blur of radius r (a (2r+1)x(2r+1) mean, edges clamped), separable.
    static func boxBlur(_ img: RGBImage, radius r: Int) -> RGBImage {
        let w = img.width, h = img.height
        var tmp = [Double](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            var s = 0.0
            for k in -r...r { s += Double(img.pixels[(y * w + min(max(x + k, 0), w - 1)) * 3 + c]) }
            tmp[(y * w + x) * 3 + c] = s / Double(2 * r + 1)
        }}}
        var out = img
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            var s = 0.0
            for k in -r...r { s += tmp[(min(max(y + k, 0), h - 1) * w + x) * 3 + c] }
            out.pixels[(y * w + x) * 3 + c] = UInt8((s / Double(2 * r + 1)).rounded())
        }}}
        return out
    }

    static func table(_ name: String, _ a: Analysed) -> String {
        var s = "\(name) \(a.image.width)x\(a.image.height) faces=\(a.faces.count) verdict=\(a.report.verdict.rawValue) weight=\(QAFormat.fixed(a.report.weight, 3))\n"
        for c in a.report.checks { s += "  \(c.name): \(QAFormat.fixed(c.value, 3)) \(c.verdict.rawValue)\n" }
        for (k, v) in a.attributes.items.sorted(by: { $0.key < $1.key }) {
            s += "  \(k): \(v.label) \(v.values.map { QAFormat.fixed($0, 2) })\n"
        }
        return s
    }

    // MARK: Colour

    func testColourConversionKnownValues() {
        func assertLab(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ L: Double, _ a: Double, _ bb: Double, line: UInt = #line) {
            let c = ColorSpace.lab(r: r, g: g, b: b)
            XCTAssertEqual(c.L, L, accuracy: 0.01, "L* of (\(r),\(g),\(b))", line: line)
            XCTAssertEqual(c.a, a, accuracy: 0.01, "a* of (\(r),\(g),\(b))", line: line)
            XCTAssertEqual(c.b, bb, accuracy: 0.01, "b* of (\(r),\(g),\(b))", line: line)
        }
        assertLab(255, 255, 255, 100, 0, 0)
        assertLab(0, 0, 0, 0, 0, 0)
        assertLab(255, 0, 0, 53.24, 80.09, 67.20)
        assertLab(0, 255, 0, 87.73, -86.18, 83.18)
        assertLab(0, 0, 255, 32.30, 79.19, -107.86)
        assertLab(128, 128, 128, 53.59, 0, 0)
        // The transfer function's two pieces meet at 0.04045 (code 10.3).
        XCTAssertEqual(ColorSpace.linearTable[10], 10.0 / 255 / 12.92, accuracy: 1e-12)
        XCTAssertEqual(ColorSpace.linearTable[255], 1, accuracy: 1e-12)
        // White's XYZ is the D65 white point.
        let w = ColorSpace.xyz(r: 255, g: 255, b: 255)
        XCTAssertEqual(w.x, 0.95047, accuracy: 1e-4); XCTAssertEqual(w.y, 1, accuracy: 1e-4); XCTAssertEqual(w.z, 1.08883, accuracy: 1e-4)
        // Round trip through the inverse for every 17th code on each channel.
        for r in stride(from: 0, through: 255, by: 17) { for g in stride(from: 0, through: 255, by: 17) { for b in stride(from: 0, through: 255, by: 17) {
            let back = ColorSpace.srgb(ColorSpace.lab(r: UInt8(r), g: UInt8(g), b: UInt8(b)))
            XCTAssertEqual([Int(back.r), Int(back.g), Int(back.b)], [r, g, b])
        }}}
        // Derived quantities.
        let red = ColorSpace.lab(r: 255, g: 0, b: 0)
        XCTAssertEqual(red.chroma, (80.09 * 80.09 + 67.20 * 67.20).squareRoot(), accuracy: 0.02)
        XCTAssertEqual(red.hueDegrees, 40.0, accuracy: 0.1)
        XCTAssertEqual(CIELab(L: 50, a: 0, b: 0).deltaE(CIELab(L: 53, a: 4, b: 0)), 5, accuracy: 1e-12)
        XCTAssertEqual(ColorSpace.median([CIELab(L: 1, a: 5, b: 0), CIELab(L: 3, a: 1, b: 2), CIELab(L: 2, a: 3, b: 9)]),
                       CIELab(L: 2, a: 3, b: 2))
    }

    // MARK: Measures on synthetic input

    func testLaplacianVarianceOnSyntheticPatterns() {
        let n = 40
        let region = Rect(left: 0, top: 0, right: n - 1, bottom: n - 1)
        // Flat: zero.
        XCTAssertEqual(ReferenceQuality.laplacianVariance([Double](repeating: 77, count: n * n), width: n, height: n, region: region), 0)
        // A linear ramp has zero Laplacian too.
        let ramp = (0..<(n * n)).map { Double(3 * ($0 % n) + 2 * ($0 / n)) }
        XCTAssertEqual(ReferenceQuality.laplacianVariance(ramp, width: n, height: n, region: region), 0, accuracy: 1e-9)
        // One-pixel 0/255 checkerboard: the Laplacian is ±1020 with mean 0 over the 38x38 interior.
        let board = (0..<(n * n)).map { (($0 % n) + ($0 / n)) % 2 == 0 ? 0.0 : 255.0 }
        XCTAssertEqual(ReferenceQuality.laplacianVariance(board, width: n, height: n, region: region), 1020 * 1020, accuracy: 1e-6)
        // A single bright pixel in a dark 5x5 interior region: values -4v (once) and v (4 times), 25 pixels.
        var dot = [Double](repeating: 0, count: n * n)
        dot[20 * n + 20] = 10
        let v = ReferenceQuality.laplacianVariance(dot, width: n, height: n, region: Rect(left: 18, top: 18, right: 22, bottom: 22))
        let values = [-40.0] + [Double](repeating: 10, count: 4) + [Double](repeating: 0, count: 20)
        let mean = values.reduce(0, +) / 25
        XCTAssertEqual(v, values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 25, accuracy: 1e-9)
        // On an RGB chip: grey flat chip scores 0, a 2-px stripe pattern scores high.
        XCTAssertEqual(ReferenceQuality.sharpness(chip: RGBImage(width: 150, height: 150, pixels: [UInt8](repeating: 128, count: 150 * 150 * 3))), 0)
        var stripes = RGBImage(width: 150, height: 150)
        for y in 0..<150 { for x in 0..<150 where (x / 2) % 2 == 0 { for c in 0..<3 { stripes[x, y, c] = 200 } } }
        XCTAssertGreaterThan(ReferenceQuality.sharpness(chip: stripes), 10_000)
    }

    func testHeadPoseFromLandmarks() {
        // A symmetric face: eye centres (40,50) and (100,50), nose base under their midpoint.
        let frontal = [Point(x: 110, y: 50), Point(x: 90, y: 50), Point(x: 30, y: 50), Point(x: 50, y: 50), Point(x: 70, y: 95)]
        var pose = ReferenceQuality.headPose(landmarks: frontal)
        XCTAssertEqual(pose.yaw, 0, accuracy: 1e-9); XCTAssertEqual(pose.roll, 0, accuracy: 1e-9)
        // Nose moved right by D/w tan(30°) eye distances: yaw 30°.
        var turned = frontal
        turned[4].x += 60 * ReferenceQuality.noseDepthRatio * tan(30 * Double.pi / 180)
        pose = ReferenceQuality.headPose(landmarks: turned)
        XCTAssertEqual(pose.yaw, 30, accuracy: 1e-9)
        XCTAssertEqual(pose.noseOffset, ReferenceQuality.noseDepthRatio * tan(30 * Double.pi / 180), accuracy: 1e-12)
        // Rotating the whole face by 20° changes roll only.
        let a = 20 * Double.pi / 180
        let rotated = turned.map { Point(x: cos(a) * $0.x - sin(a) * $0.y, y: sin(a) * $0.x + cos(a) * $0.y) }
        pose = ReferenceQuality.headPose(landmarks: rotated)
        XCTAssertEqual(pose.roll, 20, accuracy: 1e-9)
        XCTAssertEqual(pose.yaw, 30, accuracy: 1e-9)
    }

    func testWeightCombination() {
        func c(_ v: QualityCheck.Verdict) -> QualityCheck { QualityCheck(name: "x", value: 0, threshold: 0, rule: ">=", verdict: v, detail: "") }
        XCTAssertEqual(ReferenceQuality.weight([c(.pass), c(.pass)]), 1)
        XCTAssertEqual(ReferenceQuality.weight([c(.pass), c(.warn)]), 0.7, accuracy: 1e-12)
        XCTAssertEqual(ReferenceQuality.weight([c(.warn), c(.warn)]), 0.49, accuracy: 1e-12)
        XCTAssertEqual(ReferenceQuality.weight([c(.fail)]), 0.15, accuracy: 1e-12)
        XCTAssertEqual(ReferenceQuality.weight([c(.fail), c(.fail), c(.fail)]), 0.01, accuracy: 1e-12, "floored")
        XCTAssertEqual(ReferenceQuality.weight([]), 1)
    }

    func testChipGeometryRoundTrip() throws {
        let a = try photo("obama2.jpg")
        let f = a.faces[a.chosen]
        let d = FaceChip.details(landmarks: f.landmarks)
        for p in f.landmarks {
            let back = ChipGeometry.imagePoint(ChipGeometry.chipPoint(p, details: d), details: d)
            XCTAssertEqual(back.x, p.x, accuracy: 1e-9); XCTAssertEqual(back.y, p.y, accuracy: 1e-9)
        }
        // The landmarks land within a few chip pixels of the template positions.
        for (i, p) in f.landmarks.enumerated() {
            let c = ChipGeometry.chipPoint(p, details: d), t = ChipGeometry.templatePoint(i)
            XCTAssertLessThan(((c.x - t.x) * (c.x - t.x) + (c.y - t.y) * (c.y - t.y)).squareRoot(), 6, "landmark \(i)")
        }
        // Chip pixel (x, y) is the source sampled at imagePoint((x, y)): compare a smooth cheek pixel.
        let s = try XCTUnwrap(ChipGeometry.sample(a.image, ChipGeometry.imagePoint(Point(x: 46, y: 68), details: d)))
        for (c, v) in [s.0, s.1, s.2].enumerated() { XCTAssertEqual(Double(f.chip[46, 68, c]), Double(v), accuracy: 12) }
    }

    // MARK: Quality on real photos

    func testQualityOnObama() throws {
        let a = try photo("obama.jpg")
        XCTAssertEqual(a.report.checks.map(\.name),
                       ["resolution", "face_count", "face_size", "sharpness", "lighting", "exposure", "frontality", "roll"])
        let res = try check(a, "resolution")
        XCTAssertEqual(res.value, 910); XCTAssertEqual(res.verdict, .pass)
        XCTAssertEqual(try check(a, "face_count").verdict, .pass)
        XCTAssertEqual(try check(a, "face_count").value, 1)
        let size = try check(a, "face_size")
        XCTAssertEqual(size.verdict, .pass)
        XCTAssertEqual(size.value, Double(a.faces[0].detection.rect.height) / 1137, accuracy: 1e-12)
        let sharp = try check(a, "sharpness")
        XCTAssertEqual(sharp.verdict, .pass)
        XCTAssertGreaterThan(sharp.value, 500, "obama.jpg measured ≈ 1476")
        let light = try check(a, "lighting")
        XCTAssertEqual(light.verdict, .pass)
        XCTAssertGreaterThan(light.value, 0.85); XCTAssertLessThanOrEqual(light.value, 1)
        XCTAssertEqual(try check(a, "exposure").verdict, .pass)
        let yaw = try check(a, "frontality")
        XCTAssertEqual(yaw.verdict, .pass)
        XCTAssertLessThan(yaw.value, 10, "obama.jpg faces the camera")
        XCTAssertEqual(try check(a, "roll").verdict, .pass)
        XCTAssertEqual(a.report.verdict, .pass)
        XCTAssertEqual(a.report.weight, 1)
        for c in a.report.checks { XCTAssertFalse(c.detail.isEmpty, c.name); XCTAssertFalse(c.rule.isEmpty, c.name) }
    }

    func testQualityOnBiden() throws {
        let a = try photo("biden.jpg")
        XCTAssertEqual(try check(a, "resolution").verdict, .pass)
        XCTAssertEqual(try check(a, "face_count").verdict, .pass)
        let yaw = try check(a, "frontality")
        XCTAssertEqual(yaw.verdict, .pass, "measured ≈ 12.6°")
        XCTAssertGreaterThan(yaw.value, 5, "biden.jpg is turned a little")
        let roll = try check(a, "roll")
        XCTAssertEqual(roll.value, 12.2, accuracy: 1.5, "eye line from the landmarks: atan2(25.5, 117.5)")
        XCTAssertEqual(roll.verdict, .pass)
        XCTAssertEqual(try check(a, "lighting").verdict, .pass)
        // The face is 284 px of a 2204 px tall photo: 12.9%, under the 15% guidance.
        XCTAssertEqual(try check(a, "face_size").verdict, .warn)
        XCTAssertGreaterThan(a.report.weight, 0.1)
        XCTAssertLessThan(a.report.weight, 1)
    }

    func testBlurLowersSharpnessVerdict() throws {
        let sharp = try check(try photo("obama.jpg"), "sharpness")
        let blurred = try check(try blurredObama(), "sharpness")
        XCTAssertLessThan(blurred.value, sharp.value / 10, "box blur r=4: measured ≈ 43 vs ≈ 1476")
        XCTAssertGreaterThan(blurred.verdict, sharp.verdict)
        XCTAssertEqual(blurred.verdict, .fail)
        XCTAssertLessThan(try blurredObama().report.weight, try photo("obama.jpg").report.weight)
    }

    func testDownscaleFailsResolution() throws {
        let obama = try photo("obama.jpg")
        let small = Self.analysed("obama-300") { obama.image.resizedBilinear(width: 300, height: 375) }
        XCTAssertEqual(small.faces.count, 1)
        let res = try check(small, "resolution")
        XCTAssertEqual(res.value, 300)
        XCTAssertEqual(res.verdict, .warn, "256 <= 300 < 512")
        XCTAssertEqual(try check(small, "face_count").verdict, .pass)
        let tiny = Self.analysed("obama-200") { obama.image.resizedBilinear(width: 200, height: 250) }
        if !tiny.faces.isEmpty { XCTAssertEqual(try check(tiny, "resolution").verdict, .fail) }
    }

    func testJohnsChipsFailResolution() throws {
        let dir = TestData.paths.testData + "/johns"
        guard let people = try? FileManager.default.contentsOfDirectory(atPath: dir).sorted(), !people.isEmpty else {
            _ = try TestData.testImage("johns"); return
        }
        var seen = 0
        for person in people {
            let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/" + person).sorted().filter { $0.hasSuffix(".jpg") }
            guard let first = files.first else { continue }
            let a = Self.analyse(try ImageIO.load(path: dir + "/" + person + "/" + first))
            XCTAssertEqual(a.faces.count, 1, "\(person)/\(first)")
            guard a.chosen >= 0 else { continue }
            let res = try check(a, "resolution")
            XCTAssertEqual(res.value, 150)
            XCTAssertEqual(res.verdict, .fail, "\(person)/\(first)")
            XCTAssertLessThanOrEqual(a.report.weight, 0.15)
            XCTAssertGreaterThan(a.report.weight, 0)
            // The face fills the crop: the hair band lies outside the image.
            XCTAssertEqual(try attribute(a, "hair_colour").label, "unknown")
            XCTAssertEqual(try attribute(a, "hair_colour").values, [])
            seen += 1
        }
        XCTAssertEqual(seen, 5)
    }

    func testSeveralFacesWarnAndNameTheChosenOne() throws {
        let a = try photo("obama.jpg")
        var other = a.faces[0]
        let r = other.detection.rect
        other.detection.rect = Rect(left: r.left / 4, top: r.top / 4, right: r.left / 4 + r.width / 2, bottom: r.top / 4 + r.height / 2)
        let faces = [other, a.faces[0]]
        XCTAssertEqual(ReferenceQuality.largestFace(faces), 1)
        let report = ReferenceQuality.assess(image: a.image, faces: faces, chosen: 1)
        let count = try XCTUnwrap(report.checks.first { $0.name == "face_count" })
        XCTAssertEqual(count.value, 2)
        XCTAssertEqual(count.verdict, .warn)
        XCTAssertTrue(count.detail.contains("using face 1"), count.detail)
        XCTAssertTrue(count.detail.contains("the largest"), count.detail)
        let byCaller = ReferenceQuality.assess(image: a.image, faces: faces, chosen: 0)
        let c2 = try XCTUnwrap(byCaller.checks.first { $0.name == "face_count" })
        XCTAssertTrue(c2.detail.contains("chosen by the caller; the largest is face 1"), c2.detail)
        XCTAssertEqual(report.weight, 0.7, accuracy: 1e-12)
    }

    func testThresholdsAreApplied() throws {
        let a = try photo("obama.jpg")
        var t = QualityThresholds()
        t.resolutionPass = 1000; t.resolutionFail = 920; t.sharpnessWarn = 5000; t.yawWarn = 1
        let r = ReferenceQuality.assess(image: a.image, faces: a.faces, chosen: 0, thresholds: t)
        XCTAssertEqual(r.checks.first { $0.name == "resolution" }?.verdict, .fail)
        XCTAssertEqual(r.checks.first { $0.name == "resolution" }?.threshold, 1000)
        XCTAssertEqual(r.checks.first { $0.name == "sharpness" }?.verdict, .warn)
        XCTAssertEqual(r.checks.first { $0.name == "frontality" }?.verdict, .warn)
        XCTAssertEqual(r.weight, 0.15 * 0.7 * 0.7, accuracy: 1e-12)
    }

    func testClippedFractionAndCheekLightness() {
        var chip = RGBImage(width: 150, height: 150, pixels: [UInt8](repeating: 120, count: 150 * 150 * 3))
        // Blow out the left half of the face centre (columns 37...73 of 37...110).
        for y in ChipGeometry.faceCentre.top...ChipGeometry.faceCentre.bottom { for x in 37...73 { for c in 0..<3 { chip[x, y, c] = 255 } } }
        let clip = ReferenceQuality.clippedFraction(chip: chip)
        XCTAssertEqual(clip.over, 37.0 / 74.0, accuracy: 1e-12)
        XCTAssertEqual(clip.under, 0)
        let light = ReferenceQuality.cheekLightness(chip: chip)
        XCTAssertEqual(light.left, 100, accuracy: 0.01)
        XCTAssertEqual(light.right, ColorSpace.lab(r: 120, g: 120, b: 120).L, accuracy: 1e-9)
    }

    // MARK: Attributes

    func testAttributesOnObamaPhotosAgree() throws {
        let a = try photo("obama.jpg"), b = try photo("obama2.jpg")
        for x in [a, b] {
            XCTAssertEqual(Set(x.attributes.items.keys), ["eye_colour", "skin_tone", "hair_colour", "face_width_height_ratio", "eye_spacing_ratio"])
            for (k, m) in x.attributes.items {
                XCTAssertFalse(m.region.isEmpty, k)
                XCTAssertTrue(m.values.isEmpty || m.values.count == m.components.count, "\(k): \(m.values.count) values for \(m.components)")
            }
        }
        // Skin: ITA within 10° (measured 31.8° and 39.9°).
        let sa = try attribute(a, "skin_tone"), sb = try attribute(b, "skin_tone")
        XCTAssertEqual(sa.components, ["L*", "a*", "b*", "ITA°"])
        XCTAssertEqual(sa.values[3], sb.values[3], accuracy: 10)
        XCTAssertEqual(sa.values[3], FaceAttributeMeter.itaDegrees(CIELab(L: sa.values[0], a: sa.values[1], b: sa.values[2])), accuracy: 1e-9)
        XCTAssertTrue(sa.label.hasPrefix("type "), sa.label)
        // Eyes: brown or dark brown in both.
        for m in [try attribute(a, "eye_colour"), try attribute(b, "eye_colour")] {
            XCTAssertTrue(["brown", "dark brown"].contains(m.label), m.label)
            XCTAssertEqual(m.values.count, 3)
        }
        // Eye spacing within 10% (measured 1.57 and 1.50).
        let ea = try attribute(a, "eye_spacing_ratio").values[0], eb = try attribute(b, "eye_spacing_ratio").values[0]
        XCTAssertEqual(ea / eb, 1, accuracy: 0.10)
        XCTAssertGreaterThan(ea, 1.0); XCTAssertLessThan(ea, 2.0)
        // Hair is measured above the forehead: dark and colourless in obama.jpg.
        let hair = try attribute(a, "hair_colour")
        XCTAssertEqual(hair.values.count, 3)
        XCTAssertLessThan(hair.values[0], 45)
        XCTAssertNotEqual(hair.label, "unknown")
    }

    func testEyeSpacingFromLandmarks() {
        // Inner corners 60 apart, eyes 30 and 40 wide: 60 / 35.
        let p = [Point(x: 130, y: 50), Point(x: 100, y: 50), Point(x: 0, y: 50), Point(x: 40, y: 50), Point(x: 70, y: 90)]
        XCTAssertEqual(FaceAttributeMeter.eyeSpacingRatio(landmarks: p).values, [60.0 / 35.0])
        XCTAssertEqual(FaceAttributeMeter.eyeSpacingRatio(landmarks: []).label, "unknown")
    }

    func testFaceWidthRatioIsStableUnderBlur() throws {
        // The detection box of the blurred copy is one MMOD scale step (6/5) larger; the ratio uses
        // the landmarks' eye-to-nose height instead, so it must not move with it.
        let a = try photo("obama.jpg"), b = try blurredObama()
        let ra = try attribute(a, "face_width_height_ratio"), rb = try attribute(b, "face_width_height_ratio")
        XCTAssertEqual(ra.components, ["ratio", "width_px", "eye_nose_px", "width_over_box_height"])
        XCTAssertEqual(ra.values.count, 4); XCTAssertEqual(rb.values.count, 4)
        XCTAssertEqual(ra.values[0] / rb.values[0], 1, accuracy: 0.05)
        XCTAssertGreaterThan(ra.values[0], 1.5); XCTAssertLessThan(ra.values[0], 4)
    }

    func testIrisRecolourChangesEyeLabel() throws {
        let a = try photo("obama.jpg")
        let f = a.faces[a.chosen]
        let d = FaceChip.details(landmarks: f.landmarks)
        let eyes = ChipGeometry.eyeCentres(landmarks: f.landmarks, details: d)
        let skin = FaceAttributeMeter.skinTone(chip: f.chip).lab
        XCTAssertTrue(["brown", "dark brown"].contains(FaceAttributeMeter.eyeColour(chip: f.chip, eyeCentres: [eyes.right, eyes.left], skin: skin).label))
        // Recolour each located iris disc (radius + 1 px) keeping each pixel's L*, with a blue or a
        // green hue: the label must follow.
        for (target, ab) in [("blue", (2.0, -30.0)), ("green", (-22.0, 18.0))] {
            var chip = f.chip
            for c in [eyes.right, eyes.left] {
                let centre = FaceAttributeMeter.irisCentre(chip: f.chip, near: c).centre
                for p in ChipGeometry.disc(centre: centre, radius: ChipGeometry.irisRadius + 1) {
                    let lab = ColorSpace.lab(f.chip, x: p.x, y: p.y)
                    let rgb = ColorSpace.srgb(CIELab(L: lab.L, a: ab.0, b: ab.1))
                    chip[p.x, p.y, 0] = rgb.r; chip[p.x, p.y, 1] = rgb.g; chip[p.x, p.y, 2] = rgb.b
                }
            }
            let m = FaceAttributeMeter.eyeColour(chip: chip, eyeCentres: [eyes.right, eyes.left], skin: skin)
            XCTAssertEqual(m.label, target, "\(m.values)")
            // And through the full measure.
            XCTAssertEqual(FaceAttributeMeter.measure(chip: chip, landmarks: f.landmarks, box: f.detection.rect, image: a.image)["eye_colour"]?.label, target)
        }
    }

    func testLabelRules() {
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 45, a: 0, b: -12)), "blue")
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 55, a: 1, b: 2)), "grey")
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 40, a: -8, b: 15)), "green")
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 25, a: 9, b: 8)), "dark brown")
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 42, a: 12, b: 16)), "brown")
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 45, a: 4, b: 18)), "hazel")
        XCTAssertEqual(FaceAttributeMeter.eyeLabel(CIELab(L: 55, a: 8, b: 35)), "amber")
        XCTAssertEqual(FaceAttributeMeter.itaLabel(60), "type I (very light, ITA 60°)")
        XCTAssertEqual(FaceAttributeMeter.itaLabel(48), "type II (light, ITA 48°)")
        XCTAssertEqual(FaceAttributeMeter.itaLabel(30), "type III (intermediate, ITA 30°)")
        XCTAssertEqual(FaceAttributeMeter.itaLabel(20), "type IV (tan, ITA 20°)")
        XCTAssertEqual(FaceAttributeMeter.itaLabel(-10), "type V (brown, ITA -10°)")
        XCTAssertEqual(FaceAttributeMeter.itaLabel(-40), "type VI (dark, ITA -40°)")
        XCTAssertEqual(FaceAttributeMeter.itaDegrees(CIELab(L: 60, a: 10, b: 10)), 45, accuracy: 1e-9)
        XCTAssertEqual(FaceAttributeMeter.itaDegrees(CIELab(L: 60, a: 10, b: 0)), 90)
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 15, a: 2, b: 3)), "black")
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 70, a: 1, b: 4)), "grey/white")
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 40, a: 25, b: 25)), "red/auburn")
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 68, a: 5, b: 28)), "blond")
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 28, a: 6, b: 10)), "dark brown")
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 40, a: 8, b: 15)), "brown")
        XCTAssertEqual(FaceAttributeMeter.hairLabel(CIELab(L: 52, a: 8, b: 16)), "light brown")
    }

    // MARK: Measured table (printed for the record; asserts only invariants)

    func testMeasuredTable() throws {
        var out = "\n"
        var all: [(String, Analysed)] = []
        for n in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "32bit.png", "obama_partial_face.jpg", "obama_partial_face2.jpg"] {
            all.append((n, try photo(n)))
        }
        let obama = try photo("obama.jpg")
        all.append(("obama.jpg box blur r4", try blurredObama()))
        all.append(("obama.jpg box blur r2", Self.analysed("obama-blur2") { Self.boxBlur(obama.image, radius: 2) }))
        all.append(("obama.jpg 300x375", Self.analysed("obama-300") { obama.image.resizedBilinear(width: 300, height: 375) }))
        for (n, a) in all {
            out += Self.table(n, a)
            XCTAssertEqual(a.report.checks.count, 8, n)
            XCTAssertGreaterThan(a.report.weight, 0, n); XCTAssertLessThanOrEqual(a.report.weight, 1, n)
            XCTAssertEqual(a.attributes.items.count, 5, n)
        }
        print(out)
    }
}
