import Crypto
import StudioKit
import StudioImage

/// A reference image as given by the user.
public struct ReferenceInput: Sendable {
    public var fileName: String
    public var bytes: [UInt8]
    public init(fileName: String, bytes: [UInt8]) { self.fileName = fileName; self.bytes = bytes }
}

/// How `character add` treats its references.
public struct RegistrationOptions: Sendable {
    public var tenant: String = "default"
    /// Which detected face to use when an image has several (detector order); nil = the largest.
    public var face: Int? = nil
    public var upsample: Int = 0
    /// Detection runs on a copy at most this large (see `FacePipeline.align`). References must show a
    /// face at least 15% of the frame high (quality check), i.e. >= 96 px at 640: above MMOD's 80 px window.
    public var detectionMaxSide: Int? = 640
    /// A reference farther than this from the others is another person.
    public var strangerThreshold: Double = FaceDescriptor.sameIdentityDistance
    /// Accept references that fail a quality check (they count little in the fused identity).
    public var allowLowQuality = false
    public var thresholds = QualityThresholds()
    public init() {}
}

/// Why a character could not be registered. The message names the file and what to do.
public struct RegistrationError: Error, CustomStringConvertible {
    public enum Kind: String, Sendable { case badImage, noFace, faceIndex, lowQuality, stranger, noReferences }
    public let kind: Kind
    public let message: String
    public var description: String { message }
}

/// A character ready to store, with what the user should hear about it.
public struct Registration: Sendable {
    public var character: CharacterRecord
    /// Original bytes of each reference image by SHA-256.
    public var images: [String: [UInt8]]
    public var warnings: [String]
}

