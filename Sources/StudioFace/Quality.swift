#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit

/// The limits `ReferenceQuality.assess` applies. Defaults follow the usual advice for identity
/// references (IP-Adapter FaceID, InstantID, PhotoMaker: one person, a clear, sharp, evenly lit,
/// frontal face, shortest side at least 512 px); the sharpness limits were calibrated on the
/// test photos (see `ReferenceQuality`).
public struct QualityThresholds: Sendable, Equatable, Codable {
    /// Shortest image side (px): pass at or above `resolutionPass`, fail below `resolutionFail`.
    public var resolutionPass: Int = 512
    public var resolutionFail: Int = 256
    /// Face box height over image height: warn below `faceSizeWarn`, fail below `faceSizeFail`,
    /// warn above `faceSizeMax` (the face fills the frame: likely cropped).
    public var faceSizeWarn: Double = 0.15
    public var faceSizeFail: Double = 0.07
    public var faceSizeMax: Double = 0.95
    /// Warn when more than this fraction of the detection box lies outside the image (face cut off).
    public var faceOutsideWarn: Double = 0.10
    /// Variance of the Laplacian on the grey chip's face centre: fail below `sharpnessFail`,
    /// warn below `sharpnessWarn`.
    public var sharpnessFail: Double = 50
    public var sharpnessWarn: Double = 120
    /// Left/right cheek lightness ratio (min/max of mean L*): warn below `lightingWarn`, fail below
    /// `lightingFail`.
    public var lightingWarn: Double = 0.8
    public var lightingFail: Double = 0.6
    /// Fraction of clipped pixels in the chip's face centre: warn above `exposureWarn`, fail above
    /// `exposureFail`.
    public var exposureWarn: Double = 0.05
    public var exposureFail: Double = 0.25
    /// Estimated |yaw| in degrees: warn above `yawWarn`, fail above `yawFail`.
    public var yawWarn: Double = 20
    public var yawFail: Double = 35
    /// |roll| in degrees: warn above `rollWarn` (alignment removes roll, so no fail).
    public var rollWarn: Double = 15
    /// Weight factors per verdict (see `ReferenceQuality.weight`).
    public var warnFactor: Double = 0.7
    public var failFactor: Double = 0.15
    public var minimumWeight: Double = 0.01

    public init() {}
}

/// Quality checks of a reference image for one chosen face.
///
/// `assess` returns these checks (each a `QualityCheck` with value, threshold, rule and verdict):
/// - `resolution`: shortest image side in px, `>= 512` passes, 256...511 warns, below 256 fails.
/// - `face_count`: faces detected, `== 1` passes; several warn (the detail names the face used).
/// - `face_size`: detection box height / image height; below 0.15 warns, below 0.07 fails, above
///   0.95 warns (cropped), and more than 10% of the box outside the image warns (face cut off).
/// - `sharpness`: variance of the Laplacian (3x3 kernel `[0 1 0; 1 -4 1; 0 1 0]`, as OpenCV's
///   `Laplacian(ksize=1)`) of the BT.601 grey chip over `ChipGeometry.faceCentre` (columns 37...110,
///   rows 36...111: brows, eyes, nose, mouth); grey levels 0-255. Below 50 fails, below 120 warns.
///   Measured on the chip, so it rates detail at the face's own scale: an upscaled small face and a
///   blurred large one both score low.
/// - `lighting`: evenness, min/max of the mean CIELAB L* of the two cheek regions
///   (`ChipGeometry.leftCheek`/`rightCheek`); below 0.8 warns, below 0.6 fails.
/// - `exposure`: fraction of clipped pixels in the face centre (max channel >= 250, or max channel
///   <= 5); above 5% warns, above 25% fails.
/// - `frontality`: |yaw| in degrees estimated from the landmarks (`headPose`); above 20 warns,
///   above 35 fails.
/// - `roll`: |roll| in degrees, the eye line's angle; above 15 warns.
///
/// Sharpness calibration (variance of the Laplacian on the chip; `testMeasuredTable` prints them):
/// obama.jpg 1476, obama_partial_face(2).jpg 1309 / 1493, obama2.jpg 232, 32bit.png 233,
/// obama3.jpg 87, biden.jpg 76; obama.jpg box-blurred with radius 1 / 2 / 3 / 4: 463 / 156 / 72 / 43;
/// biden.jpg blurred radius 1 / 2: 53 / 32; the 150x150 johns crops 33 to 707. The measure depends on
/// content as well as focus (a smiling face with teeth scores far higher than a smooth, softly lit
/// one), so the smooth but unblurred biden.jpg and obama3.jpg warn, while 50 still separates every
/// unblurred photo from a 9x9 box blur of obama.jpg.
public enum ReferenceQuality {
    /// The nose-base depth in front of the eye centres as a fraction of the eye-centre distance,
    /// used by `headPose`: 28.7 / 65.1 = 0.44 in OpenFace's mean 3-D 68-point face (millimetre-like
    /// units; eye centres = midpoints of points 36/39 and 42/45, nose base = point 33).
    public static let noseDepthRatio = 0.44

