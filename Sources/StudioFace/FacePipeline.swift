#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit
import StudioImage

/// The identity pipeline: detect (MMOD) -> 5 landmarks -> 150x150 chip -> 128-D descriptor.
///
/// Reproduces face_recognition's `face_encodings(img, face_locations(img, model="cnn"))` on dlib's
/// models, numerically: see `Tests/StudioFaceTests/ParityTests.swift` for the measured agreement.
public struct FacePipeline: Sendable {
    public let detector: MMODDetector
    public let landmarks: ShapePredictor
    public let recognizer: FaceRecognizer

    public init(detector: MMODDetector, landmarks: ShapePredictor, recognizer: FaceRecognizer) {
        self.detector = detector; self.landmarks = landmarks; self.recognizer = recognizer
    }

    /// Loads the three models from a directory (normally `StudioPaths.models`).
    public init(modelsDirectory dir: String) throws {
        self.init(detector: try MMODDetector(contentsOf: dir + "/" + ModelCatalog.detector.file),
                  landmarks: try ShapePredictor(contentsOf: dir + "/" + ModelCatalog.landmarks5.file),
                  recognizer: try FaceRecognizer(contentsOf: dir + "/" + ModelCatalog.recognizer.file))
    }

    /// One face's landmarks and aligned chip, before the descriptor network.
    public struct AlignedFace: Sendable {
        public var detection: MMODDetection
        public var landmarks: [Point]
        public var chip: RGBImage

        public init(detection: MMODDetection, landmarks: [Point], chip: RGBImage) {
            self.detection = detection; self.landmarks = landmarks; self.chip = chip
        }
    }

    /// Detects faces and aligns each one.
    ///
    /// Detection runs where `detectionPlan(for:upsample:detectionMaxSide:)` says: on the photo, or
    /// on a smaller copy whose boxes are scaled back (landmarks, chips and descriptors always use
    /// the full-resolution image).
    /// - Parameter detectionMaxSide: when set and the image is larger, detection runs on a copy
    ///   scaled so its longest side is this many pixels. Much faster on large photos of large
    ///   faces (references); boxes then differ from dlib's full-resolution ones by a few pixels.
    public func align(_ image: RGBImage, upsample: Int = 1, detectionMaxSide: Int? = nil) -> [AlignedFace] {
        let plan = detectionPlan(for: image, upsample: upsample, detectionMaxSide: detectionMaxSide)
        let detections = detect(image, plan: plan)
        return detections.map { det in
            let pts = landmarks.predict(image, in: det.rect)
            return AlignedFace(detection: det, landmarks: pts, chip: FaceChip.extract(image, FaceChip.details(landmarks: pts)))
        }
    }

    /// Where `align` runs detection for this image (see `DetectionPlan`).
    public func detectionPlan(for image: RGBImage, upsample: Int, detectionMaxSide: Int? = nil) -> DetectionPlan {
        Self.detectionPlan(width: image.width, height: image.height, upsample: upsample, maxSide: detectionMaxSide)
    }

    /// The detector on the plan's copy, boxes mapped back to `image`'s coordinates.
    func detect(_ image: RGBImage, plan: DetectionPlan) -> [MMODDetection] {
        if plan.limit == .none { return detector.detect(image, upsample: plan.upsample) }
        let small = image.resizedBilinear(width: plan.width, height: plan.height)
        let sx = Double(image.width) / Double(small.width), sy = Double(image.height) / Double(small.height)
        return detector.detect(small, upsample: plan.upsample).map { d in
            MMODDetection(rect: Rect(left: Int((Double(d.rect.left) * sx).rounded()), top: Int((Double(d.rect.top) * sy).rounded()),
                                     right: Int((Double(d.rect.right + 1) * sx).rounded()) - 1,
                                     bottom: Int((Double(d.rect.bottom + 1) * sy).rounded()) - 1),
                          confidence: d.confidence)
        }
    }

    /// Every face in the image with box, confidence, landmarks and descriptor.
    ///
    /// - Parameters:
    ///   - upsample: times the image is doubled before detection (finds smaller faces; costs ~4x each).
    ///   - jitter: if > 0, the descriptor is the mean over this many randomly perturbed copies of the
    ///     chip (dlib's `jitter_image` ranges; seeded, so repeatable, but not dlib's random stream).
    public func faces(in image: RGBImage, upsample: Int = 1, jitter: Int = 0, seed: UInt64 = 0,
                      detectionMaxSide: Int? = nil) -> [DetectedFace] {
        let aligned = align(image, upsample: upsample, detectionMaxSide: detectionMaxSide)
        // Plain descriptors in one batch; with jitter each face's descriptor is the jittered mean instead.
        let descriptors = jitter > 0
            ? aligned.enumerated().map { i, a in recognizer.jitteredDescriptor(a.chip, count: jitter, seed: seed &+ UInt64(i)) }
            : recognizer.descriptors(aligned.map(\.chip))
        return aligned.enumerated().map { i, a in
            let d = descriptors[i]
            return DetectedFace(box: a.detection.rect, confidence: a.detection.confidence, landmarks: a.landmarks, descriptor: d)
        }
    }
}

extension FaceRecognizer {
    /// Mean descriptor over `count` jittered copies of a chip (rotation ±3°, object height 97-100%
    /// of the chip, translation ±2%, mirrored half the time), as dlib's `jitter_image` describes.
    public func jitteredDescriptor(_ chip: RGBImage, count: Int, seed: UInt64) -> FaceDescriptor {
        var rng = SplitMix64(seed: seed)
        var copies: [RGBImage] = []
        for _ in 0..<count { copies.append(Jitter.apply(chip, &rng)) }
        var sum = [Double](repeating: 0, count: 128)
        // Batches of 16 keep memory bounded for large counts.
        var start = 0
        while start < copies.count {
            let batch = Array(copies[start..<min(copies.count, start + 16)])
            for d in descriptors(batch) { for k in 0..<d.values.count { sum[k] += Double(d.values[k]) } }
            start += 16
        }
        return FaceDescriptor(sum.map { Float($0 / Double(count)) })
    }
}

enum Jitter {
    static func apply(_ img: RGBImage, _ rng: inout SplitMix64) -> RGBImage {
        let size = img.width
        // shrink_rect(get_rect(img), 3)
        let l = 3, t = 3, r = size - 1 - 3, b = img.height - 1 - 3
        let rw = Double(r - l + 1), rh = Double(b - t + 1)
        let dx = Double.random(in: -0.02...0.02, using: &rng) * rw
        let dy = Double.random(in: -0.02...0.02, using: &rng) * rh
        let scale = Double.random(in: 0.97...0.99999, using: &rng)
        let box = Int(rh / scale)
        let cx = Double(l + r) / 2 + dx.rounded(), cy = Double(t + b) / 2 + dy.rounded()
        let left = Int(cx) - box / 2, top = Int(cy) - box / 2
        let angle = Double.random(in: -3...3, using: &rng) * Double.pi / 180
        let d = ChipDetails(left: Double(left), top: Double(top), right: Double(left + box - 1), bottom: Double(top + box - 1),
                            angle: angle, rows: img.height, cols: size)
        var crop = FaceChip.extract(img, d)
        if Double.random(in: 0..<1, using: &rng) > 0.5 { crop = crop.mirrored() }
        return crop
    }
}

extension RGBImage {
    /// Left-right mirror image.
    func mirrored() -> RGBImage {
        var out = self
        for y in 0..<height { for x in 0..<width { for c in 0..<3 {
            out.pixels[(y * width + x) * 3 + c] = pixels[(y * width + width - 1 - x) * 3 + c]
        }}}
        return out
    }
}
