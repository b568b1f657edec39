#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit
import StudioImage
import StudioFace

/// What the local generator's prompt vocabulary can steer, measured on one rendered face.
///
/// Faces are measured in the generated-domain convention (`GeneratedCalibration`): the 64x64
/// output upscaled bilinearly to `renderSize` (256) px, MMOD at upsample 0, the largest face, its
/// 5 landmarks and its 150x150 chip. Each measure is a plain number so that directions in latent
/// space can be fitted to it (`LatentDirections`). Left and right are always **image** left and
/// right (the viewer's), never the subject's own.
///
/// | key | unit | definition |
/// |---|---|---|
/// | `yaw` | degrees | `ReferenceQuality.headPose(landmarks:)`: positive = nose towards the image right |
/// | `brightness` | L* | mean CIELAB L* of the chip's face centre (`ChipGeometry.faceCentre`: brows to below the mouth, eye corner to eye corner) |
/// | `light_side` | L* | image-left cheek mean L* minus image-right cheek mean L* (`ReferenceQuality.cheekLightness`); positive = lit from the image left |
/// | `warmth` | b* | mean CIELAB b* (blue − / yellow +) over the whole rendered image |
/// | `framing` | fraction | face scale from the landmarks: side of the aligned chip's square in the image (`FaceChip.details`, the similarity fit of all 5 landmarks to dlib's template, 0.25 padding included) / image height; larger = closer, tighter framing |
/// | `box_height` | fraction | MMOD box height / image height; measured, not steered (see below) |
/// | `roll` | degrees | eye-line angle (`headPose`), positive = clockwise; measured, not steered |
/// | `face_x` | fraction | face box centre's x / image width, 0.5 = centred; measured, not steered |
/// | `chroma` | C*ab | mean CIELAB chroma of the face centre (colourfulness of the skin); measured, not steered |
///
/// `framing` is not the detection box's height: MMOD's boxes come from a fixed 80 px window over an
/// image pyramid that shrinks by 5/6 a level, so their sizes are quantised to ~20% steps (at 256 px
/// most generated faces get one of two or three heights) and cannot follow a gradual zoom. The
/// landmark-fitted scale is continuous. Landmarks are integer-valued, so it carries ~1% noise.
///
/// `warmth` uses b* because the yellow–blue axis is the one along which colour temperature moves
/// (the Planckian locus runs close to the b* axis), so "warmer" and "cooler" are its two ends; it is
/// taken over the whole image because a warm or cool cast is a property of the picture (light and
/// background), not of the skin alone. `brightness` is taken on the face, so it mixes the light
/// with the skin tone: this generator does not separate the two.
public enum GeneratedMeasures {
    /// Side of the square the 64 px output is upscaled to before detection.
    public static let renderSize = 256

    /// Every key `measure` returns, in a fixed order.
    public static let keys = ["yaw", "brightness", "light_side", "warmth", "framing", "roll", "face_x", "chroma", "box_height"]

    /// Units of the keys.
    public static let units: [String: String] = [
        "yaw": "degrees", "brightness": "L*", "light_side": "L*", "warmth": "b*", "framing": "fraction of image height",
        "box_height": "fraction of image height",
        "roll": "degrees", "face_x": "fraction of image width", "chroma": "C*ab",
    ]

    /// Measures one face of a rendered image.
    ///
    /// - Parameters:
    ///   - image: the rendered image (normally the 64 px output upscaled to 256 px).
    ///   - box: the face's detection box in `image`'s coordinates.
    ///   - landmarks: its 5 landmarks (dlib's order) in `image`'s coordinates (exactly 5: a precondition).
    ///   - chip: its 150x150 aligned chip.
    public static func measure(image: RGBImage, box: Rect, landmarks: [Point], chip: RGBImage) -> [String: Double] {
        precondition(landmarks.count == 5, "GeneratedMeasures.measure: \(landmarks.count) landmarks, expected dlib's 5")
        let pose = ReferenceQuality.headPose(landmarks: landmarks)
        let chipRect = FaceChip.details(landmarks: landmarks)
        let cheeks = ReferenceQuality.cheekLightness(chip: chip)
        let centre = meanLab(chip, ChipGeometry.faceCentre)
        let whole = meanLab(image, Rect(left: 0, top: 0, right: image.width - 1, bottom: image.height - 1))
        let h = Double(max(image.height, 1)), w = Double(max(image.width, 1))
        return [
            "yaw": pose.yaw,
            "brightness": centre.L,
            "light_side": cheeks.left - cheeks.right,
            "warmth": whole.b,
            "framing": (chipRect.right - chipRect.left + 1) / h,
            "box_height": Double(box.height) / h,
            "roll": pose.roll,
            "face_x": (Double(box.left + box.right) / 2 + 0.5) / w,
            "chroma": centre.chroma,
        ]
    }

    /// A face found in a rendered generator output, without its identity descriptor.
    public struct Measured: Sendable {
        /// The rendered image the face was found in (`renderSize` px).
        public var render: RGBImage
        public var face: FacePipeline.AlignedFace
        public var measures: [String: Double]
    }

    /// Renders a 64 px generator output at `renderSize` px, detects faces (upsample 0), takes the
    /// largest, aligns and measures it. Nil when no face is detected (about 5% of seeds).
    /// Computes no descriptor (the discovery run does not need one).
    public static func measured(image64: RGBImage, pipeline: FacePipeline) -> Measured? {
        let big = image64.resizedBilinear(width: renderSize, height: renderSize)
        let faces = pipeline.align(big, upsample: 0)
        guard let i = ReferenceQuality.largestFace(faces) else { return nil }
        let f = faces[i]
        return Measured(render: big, face: f,
                        measures: measure(image: big, box: f.detection.rect, landmarks: f.landmarks, chip: f.chip))
    }

    /// As `measured`, with the face's descriptor: render → detect (largest face) → align → measure.
    public static func measure(image64: RGBImage, pipeline: FacePipeline)
        -> (face: DetectedFace, chip: RGBImage, measures: [String: Double])? {
        guard let m = measured(image64: image64, pipeline: pipeline) else { return nil }
        let d = pipeline.recognizer.descriptor(m.face.chip)
        let face = DetectedFace(box: m.face.detection.rect, confidence: m.face.detection.confidence,
                                landmarks: m.face.landmarks, descriptor: d)
        return (face, m.face.chip, m.measures)
    }

    /// Mean CIELAB (per component) over the pixels of `region` clipped to the image; zero when empty.
    public static func meanLab(_ image: RGBImage, _ region: Rect) -> CIELab {
        let r = region.intersection(Rect(left: 0, top: 0, right: image.width - 1, bottom: image.height - 1))
        guard !r.isEmpty else { return CIELab(L: 0, a: 0, b: 0) }
        var L = 0.0, a = 0.0, b = 0.0
        for y in r.top...r.bottom {
            for x in r.left...r.right {
                let c = ColorSpace.lab(image, x: x, y: y)
                L += c.L; a += c.a; b += c.b
            }
        }
        let n = Double(r.area)
        return CIELab(L: L / n, a: a / n, b: b / n)
    }
}