    /// The index of the face with the largest detection box (ties: the first), or nil when none.
    public static func largestFace(_ faces: [FacePipeline.AlignedFace]) -> Int? {
        faces.indices.max { faces[$0].detection.rect.area < faces[$1].detection.rect.area }
    }

    /// All checks for face `chosen` of `faces` (as `FacePipeline.align` returned them for `image`).
    public static func assess(image: RGBImage, faces: [FacePipeline.AlignedFace], chosen: Int,
                              thresholds t: QualityThresholds = QualityThresholds()) -> QualityReport {
        precondition(faces.indices.contains(chosen), "assess: chosen face \(chosen) of \(faces.count)")
        let face = faces[chosen]
        let box = face.detection.rect
        var checks: [QualityCheck] = []

        // Resolution.
        let side = min(image.width, image.height)
        checks.append(QualityCheck(
            name: "resolution", value: Double(side), threshold: Double(t.resolutionPass), rule: ">=",
            verdict: side >= t.resolutionPass ? .pass : side >= t.resolutionFail ? .warn : .fail,
            detail: "shortest side \(side) px (\(image.width)x\(image.height)); pass >= \(t.resolutionPass) px, fail < \(t.resolutionFail) px"))

        // Face count.
        let largest = largestFace(faces) ?? chosen
        let which = largest == chosen ? "the largest" : "chosen by the caller; the largest is face \(largest)"
        checks.append(QualityCheck(
            name: "face_count", value: Double(faces.count), threshold: 1, rule: "==",
            verdict: faces.count == 1 ? .pass : .warn,
            detail: faces.count == 1 ? "1 face detected"
                : "\(faces.count) faces detected; using face \(chosen) (box \(describe(box)), \(which))"))

        // Face size.
        let size = Double(box.height) / Double(max(image.height, 1))
        let inside = box.intersection(Rect(left: 0, top: 0, right: image.width - 1, bottom: image.height - 1)).area
        let outside = box.area > 0 ? 1 - Double(inside) / Double(box.area) : 0
        var sizeVerdict: QualityCheck.Verdict = size < t.faceSizeFail ? .fail : size < t.faceSizeWarn ? .warn : .pass
        var sizeDetail = "face box height \(box.height) px = \(pct(size)) of image height; pass \(pct(t.faceSizeWarn))...\(pct(t.faceSizeMax)), fail < \(pct(t.faceSizeFail))"
        if size > t.faceSizeMax { sizeVerdict = max(sizeVerdict, .warn); sizeDetail += "; face fills the frame (likely cropped)" }
        if outside > t.faceOutsideWarn {
            sizeVerdict = max(sizeVerdict, .warn)
            sizeDetail += "; \(pct(outside)) of the face box is outside the image (face cut off)"
        }
        checks.append(QualityCheck(name: "face_size", value: size, threshold: t.faceSizeWarn, rule: ">=",
                                   verdict: sizeVerdict, detail: sizeDetail))

        // Sharpness.
        let sharp = sharpness(chip: face.chip)
        checks.append(QualityCheck(
            name: "sharpness", value: sharp, threshold: t.sharpnessWarn, rule: ">=",
            verdict: sharp < t.sharpnessFail ? .fail : sharp < t.sharpnessWarn ? .warn : .pass,
            detail: "variance of the Laplacian [0 1 0;1 -4 1;0 1 0] of the grey chip, columns 37...110, rows 36...111: " +
                "\(fixed(sharp, 1)) grey levels²; pass >= \(limit(t.sharpnessWarn)), fail < \(limit(t.sharpnessFail))"))

        // Lighting evenness.
        let light = cheekLightness(chip: face.chip)
        let ratio = max(light.left, light.right) > 0 ? min(light.left, light.right) / max(light.left, light.right) : 0
        checks.append(QualityCheck(
            name: "lighting", value: ratio, threshold: t.lightingWarn, rule: ">=",
            verdict: ratio < t.lightingFail ? .fail : ratio < t.lightingWarn ? .warn : .pass,
            detail: "mean L* image-left cheek \(fixed(light.left, 1)), image-right cheek \(fixed(light.right, 1)) " +
                "(chip columns 38...55 / 92...109, rows 58...77): ratio \(fixed(ratio, 2)); pass >= \(t.lightingWarn), fail < \(t.lightingFail)"))

        // Exposure.
        let clip = clippedFraction(chip: face.chip)
        checks.append(QualityCheck(
            name: "exposure", value: clip.total, threshold: t.exposureWarn, rule: "<=",
            verdict: clip.total > t.exposureFail ? .fail : clip.total > t.exposureWarn ? .warn : .pass,
            detail: "clipped pixels in the chip's face centre: \(pct(clip.over)) highlights (max channel >= 250), " +
                "\(pct(clip.under)) shadows (max channel <= 5); pass <= \(pct(t.exposureWarn)), fail > \(pct(t.exposureFail))"))

        // Pose.
        let pose = headPose(landmarks: face.landmarks)
        let yaw = abs(pose.yaw)
        checks.append(QualityCheck(
            name: "frontality", value: yaw, threshold: t.yawWarn, rule: "<=",
            verdict: yaw > t.yawFail ? .fail : yaw > t.yawWarn ? .warn : .pass,
            detail: "estimated yaw \(fixed(pose.yaw, 1))° (nose base \(fixed(pose.noseOffset, 3)) eye distances from the eye midpoint; " +
                "positive: nose towards the image right); pass <= \(limit(t.yawWarn))°, fail > \(limit(t.yawFail))°"))
        let roll = abs(pose.roll)
        checks.append(QualityCheck(
            name: "roll", value: roll, threshold: t.rollWarn, rule: "<=",
            verdict: roll > t.rollWarn ? .warn : .pass,
            detail: "eye line at \(fixed(pose.roll, 1))° (positive: clockwise in the image); pass <= \(limit(t.rollWarn))° (alignment removes roll)"))

        return QualityReport(checks: checks, weight: weight(checks, thresholds: t))
    }

