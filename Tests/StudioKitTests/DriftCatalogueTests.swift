import XCTest
import Foundation
import StudioKit

/// The drift catalogue and negative-prompt synthesis.
final class DriftCatalogueTests: XCTestCase {
    // MARK: Fixtures

    static func attributes(eye: (String, [Double]), skin: [Double], skinLabel: String, hair: (String, [Double]),
                           faceRatio: Double, eyeSpacing: Double) -> FaceAttributes {
        FaceAttributes(items: [
            "eye_colour": AttributeMeasurement(values: eye.1, components: ["L*", "a*", "b*"], label: eye.0, region: "iris"),
            "skin_tone": AttributeMeasurement(values: skin, components: ["L*", "a*", "b*", "ITA°"], label: skinLabel, region: "cheeks"),
            "hair_colour": AttributeMeasurement(values: hair.1, components: ["L*", "a*", "b*"], label: hair.0, region: "hair band"),
            "face_width_height_ratio": AttributeMeasurement(values: [faceRatio, 300, 120, 1.2],
                                                            components: ["ratio", "width_px", "eye_nose_px", "width_over_box_height"],
                                                            label: "\(faceRatio)", region: "cheek line"),
            "eye_spacing_ratio": AttributeMeasurement(values: [eyeSpacing], components: ["ratio"], label: "\(eyeSpacing)", region: "landmarks"),
        ])
    }

    /// Brown eyes, black hair, ITA type III; a narrow face (below the typical 2.5).
    static let darkReference = attributes(eye: ("brown", [30, 12, 18]), skin: [58, 12, 14, 30],
                                          skinLabel: "type III (intermediate, ITA 30°)", hair: ("black", [15, 1, 2]),
                                          faceRatio: 2.2, eyeSpacing: 1.05)
    /// Blue eyes, blond hair, ITA type I; a wide face.
    static let lightReference = attributes(eye: ("blue", [50, -3, -12]), skin: [72, 8, 10, 65.6],
                                           skinLabel: "type I (very light, ITA 66°)", hair: ("blond", [68, 4, 25]),
                                           faceRatio: 2.9, eyeSpacing: 1.4)

    static func character(_ a: FaceAttributes, name: String = "ada") -> CharacterRecord {
        CharacterRecord(id: "c1", tenant: "t", name: name, createdAt: 0, identity: FaceDescriptor([Float](repeating: 0, count: 128)),
                        references: [], attributes: a)
    }

    // MARK: Catalogue

    func testCatalogueSizeAndUniqueIds() {
        let all = DriftCatalogue.all
        XCTAssertGreaterThanOrEqual(all.count, 30)
        XCTAssertEqual(Set(all.map(\.id)).count, all.count, "ids unique")
        for m in all {
            XCTAssertFalse(m.title.isEmpty, m.id)
            XCTAssertFalse(m.summary.isEmpty, m.id)
            XCTAssertFalse(m.summary.contains("\n"), "\(m.id): one line")
            XCTAssertFalse(m.attributes.isEmpty, m.id)
            XCTAssertTrue((0...4).contains(m.minStrictness), m.id)
            if let d = m.detector {
                XCTAssertNil(m.unmeasurableReason, "\(m.id): detector and reason")
                XCTAssertFalse(d.unit.isEmpty, m.id)
                XCTAssertTrue(d.threshold.isFinite, m.id)
            } else {
                XCTAssertFalse((m.unmeasurableReason ?? "").isEmpty, "\(m.id): no detector and no reason")
            }
        }
        // Every category is used; the named modes are present.
        XCTAssertEqual(Set(all.map(\.category)), Set(DriftMode.Category.allCases))
        for id in ["eye_colour_shift", "iris_saturation_loss", "skin_warming", "skin_cooling", "skin_lightening", "skin_darkening",
                   "hair_colour_shift", "hair_lightening", "hair_darkening", "greying", "face_widening", "face_narrowing",
                   "jawline_softening", "eye_spacing_widening", "eye_spacing_narrowing", "eye_size_change", "nose_width_change",
                   "hairline_retreat", "asymmetry_creep", "age_drift_older", "age_drift_younger", "gender_presentation_drift",
                   "identity_drift", "expression_exaggeration", "pose_drift_yaw", "head_roll", "lighting_from_left",
                   "lighting_from_right", "overexposure", "underexposure", "blur_softness", "plastic_skin",
                   "makeup_colour_cast", "accessory_glasses"] {
            XCTAssertNotNil(DriftCatalogue.mode(id), id)
        }
        XCTAssertNil(DriftCatalogue.mode("hairline_retreat")?.detector, "5 landmarks cannot see the hairline")
        XCTAssertNotNil(DriftCatalogue.mode("identity_drift")?.detector)
    }