/// Detect, align, embed, check and fuse references into a character (nothing is stored here).
public enum CharacterRegistration {
    public static func prepare(name: String, references: [ReferenceInput], pipeline: FacePipeline,
                               options: RegistrationOptions, id: String, now: Int64) throws -> Registration {
        guard !references.isEmpty else { throw RegistrationError(kind: .noReferences, message: "no reference images given (use --ref FILE)") }
        var records: [ReferenceRecord] = []
        var images: [String: [UInt8]] = [:]
        var warnings: [String] = []
        for ref in references {
            let image: RGBImage
            do { image = try ImageIO.decode(ref.bytes, name: ref.fileName) } catch {
                throw RegistrationError(kind: .badImage, message: "\(error)")
            }
            let faces = pipeline.align(image, upsample: options.upsample, detectionMaxSide: options.detectionMaxSide)
            guard !faces.isEmpty else {
                throw RegistrationError(kind: .noFace, message: "\(ref.fileName): no face found; a reference needs one clear, frontal face")
            }
            let chosen: Int
            if let f = options.face {
                guard f >= 0 && f < faces.count else {
                    throw RegistrationError(kind: .faceIndex, message: "\(ref.fileName): --face \(f) but the image has \(faces.count) face(s) (0...\(faces.count - 1))")
                }
                chosen = f
            } else {
                chosen = faces.indices.max { faces[$0].detection.rect.area < faces[$1].detection.rect.area }!
                if faces.count > 1 {
                    warnings.append("\(ref.fileName): \(faces.count) faces found; using the largest (face \(chosen)); choose another with --face N")
                }
            }
            let a = faces[chosen]
            let quality = ReferenceQuality.assess(image: image, faces: faces, chosen: chosen, thresholds: options.thresholds)
            let failing = quality.checks.filter { $0.verdict == .fail }
            if !failing.isEmpty {
                let list = failing.map { "\($0.name) \($0.detail)" }.joined(separator: "; ")
                if options.allowLowQuality {
                    warnings.append("\(ref.fileName): low quality accepted (--allow-low-quality): \(list)")
                } else {
                    throw RegistrationError(kind: .lowQuality, message: "\(ref.fileName): reference refused: \(list) (use better references, or --allow-low-quality)")
                }
            }
            for w in quality.checks where w.verdict == .warn { warnings.append("\(ref.fileName): \(w.name): \(w.detail)") }
            let descriptor = pipeline.recognizer.descriptor(a.chip)
            let attributes = FaceAttributeMeter.measure(chip: a.chip, landmarks: a.landmarks, box: a.detection.rect, image: image)
            let sha = SHA256.hash(data: ref.bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            images[sha] = ref.bytes
            records.append(ReferenceRecord(
                sha256: sha, fileName: ref.fileName, width: image.width, height: image.height,
                face: DetectedFace(box: a.detection.rect, confidence: a.detection.confidence, landmarks: a.landmarks, descriptor: descriptor),
                quality: quality, attributes: attributes, measures: ["cheek_texture": DriftDetector.cheekTexture(chip: a.chip)]))
        }
        let descriptors = records.map(\.face.descriptor), weights = records.map(\.quality.weight)
        let strangers = IdentityFusion.outliers(descriptors, weights: weights, threshold: options.strangerThreshold)
        if !strangers.isEmpty {
            let t = options.strangerThreshold
            let msg: String
            if records.count == 2 {
                msg = "\(records[0].fileName) and \(records[1].fileName) show different people (distance \(formatFixed(strangers[0].distance, 3)), same-person threshold \(formatFixed(t, 3))); nothing was stored"
            } else {
                msg = strangers.map { "\(records[$0.index].fileName) shows a different person from the other references (distance \(formatFixed($0.distance, 3)) to them, threshold \(formatFixed(t, 3)))" }
                    .joined(separator: "; ") + "; nothing was stored"
            }
            throw RegistrationError(kind: .stranger, message: msg)
        }
        let character = CharacterRecord(
            id: id, tenant: options.tenant, name: name, createdAt: now,
            identity: IdentityFusion.fuse(descriptors, weights: weights), references: records,
            attributes: fuseAttributes(records), metadata: CharacterOrigin.photos.metadata)
        return Registration(character: character, images: images, warnings: warnings)
    }

    /// Quality-weighted mean of each attribute's values over the references that measured it, labelled
    /// from the fused values; the region (where it is measured) comes from the best-weighted reference.
    public static func fuseAttributes(_ refs: [ReferenceRecord]) -> FaceAttributes {
        var out = FaceAttributes()
        let names = Set(refs.flatMap { $0.attributes.items.keys })
        for name in names.sorted() {
            let measured = refs.compactMap { r in r.attributes[name].map { (r.quality.weight, $0) } }.filter { !$0.1.values.isEmpty }
            guard let best = measured.max(by: { $0.0 < $1.0 }) else {
                if let any = refs.compactMap({ $0.attributes[name] }).first { out.items[name] = any }
                continue
            }
            let n = best.1.values.count
            let same = measured.filter { $0.1.values.count == n }
            let total = same.reduce(0.0) { $0 + max($1.0, 1e-3) }
            var values = [Double](repeating: 0, count: n)
            for (w, m) in same { for k in 0..<n { values[k] += max(w, 1e-3) * m.values[k] / total } }
            var label = best.1.label
            switch name {
            case "eye_colour" where n >= 3:
                label = FaceAttributeMeter.eyeLabel(CIELab(L: values[0], a: values[1], b: values[2]))
            case "hair_colour" where n >= 3:
                label = FaceAttributeMeter.hairLabel(CIELab(L: values[0], a: values[1], b: values[2]))
            case "skin_tone" where n >= 4:
                // The ITA of the fused colour (a mean of angles is not the angle of the mean).
                values[3] = FaceAttributeMeter.itaDegrees(CIELab(L: values[0], a: values[1], b: values[2]))
                label = FaceAttributeMeter.itaLabel(values[3])
            case "face_width_height_ratio", "eye_spacing_ratio":
                label = formatFixed(values[0], 2)
            default: break
            }
            out.items[name] = AttributeMeasurement(values: values, components: best.1.components, label: label, region: best.1.region)
        }
        return out
    }
}

/// The verdict for one face against a character.
public struct FaceVerdict: Sendable, Codable, Equatable {
    public var face: Int
    public var box: Rect
    public var distance: Double
    public var cosineSimilarity: Double
    public var closestReference: String
    public var closestReferenceDistance: Double
    public var threshold: Double
    public var pass: Bool
}

public enum IdentityVerifier {
    /// Compares every face with the character's fused identity and with each reference.
    public static func verdicts(faces: [DetectedFace], character: CharacterRecord, threshold: Double) -> [FaceVerdict] {
        faces.enumerated().map { i, f in
            let d = f.descriptor.distance(to: character.identity)
            let closest = character.references.map { ($0.fileName, f.descriptor.distance(to: $0.face.descriptor)) }.min { $0.1 < $1.1 }
            return FaceVerdict(face: i, box: f.box, distance: d, cosineSimilarity: f.descriptor.cosineSimilarity(to: character.identity),
                               closestReference: closest?.0 ?? "", closestReferenceDistance: closest?.1 ?? .nan,
                               threshold: threshold, pass: d < threshold)
        }
    }
}