    /// The reference's weight for fusion: the product over the checks of 1 (pass), 0.7 (warn) or
    /// 0.15 (fail), at least 0.01. All-pass gives 1; one warning 0.7; two 0.49; one failure 0.15.
    public static func weight(_ checks: [QualityCheck], thresholds t: QualityThresholds = QualityThresholds()) -> Double {
        var w = 1.0
        for c in checks {
            switch c.verdict {
            case .pass: break
            case .warn: w *= t.warnFactor
            case .fail: w *= t.failFactor
            }
        }
        return min(1, max(t.minimumWeight, w))
    }

    // MARK: Measures

    /// Variance of the Laplacian of the BT.601 grey chip over `ChipGeometry.faceCentre`.
    public static func sharpness(chip: RGBImage) -> Double {
        laplacianVariance(ColorSpace.lumaPlane(chip), width: chip.width, height: chip.height, region: ChipGeometry.faceCentre)
    }

    /// Population variance of the 3x3 Laplacian `[0 1 0; 1 -4 1; 0 1 0]` of a plane, over the pixels of
    /// `region` whose four neighbours lie in the plane (the region is clipped to the plane's interior).
    /// A flat plane gives 0; a one-pixel 0/255 checkerboard gives 1020² = 1,040,400.
    public static func laplacianVariance(_ plane: [Double], width: Int, height: Int, region: Rect) -> Double {
        precondition(plane.count == width * height, "laplacianVariance: plane size")
        let r = region.intersection(Rect(left: 1, top: 1, right: width - 2, bottom: height - 2))
        guard !r.isEmpty else { return 0 }
        var sum = 0.0, sum2 = 0.0
        plane.withUnsafeBufferPointer { p in
            for y in r.top...r.bottom {
                for x in r.left...r.right {
                    let i = y * width + x
                    let v = p[i - width] + p[i + width] + p[i - 1] + p[i + 1] - 4 * p[i]
                    sum += v; sum2 += v * v
                }
            }
        }
        let n = Double(r.area), mean = sum / n
        return max(0, sum2 / n - mean * mean)
    }