    func testCatalogueIsCodable() throws {
        let data = try JSONEncoder().encode(DriftCatalogue.all)
        let back = try JSONDecoder().decode([DriftMode].self, from: data)
        XCTAssertEqual(back, DriftCatalogue.all)
    }

    func testSuppressorsNonEmptyAndOpposite() {
        for ref in [Self.darkReference, Self.lightReference] {
            for m in DriftCatalogue.all {
                let fs = m.suppressor.fragments(reference: ref)
                XCTAssertFalse(fs.isEmpty, "\(m.id) has no fragments")
                XCTAssertTrue(fs.allSatisfy { !$0.isEmpty }, m.id)
            }
        }
        let all = { (r: FaceAttributes) in DriftCatalogue.all.flatMap { $0.suppressor.fragments(reference: r) }.map { $0.lowercased() } }
        let dark = all(Self.darkReference), light = all(Self.lightReference)
        XCTAssertFalse(dark.contains { $0.contains("brown eyes") }, "brown-eyed: \(dark)")
        XCTAssertFalse(light.contains { $0.contains("blue eyes") }, "blue-eyed: \(light)")
        XCTAssertFalse(dark.contains { $0.hasSuffix("black hair") }, "black-haired: never 'black hair'")
        XCTAssertFalse(light.contains { $0.contains("blond hair") }, "blond: never 'blond hair'")

        let eye = DriftCatalogue.mode("eye_colour_shift")!.suppressor
        XCTAssertEqual(eye.fragments(reference: Self.darkReference), ["blue eyes", "green eyes", "hazel eyes", "grey eyes", "light eyes"])
        XCTAssertTrue(eye.fragments(reference: Self.lightReference).contains("brown eyes"))
        let hair = DriftCatalogue.mode("hair_colour_shift")!.suppressor
        XCTAssertEqual(hair.fragments(reference: Self.darkReference), ["blond hair", "light brown hair", "grey hair", "red hair"])
        XCTAssertTrue(hair.fragments(reference: Self.lightReference).contains("black hair"))
        let darker = DriftCatalogue.mode("skin_darkening")!.suppressor
        XCTAssertTrue(darker.fragments(reference: Self.lightReference).contains("tanned skin"))
        let lighter = DriftCatalogue.mode("skin_lightening")!.suppressor
        XCTAssertTrue(lighter.fragments(reference: Self.darkReference).contains("lighter skin"))
        // Warming and cooling are separate modes with different fragments.
        let warm = DriftCatalogue.mode("skin_warming")!.suppressor.fragments(reference: Self.darkReference)
        let cool = DriftCatalogue.mode("skin_cooling")!.suppressor.fragments(reference: Self.darkReference)
        XCTAssertTrue(Set(warm).isDisjoint(with: cool))
    }

    func testRegressionToTheMeanChoosesGeometryModes() {
        // A narrow face (2.2 < 2.5) drifts wider: widening is included a level earlier, narrowing not.
        let widen = DriftCatalogue.mode("face_widening")!, narrow = DriftCatalogue.mode("face_narrowing")!
        XCTAssertTrue(widen.leansTowardTypical(reference: Self.darkReference))
        XCTAssertFalse(narrow.leansTowardTypical(reference: Self.darkReference))
        XCTAssertTrue(narrow.leansTowardTypical(reference: Self.lightReference))
        let p1 = NegativePrompt.synthesize(character: Self.character(Self.darkReference), request: [], strictness: 1, diagnosed: [],
                                           maxLength: 100_000)
        XCTAssertTrue(p1.modeIds.contains("face_widening"))
        XCTAssertFalse(p1.modeIds.contains("face_narrowing"))
        XCTAssertTrue(p1.modeIds.contains("eye_spacing_widening"), "1.05 < typical 1.2")
        let q1 = NegativePrompt.synthesize(character: Self.character(Self.lightReference), request: [], strictness: 1, diagnosed: [],
                                           maxLength: 100_000)
        XCTAssertTrue(q1.modeIds.contains("face_narrowing"))
        XCTAssertTrue(q1.modeIds.contains("eye_spacing_narrowing"))
    }

    // MARK: Synthesis

    func testUserNegativesFirstAndDiagnosedTargetedHighest() {
        let c = Self.character(Self.darkReference)
        let p = NegativePrompt.synthesize(character: c, request: ["watermark, text", "extra fingers"], strictness: 2,
                                          diagnosed: ["eye_colour_shift", "plastic_skin", "no_such_mode"])
        XCTAssertEqual(p.fragments.prefix(3).map(\.text), ["watermark", "text", "extra fingers"])
        XCTAssertTrue(p.fragments.prefix(3).allSatisfy { $0.source == .user })
        XCTAssertTrue(p.text.hasPrefix("watermark, text, extra fingers, "))
        XCTAssertEqual(p.unknownDiagnosed, ["no_such_mode"])
        let targeted = p.fragments.filter { if case .targeted = $0.source { return true }; return false }
        XCTAssertEqual(Set(targeted.compactMap(\.source.modeId)), ["eye_colour_shift", "plastic_skin"])
        XCTAssertTrue(targeted.contains { $0.text == "green eyes" })
        XCTAssertTrue(targeted.contains { $0.text == "plastic skin" }, "diagnosed modes are included above their strictness")
        let maxOther = p.fragments.filter { if case .targeted = $0.source { return false }; return true }.map(\.weight).max()!
        XCTAssertTrue(targeted.allSatisfy { $0.weight > maxOther })
        // Targeted fragments come right after the user's.
        XCTAssertEqual(p.fragments[3].source, .targeted("eye_colour_shift"))
        XCTAssertTrue(p.weightedText(style: .parenthesized).contains("(green eyes:1.7)"), p.weightedText(style: .parenthesized))
        XCTAssertTrue(p.weightedText(style: .parenthesized).hasPrefix("watermark, text, extra fingers, "))
        XCTAssertEqual(p.weightedText(style: .plain), p.text)
        let terms = p.penaltyTerms()
        XCTAssertEqual(terms.first?.modeId, "eye_colour_shift")
        XCTAssertEqual(terms.first?.targeted, true)
        XCTAssertFalse(terms.contains { $0.modeId == "jawline_softening" }, "unmeasurable modes give no penalty term")
    }

    func testStrictnessMonotone() {
        for ref in [Self.darkReference, Self.lightReference] {
            let c = Self.character(ref)
            var previous: Set<String> = []
            var previousWeight = 0.0
            for s in 0...4 {
                let p = NegativePrompt.synthesize(character: c, request: [], strictness: s, diagnosed: [], maxLength: 100_000)
                let ids = Set(p.modeIds)
                XCTAssertTrue(ids.isSuperset(of: previous), "strictness \(s)")
                let w = p.fragments.first { $0.source == .mode("eye_colour_shift") }!.weight
                XCTAssertGreaterThan(w, previousWeight, "weights rise with strictness")
                previous = ids; previousWeight = w
                if s == 0 {
                    let modes = ids.compactMap { DriftCatalogue.mode($0) }
                    XCTAssertTrue(modes.allSatisfy { $0.category == .colour || $0.category == .geometry }, "\(ids)")
                    XCTAssertTrue(ids.contains("eye_colour_shift") && ids.contains("hair_colour_shift") && ids.contains("skin_darkening"))
                }
            }
            XCTAssertEqual(previous.count, DriftCatalogue.all.count, "strictness 4 includes every mode")
        }
    }