    /// Mean CIELAB L* of the image-left (`ChipGeometry.leftCheek`) and image-right
    /// (`ChipGeometry.rightCheek`) cheek regions of a chip.
    public static func cheekLightness(chip: RGBImage) -> (left: Double, right: Double) {
        func meanL(_ r: Rect) -> Double {
            let v = ChipGeometry.labs(chip, r)
            return v.isEmpty ? 0 : v.reduce(0) { $0 + $1.L } / Double(v.count)
        }
        return (meanL(ChipGeometry.leftCheek), meanL(ChipGeometry.rightCheek))
    }

    /// Fractions of the chip's face-centre pixels clipped high (max channel >= 250) and low (max
    /// channel <= 5), and their sum.
    public static func clippedFraction(chip: RGBImage) -> (over: Double, under: Double, total: Double) {
        let r = ChipGeometry.faceCentre.intersection(Rect(left: 0, top: 0, right: chip.width - 1, bottom: chip.height - 1))
        guard !r.isEmpty else { return (0, 0, 0) }
        var over = 0, under = 0
        for y in r.top...r.bottom {
            for x in r.left...r.right {
                let i = (y * chip.width + x) * 3
                let m = max(chip.pixels[i], chip.pixels[i + 1], chip.pixels[i + 2])
                if m >= 250 { over += 1 } else if m <= 5 { under += 1 }
            }
        }
        let n = Double(r.area)
        return (Double(over) / n, Double(under) / n, Double(over + under) / n)
    }

    /// Head yaw and roll from the 5 landmarks (source-image coordinates, dlib's order).
    ///
    /// Eye centres are the midpoints of each eye's two corners; `e` runs from the image-left eye centre
    /// to the image-right one and `m` is their midpoint. Roll = atan2(e.y, e.x) in degrees (positive:
    /// clockwise in the image, the image-right eye lower). The nose base's offset along the eye line,
    /// `r = ((nose - m) · e) / |e|²`, is in eye distances and independent of roll and scale.
    ///
    /// Yaw approximation: treat the eye centres and the nose base as rigid points under weak
    /// perspective, the nose base a depth `D` in front of the eye-centre plane. Turning the head by
    /// yaw θ moves the nose base sideways by `D sin θ` while the eye distance shrinks to `w cos θ`,
    /// so `r = (D / w) tan θ` and θ = atan(r / (D / w)) with D / w = `noseDepthRatio` = 0.44 (OpenFace's
    /// mean 3-D face: eye centres 65.1 units apart, subnasale 28.7 units in front of them). Positive
    /// yaw: nose towards the image right. A rough estimate (landmark noise of 1 px on a 60 px eye
    /// distance is ≈ 3°), fit for telling frontal from three-quarter and profile views.
    public static func headPose(landmarks p: [Point]) -> (yaw: Double, roll: Double, noseOffset: Double) {
        guard p.count == 5 else { return (0, 0, 0) }
        let rx = (p[0].x + p[1].x) / 2, ry = (p[0].y + p[1].y) / 2
        let lx = (p[2].x + p[3].x) / 2, ly = (p[2].y + p[3].y) / 2
        let ex = rx - lx, ey = ry - ly
        let e2 = ex * ex + ey * ey
        guard e2 > 0 else { return (0, 0, 0) }
        let mx = (rx + lx) / 2, my = (ry + ly) / 2
        let r = ((p[4].x - mx) * ex + (p[4].y - my) * ey) / e2
        let yaw = atan(r / noseDepthRatio) * 180 / Double.pi
        let roll = atan2(ey, ex) * 180 / Double.pi
        return (yaw, roll, r)
    }

    static func describe(_ r: Rect) -> String { "[\(r.left),\(r.top),\(r.right),\(r.bottom)]" }
    static func pct(_ v: Double) -> String { QAFormat.fixed(v * 100, 1) + "%" }
    static func fixed(_ v: Double, _ digits: Int) -> String { QAFormat.fixed(v, digits) }
    /// A limit without decimals when whole (120), else with one or two (3.5, 2.25).
    static func limit(_ v: Double) -> String {
        v == v.rounded() ? fixed(v, 0) : (v * 10 == (v * 10).rounded() ? fixed(v, 1) : fixed(v, 2))
    }
}

/// Fixed-point number formatting without Foundation (`StudioKit.formatFixed`).
enum QAFormat {
    static func fixed(_ v: Double, _ digits: Int) -> String { formatFixed(v, digits) }
}