    func testDeduplicationCaseInsensitive() {
        let c = Self.character(Self.darkReference)
        let p = NegativePrompt.synthesize(character: c, request: ["Green Eyes", "blurry", "green eyes"], strictness: 4,
                                          diagnosed: ["eye_colour_shift"], maxLength: 100_000)
        let keys = p.fragments.map { $0.text.lowercased() }
        XCTAssertEqual(Set(keys).count, keys.count)
        XCTAssertEqual(p.fragments[0].text, "Green Eyes")
        XCTAssertEqual(p.fragments[0].source, .user, "the user's wording and source stay")
        XCTAssertEqual(keys.filter { $0 == "green eyes" }.count, 1)
        // "split lighting" and "half-face shadow" appear in both lighting modes, once in the prompt.
        XCTAssertEqual(keys.filter { $0 == "split lighting" }.count, 1)
    }

    func testLengthCapDropsLowestWeightFirst() {
        let c = Self.character(Self.lightReference)
        let full = NegativePrompt.synthesize(character: c, request: ["lowres"], strictness: 4, diagnosed: ["hair_colour_shift"], maxLength: 100_000)
        XCTAssertTrue(full.dropped.isEmpty)
        XCTAssertGreaterThan(full.text.count, 400)
        let p = NegativePrompt.synthesize(character: c, request: ["lowres"], strictness: 4, diagnosed: ["hair_colour_shift"])
        XCTAssertLessThanOrEqual(p.text.count, 400)
        XCTAssertFalse(p.dropped.isEmpty)
        XCTAssertEqual(p.fragments.count + p.dropped.count, full.fragments.count)
        let minKept = p.fragments.filter { $0.source != .user }.map(\.weight).min()!
        XCTAssertTrue(p.dropped.allSatisfy { $0.weight <= minKept }, "dropped lowest weight first")
        XCTAssertEqual(p.fragments.first?.text, "lowres")
        XCTAssertTrue(p.fragments.contains { $0.source == .targeted("hair_colour_shift") && $0.text == "black hair" })
        // The kept fragments keep their relative order.
        let order = full.fragments.map(\.text)
        let kept = p.fragments.map { order.firstIndex(of: $0.text)! }
        XCTAssertEqual(kept, kept.sorted())
        // A tiny cap keeps the user's negatives anyway.
        let tiny = NegativePrompt.synthesize(character: c, request: ["lowres", "watermark"], strictness: 0, diagnosed: [], maxLength: 5)
        XCTAssertEqual(tiny.text, "lowres, watermark")
    }

    func testDeterministic() throws {
        let c = Self.character(Self.darkReference)
        let a = NegativePrompt.synthesize(character: c, request: ["x"], strictness: 3, diagnosed: ["plastic_skin", "eye_colour_shift"])
        let b = NegativePrompt.synthesize(character: c, request: ["x"], strictness: 3, diagnosed: ["eye_colour_shift", "plastic_skin"])
        XCTAssertEqual(a, b, "diagnosed order does not matter: catalogue order")
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        XCTAssertEqual(try enc.encode(a), try enc.encode(b))
        XCTAssertEqual(a.text, NegativePrompt.synthesize(character: c, request: ["x"], strictness: 3, diagnosed: ["plastic_skin", "eye_colour_shift"]).text)
    }

    /// Prints the catalogue (for the report).
    func testPrintCatalogue() {
        for m in DriftCatalogue.all {
            let how = m.detector.map { "detector: \($0.summary)" } ?? "no detector: \(m.unmeasurableReason!)"
            print("DRIFT \(m.id) [\(m.category.rawValue), s>=\(m.minStrictness)] \(how)")
        }
        let p = NegativePrompt.synthesize(character: Self.character(Self.darkReference), request: ["watermark"], strictness: 1,
                                          diagnosed: ["eye_colour_shift"])
        print("NEGATIVE dark s1: \(p.weightedText(style: .parenthesized))")
        let q = NegativePrompt.synthesize(character: Self.character(Self.lightReference), request: [], strictness: 0, diagnosed: [])
        print("NEGATIVE light s0: \(q.text)")
    }
}
