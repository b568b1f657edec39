#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit

/// Fixed places in the frame of the aligned 150x150 face chip
/// (`FaceChip.details(landmarks:, size: 150, padding: 0.25)`).
///
/// Alignment maps dlib's 5-point mean face (`FaceChip.meanFace5`) onto the landmarks, so in every
/// chip the landmarks land near `u = (padding + t) / (1 + 2 padding) * 150 = (0.25 + t) * 100`
/// (t: template coordinate). With dlib's inclusive-edge chip rectangle, chip pixel index
/// `c = 74.5 + (u - 75) * 149 s / (150 s - 1)` (s: source pixels per chip pixel), which is `u - 0.5`
/// to within 0.2 px for every s >= 1; this type uses `u - 0.5`. Positions are pixel indices
/// (column x, row y, 0-based, top-left origin) of the chip; the chip frame extends beyond the
/// chip (negative rows are above it) through the same transform.
///
/// The template gives (pixel indices): image-right eye corners (110.46, 45.85) outer and
/// (89.11, 47.40) inner; image-left eye (36.56, 45.87) outer and (57.91, 47.41) inner; nose base
/// (73.51, 87.28). The face midline (eye midpoint and nose base) is column 73.5, so left/right
/// region pairs here are mirror images about column 73.5 (`x -> 147 - x`). The eye centres are
/// 52.5 px apart, ≈ 63 mm on an adult face, so 1 chip px ≈ 1.2 mm.
public enum ChipGeometry {
    /// Chip side in pixels.
    public static let size = 150
    /// Padding used for the chip (fraction of the template width on each side).
    public static let padding = 0.25

    /// Template landmark `i` (dlib's order) as a chip pixel position.
    public static func templatePoint(_ i: Int) -> Point {
        let t = FaceChip.meanFace5[i]
        let scale = Double(size) / (1 + 2 * padding)
        return Point(x: (padding + t.0) * scale - 0.5, y: (padding + t.1) * scale - 0.5)
    }

    /// Centre of the image-right eye: midpoint of template landmarks 0 and 1, ≈ (99.78, 46.62).
    public static var rightEyeCentre: Point { mid(templatePoint(0), templatePoint(1)) }
    /// Centre of the image-left eye: midpoint of template landmarks 2 and 3, ≈ (47.23, 46.64).
    public static var leftEyeCentre: Point { mid(templatePoint(2), templatePoint(3)) }

    /// The eye centres (midpoints of each eye's two corner landmarks) of an actual face, mapped into
    /// its chip. They differ from the template's by up to ≈ 3 px on turned faces.
    public static func eyeCentres(landmarks: [Point], details: ChipDetails) -> (right: Point, left: Point) {
        let p = landmarks.map { chipPoint($0, details: details) }
        return (mid(p[0], p[1]), mid(p[2], p[3]))
    }

    /// Radius of the iris sampling discs in chip pixels: the iris is about 11.7 mm across and one
    /// eye (outer to inner corner) about 30 mm wide, i.e. 21.4 chip pixels, so the iris is ≈ 8.3 px
    /// across; 3.5 px keeps the disc mostly inside it when the lids cover part of it.
    public static let irisRadius = 3.5

    /// Cheek under the image-left eye: columns 38...55, rows 58...77 (below the lower lid at ≈ row 53,
    /// beside the nose, above the nose base at row 87).
    public static let leftCheek = Rect(left: 38, top: 58, right: 55, bottom: 77)
    /// Mirror of `leftCheek` about column 73.5: columns 92...109, rows 58...77.
    public static let rightCheek = Rect(left: 92, top: 58, right: 109, bottom: 77)

    /// The central face region used for sharpness and exposure: columns 37...110 (outer eye corner to
    /// outer eye corner), rows 36...111 (brows to below the mouth).
    public static let faceCentre = Rect(left: 37, top: 36, right: 110, bottom: 111)

    /// Forehead: columns 55...92, rows 8...22 (above the brows at ≈ row 33, below the chip's top).
    public static let forehead = Rect(left: 55, top: 8, right: 92, bottom: 22)

    /// Hair band in the chip frame, above the chip: rows -30...-4, columns 50...97 (≈ 60 to 92 mm
    /// above the eye line, within ±29 mm of the midline, inside the outline of the head).
    public static let hairBand = Rect(left: 50, top: -30, right: 97, bottom: -4)

    /// Rows of the lower-cheek line used for the face width: 98...106 (between the nose base at
    /// row 87 and the mouth corners; below the ear lobes, which at the eye-to-nose rows make the
    /// skin reach the chip's edges).
    public static let cheekLineRows = 98...106
    /// Where the face-width walks start: the outer eye corners' columns, 37 and 110 (on the cheeks,
    /// outside even a wide smile).
    public static let cheekLineStarts = (left: 37, right: 110)

    /// The pixels of a disc: pixel centres within `radius` of `centre`.
    public static func disc(centre: Point, radius: Double) -> [(x: Int, y: Int)] {
        var out: [(x: Int, y: Int)] = []
        let r2 = radius * radius
        for y in Int((centre.y - radius).rounded(.down))...Int((centre.y + radius).rounded(.up)) {
            for x in Int((centre.x - radius).rounded(.down))...Int((centre.x + radius).rounded(.up)) {
                let dx = Double(x) - centre.x, dy = Double(y) - centre.y
                if dx * dx + dy * dy <= r2 { out.append((x, y)) }
            }
        }
        return out
    }

    /// Maps a source-image point into chip pixel coordinates: the exact inverse of the chip's
    /// sampling grid (`FaceChip.extract`: chip pixel (0,0) at the rectangle's top-left corner,
    /// (cols-1, rows-1) at its bottom-right, rotated by `angle` about its centre).
    public static func chipPoint(_ p: Point, details d: ChipDetails) -> Point {
        let (cx, cy) = d.center
        let cs = cos(-d.angle), sn = sin(-d.angle)
        let x = p.x - cx, y = p.y - cy
        let rx = cs * x - sn * y + cx, ry = sn * x + cs * y + cy
        return Point(x: (rx - d.left) * Double(d.cols - 1) / (d.right - d.left),
                     y: (ry - d.top) * Double(d.rows - 1) / (d.bottom - d.top))
    }

    /// Maps a chip-frame point (pixel coordinates, may lie outside the chip) to the source image:
    /// the chip's sampling grid, `chipPoint`'s inverse.
    public static func imagePoint(_ c: Point, details d: ChipDetails) -> Point {
        let rx = d.left + c.x * (d.right - d.left) / Double(d.cols - 1)
        let ry = d.top + c.y * (d.bottom - d.top) / Double(d.rows - 1)
        let (cx, cy) = d.center
        let cs = cos(d.angle), sn = sin(d.angle)
        let x = rx - cx, y = ry - cy
        return Point(x: cs * x - sn * y + cx, y: sn * x + cs * y + cy)
    }

    /// Bilinear sample of an image at a real position; nil outside `[0, w-1] x [0, h-1]`.
    public static func sample(_ image: RGBImage, _ p: Point) -> (UInt8, UInt8, UInt8)? {
        guard p.x.isFinite, p.y.isFinite, p.x >= 0, p.y >= 0,
              p.x <= Double(image.width - 1), p.y <= Double(image.height - 1) else { return nil }
        let x0 = min(Int(p.x), image.width - 1), y0 = min(Int(p.y), image.height - 1)
        let x1 = min(x0 + 1, image.width - 1), y1 = min(y0 + 1, image.height - 1)
        let fx = p.x - Double(x0), fy = p.y - Double(y0)
        func ch(_ c: Int) -> UInt8 {
            let a = Double(image[x0, y0, c]), b = Double(image[x1, y0, c])
            let e = Double(image[x0, y1, c]), f = Double(image[x1, y1, c])
            let v = (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * e + fx * f)
            return UInt8(max(0, min(255, v.rounded())))
        }
        return (ch(0), ch(1), ch(2))
    }

    static func mid(_ a: Point, _ b: Point) -> Point { Point(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2) }

    /// CIELAB of the chip pixels in a rectangle (clipped to the chip), row by row.
    static func labs(_ chip: RGBImage, _ r: Rect) -> [CIELab] {
        let c = r.intersection(Rect(left: 0, top: 0, right: chip.width - 1, bottom: chip.height - 1))
        guard !c.isEmpty else { return [] }
        var out: [CIELab] = []
        out.reserveCapacity(c.area)
        for y in c.top...c.bottom { for x in c.left...c.right { out.append(ColorSpace.lab(chip, x: x, y: y)) } }
        return out
    }
}

/// Measures a face's attributes (eye, skin and hair colour; two geometric ratios) the same way on
/// reference photos and on generated images, so drift can be checked.
///
/// Colours are read at fixed places of the aligned chip's frame (`ChipGeometry`) and reported as
/// CIELAB (`ColorSpace`, D65). Labels are coarse categories for people; the numbers are what drift
/// checks should compare (e.g. ΔE*ab between a reference's and an output's median colour).
public enum FaceAttributeMeter {
    /// Iris-disc pixels with L* below this are pupil, lashes or lid shadow and are skipped.
    public static let irisMinL = 15.0
    /// Iris-disc pixels above this L* are specular highlights or sclera and are skipped.
    public static let irisMaxL = 85.0
    /// Bright, nearly colourless iris-disc pixels (L* > `scleraMinL` and C* < `scleraMaxChroma`)
    /// are sclera and skipped.
    public static let scleraMinL = 60.0
    public static let scleraMaxChroma = 8.0
    /// Iris-disc pixels within this ΔE*ab of the skin colour are eyelid and skipped.
    public static let irisMinSkinDistance = 12.0
    /// Hair pixels must be at least this far from the skin colours (`shadingDistance`).
    public static let hairMinSkinDistance = 10.0
    /// Fewer usable hair pixels than this fraction of the hair band gives "unknown" hair.
    public static let hairMinFraction = 0.25
    /// A lower-cheek-line pixel is skin when its `shadingDistance` to the skin colour is below this.
    public static let skinMaskDistance = 15.0

    /// All five attributes of one face.
    ///
    /// - Parameters:
    ///   - chip: the aligned 150x150 chip (padding 0.25) of the face.
    ///   - landmarks: the 5 landmarks in source-image coordinates (dlib's order).
    ///   - box: the MMOD detection box in source-image coordinates.
    ///   - image: the source image (hair is sampled above the chip, in the chip's frame).
    public static func measure(chip: RGBImage, landmarks: [Point], box: Rect, image: RGBImage) -> FaceAttributes {
        var items: [String: AttributeMeasurement] = [:]
        let skin = skinTone(chip: chip)
        items["skin_tone"] = skin.measurement
        let details = landmarks.count == 5 ? FaceChip.details(landmarks: landmarks) : nil
        let eyes = details.map { d in ChipGeometry.eyeCentres(landmarks: landmarks, details: d) }
        items["eye_colour"] = eyeColour(chip: chip, eyeCentres: eyes.map { [$0.right, $0.left] }, skin: skin.lab)
        items["hair_colour"] = hairColour(image: image, chip: chip, details: details, skin: skin.lab)
        items["face_width_height_ratio"] = faceWidthHeightRatio(chip: chip, skin: skin.lab, landmarks: landmarks, box: box)
        items["eye_spacing_ratio"] = eyeSpacingRatio(landmarks: landmarks)
        return FaceAttributes(items: items)
    }

    // MARK: Eye colour

    /// Iris colour: the per-component median CIELAB of the usable pixels of two chip discs of
    /// radius `ChipGeometry.irisRadius` (3.5 px), one per eye.
    ///
    /// Each disc is placed on the iris: starting from the midpoint of the eye's two corner landmarks
    /// mapped into the chip (`ChipGeometry.eyeCentres`; the template positions (99.78, 46.62) and
    /// (47.23, 46.64) when `eyeCentres` is nil), the centre moves by whole pixels within ±6 px
    /// horizontally and ±2 px vertically to where the disc's mean L* is lowest (iris and pupil are the
    /// darkest part of the eye, so the disc follows the gaze). Skipped within the disc: pupil, lashes
    /// and lid shadow (L* < 15), highlights (L* > 85), sclera (L* > 60 and C* < 8) and eyelid skin
    /// (ΔE*ab < 12 from `skin`). Fewer than 6 usable pixels gives "unknown" with empty values.
    ///
    /// Label rules, on the median (L*, a*, b*), chroma C* and hue h = atan2(b*, a*) in degrees,
    /// first match wins:
    /// 1. `blue`: b* < -2 (a blue cast; brown, hazel and green irises all have b* > 0).
    /// 2. `grey`: C* < 6 and L* >= 35 (light and colourless).
    /// 3. `green`: C* >= 6 and 90 <= h < 270 (a* <= 0 with b* > 0: yellow-green; brown hues are below 90°).
    /// 4. `dark brown`: L* < 35, or C* < 6 (dark, or dark and colourless).
    /// 5. `amber`: h >= 65, C* >= 25 and L* >= 40 (saturated golden yellow).
    /// 6. `hazel`: h >= 70 (yellow-brown leaning to green).
    /// 7. `brown`: otherwise (warm hue below 70°).
    public static func eyeColour(chip: RGBImage, eyeCentres: [Point]? = nil, skin: CIELab? = nil) -> AttributeMeasurement {
        let centres = eyeCentres ?? [ChipGeometry.rightEyeCentre, ChipGeometry.leftEyeCentre]
        let region = "iris discs r=\(ChipGeometry.irisRadius) chip px, one per eye, at the darkest disc position within ±6 px " +
            "horizontally and ±2 px vertically of the eye's corner midpoint (landmarks mapped into the chip; template " +
            "(99.78,46.62) and (47.23,46.64)); skipped: L*<\(irisMinL), L*>\(irisMaxL), L*>\(scleraMinL) with C*<\(scleraMaxChroma), " +
            "ΔE*ab<\(irisMinSkinDistance) from the skin colour; per-component median"
        let comps = ["L*", "a*", "b*"]
        guard chip.width > 0, chip.height > 0 else {
            return AttributeMeasurement(values: [], components: comps, label: "unknown", region: region)
        }
        var samples: [CIELab] = []
        for c in centres {
            for lab in irisDisc(chip: chip, near: c) {
                if lab.L < irisMinL || lab.L > irisMaxL { continue }
                if lab.L > scleraMinL && lab.chroma < scleraMaxChroma { continue }
                if let skin, lab.deltaE(skin) < irisMinSkinDistance { continue }
                samples.append(lab)
            }
        }
        guard samples.count >= 6, let m = ColorSpace.median(samples) else {
            return AttributeMeasurement(values: [], components: comps, label: "unknown", region: region)
        }
        return AttributeMeasurement(values: [m.L, m.a, m.b], components: comps, label: eyeLabel(m), region: region)
    }

    /// The pixels (CIELAB) of the iris disc near an eye centre: the disc position with the lowest mean
    /// L* within ±6 px horizontally and ±2 px vertically (see `eyeColour`).
    public static func irisDisc(chip: RGBImage, near c: Point) -> [CIELab] {
        irisCentre(chip: chip, near: c).labs
    }

    /// The iris disc's centre near an eye centre (the search of `eyeColour`) and its pixels' CIELAB.
    public static func irisCentre(chip: RGBImage, near c: Point) -> (centre: Point, labs: [CIELab]) {
        var best: [CIELab] = [], bestMean = Double.infinity, bestCentre = c
        for dy in -2...2 {
            for dx in -6...6 {
                let centre = Point(x: c.x + Double(dx), y: c.y + Double(dy))
                let labs = ChipGeometry.disc(centre: centre, radius: ChipGeometry.irisRadius)
                    .filter { $0.x >= 0 && $0.y >= 0 && $0.x < chip.width && $0.y < chip.height }
                    .map { ColorSpace.lab(chip, x: $0.x, y: $0.y) }
                guard !labs.isEmpty else { continue }
                let mean = labs.reduce(0) { $0 + $1.L } / Double(labs.count)
                if mean < bestMean { bestMean = mean; best = labs; bestCentre = centre }
            }
        }
        return (bestCentre, best)
    }

    /// The eye-colour category of a median iris colour (rules in `eyeColour`).
    public static func eyeLabel(_ m: CIELab) -> String {
        let c = m.chroma, h = m.hueDegrees
        if m.b < -2 { return "blue" }
        if c < 6 && m.L >= 35 { return "grey" }
        if c >= 6 && h >= 90 && h < 270 { return "green" }
        if m.L < 35 || c < 6 { return "dark brown" }
        if h >= 65 && c >= 25 && m.L >= 40 { return "amber" }
        if h >= 70 { return "hazel" }
        return "brown"
    }

    // MARK: Skin tone

    /// Skin colour: the per-component median CIELAB of both cheek regions (`ChipGeometry.leftCheek`
    /// and `rightCheek`: columns 38...55 and 92...109, rows 58...77), and the Individual Typology
    /// Angle ITA° = atan((L* - 50) / b*) · 180/π (Chardon et al. 1991; b* <= 0 gives ±90°).
    ///
    /// Label: the ITA group (Del Bino et al. 2006), numbered I-VI lightest to darkest:
    /// I very light (ITA > 55°), II light (41°, 55°], III intermediate (28°, 41°], IV tan (10°, 28°],
    /// V brown [-30°, 10°], VI dark (< -30°); e.g. "type II (light, ITA 48°)". The numbering is that of
    /// the ITA groups, not a Fitzpatrick phototype. ITA depends on the photo's lighting and white
    /// balance, so compare it between images of similar lighting.
    public static func skinTone(chip: RGBImage) -> (measurement: AttributeMeasurement, lab: CIELab?) {
        let region = "cheeks: chip columns 38...55 and 92...109 (mirror pair about column 73.5), rows 58...77; " +
            "per-component median of both"
        let samples = ChipGeometry.labs(chip, ChipGeometry.leftCheek) + ChipGeometry.labs(chip, ChipGeometry.rightCheek)
        guard let m = ColorSpace.median(samples) else {
            return (AttributeMeasurement(values: [], components: ["L*", "a*", "b*", "ITA°"], label: "unknown", region: region), nil)
        }
        let ita = itaDegrees(m)
        return (AttributeMeasurement(values: [m.L, m.a, m.b, ita], components: ["L*", "a*", "b*", "ITA°"],
                                     label: itaLabel(ita), region: region), m)
    }

    /// ITA° = atan((L* - 50) / b*) in degrees; for b* <= 0, +90° or -90° by the sign of L* - 50.
    public static func itaDegrees(_ m: CIELab) -> Double {
        if m.b <= 0 { return m.L >= 50 ? 90 : -90 }
        return atan((m.L - 50) / m.b) * 180 / Double.pi
    }

    /// The ITA group label of an ITA angle (see `skinTone`).
    public static func itaLabel(_ ita: Double) -> String {
        let (type, name): (String, String)
        if ita > 55 { (type, name) = ("I", "very light") }
        else if ita > 41 { (type, name) = ("II", "light") }
        else if ita > 28 { (type, name) = ("III", "intermediate") }
        else if ita > 10 { (type, name) = ("IV", "tan") }
        else if ita >= -30 { (type, name) = ("V", "brown") }
        else { (type, name) = ("VI", "dark") }
        return "type \(type) (\(name), ITA \(Int(ita.rounded()))°)"
    }

    // MARK: Hair colour

    /// Hair colour: the per-component median CIELAB of the hair band, `ChipGeometry.hairBand`
    /// (chip-frame rows -30...-4, columns 50...97, i.e. above the chip: ≈ 60 to 92 mm above the eye
    /// line), sampled bilinearly from the source image through the chip's transform.
    ///
    /// Skipped: points outside the image, and skin-like pixels, whose shading-tolerant distance
    /// sqrt((ΔL*/2)² + Δa*² + Δb*²) is below 10 from the cheek colour (`skin`) or from the forehead
    /// colour (median of `ChipGeometry.forehead`, used only when within 20 of the cheek colour by the
    /// same distance, so a fringe of hair is not taken for skin). With fewer than 25% of the band's
    /// points left (bald, a high forehead, the face at the image's top edge, a tight face crop) the
    /// label is "unknown" and values are empty. Background showing inside the band (a small or turned
    /// head) biases the result.
    ///
    /// Why above the chip: with padding 0.25 the chip's top edge is only ≈ 55 mm above the eye line,
    /// below the hairline of most adults (≈ 60-70 mm above the eyes), so its top rows are forehead.
    ///
    /// Label rules on the median, first match wins (C* chroma, h hue angle in degrees):
    /// 1. `black`: L* < 22, or C* < 10 and L* < 38 (dark and colourless).
    /// 2. `grey/white`: C* < 10 and L* >= 38 (colourless: grey, white, salt-and-pepper).
    /// 3. `red/auburn`: C* >= 20 and (h < 55 or h > 345) (a* large against b*: copper to red).
    /// 4. `blond`: L* >= 58 and b* >= 12.
    /// 5. `dark brown`: L* < 33.
    /// 6. `brown`: L* < 45.
    /// 7. `light brown`: otherwise.
    public static func hairColour(image: RGBImage, chip: RGBImage, details: ChipDetails?, skin: CIELab?) -> AttributeMeasurement {
        let band = ChipGeometry.hairBand
        let region = "hair band: chip-frame rows \(band.top)...\(band.bottom) (above the chip), columns \(band.left)...\(band.right), " +
            "sampled from the source image through the chip transform; skipped: points outside the image, pixels within " +
            "sqrt((ΔL*/2)²+Δa*²+Δb*²) < \(hairMinSkinDistance) of the cheek or forehead (chip columns 55...92, rows 8...22) colour; " +
            "per-component median (unknown if < \(Int(hairMinFraction * 100))% usable)"
        let comps = ["L*", "a*", "b*"]
        guard let details else { return AttributeMeasurement(values: [], components: comps, label: "unknown", region: region) }
        var refs: [CIELab] = skin.map { [$0] } ?? []
        if let f = ColorSpace.median(ChipGeometry.labs(chip, ChipGeometry.forehead)) {
            if let s = skin { if shadingDistance(f, s) < 20 { refs.append(f) } } else { refs.append(f) }
        }
        var kept: [CIELab] = []
        for y in band.top...band.bottom {
            for x in band.left...band.right {
                let p = ChipGeometry.imagePoint(Point(x: Double(x), y: Double(y)), details: details)
                guard let rgb = ChipGeometry.sample(image, p) else { continue }
                let lab = ColorSpace.lab(r: rgb.0, g: rgb.1, b: rgb.2)
                if refs.contains(where: { shadingDistance(lab, $0) < hairMinSkinDistance }) { continue }
                kept.append(lab)
            }
        }
        guard Double(kept.count) >= hairMinFraction * Double(band.area), let m = ColorSpace.median(kept) else {
            return AttributeMeasurement(values: [], components: comps, label: "unknown", region: region)
        }
        return AttributeMeasurement(values: [m.L, m.a, m.b], components: comps, label: hairLabel(m), region: region)
    }

    /// A colour distance that tolerates shading: sqrt((ΔL*/2)² + Δa*² + Δb*²).
    public static func shadingDistance(_ p: CIELab, _ q: CIELab) -> Double {
        let dL = (p.L - q.L) / 2, da = p.a - q.a, db = p.b - q.b
        return (dL * dL + da * da + db * db).squareRoot()
    }

    /// The hair-colour category of a median hair colour (rules in `hairColour`).
    public static func hairLabel(_ m: CIELab) -> String {
        let c = m.chroma, h = m.hueDegrees
        if m.L < 22 || (c < 10 && m.L < 38) { return "black" }
        if c < 10 { return "grey/white" }
        if c >= 20 && (h < 55 || h > 345) { return "red/auburn" }
        if m.L >= 58 && m.b >= 12 { return "blond" }
        if m.L < 33 { return "dark brown" }
        if m.L < 45 { return "brown" }
        return "light brown"
    }

    // MARK: Geometry

    /// The face's skin extent on each lower-cheek row of the chip (`ChipGeometry.cheekLineRows`,
    /// 98...106): walk from column 37 leftwards and from column 110 rightwards (the outer eye
    /// corners' columns, on the cheeks) while pixels are skin — `shadingDistance` to the skin colour
    /// below 15 — allowing gaps of up to 2 non-skin pixels; returns the outermost skin columns found
    /// (left, right) per row. A walk that reaches the chip's edge (column 0 or 149) did not find the
    /// face's edge.
    public static func cheekLineExtents(chip: RGBImage, skin: CIELab) -> [(left: Int, right: Int)] {
        var out: [(left: Int, right: Int)] = []
        for y in ChipGeometry.cheekLineRows where y < chip.height {
            func isSkin(_ x: Int) -> Bool { shadingDistance(ColorSpace.lab(chip, x: x, y: y), skin) < skinMaskDistance }
            func walk(from start: Int, step: Int) -> Int {
                var last = start, gap = 0, x = start
                while true {
                    x += step
                    if x < 0 || x >= chip.width { break }
                    if isSkin(x) { last = x; gap = 0 } else { gap += 1; if gap > 2 { break } }
                }
                return last
            }
            out.append((walk(from: ChipGeometry.cheekLineStarts.left, step: -1),
                        walk(from: ChipGeometry.cheekLineStarts.right, step: 1)))
        }
        return out
    }

    /// Face width over face height.
    ///
    /// Width: the median over the lower-cheek rows of `cheekLineExtents` (right - left + 1 chip
    /// pixels), converted to source pixels by the chip scale (source pixels per chip pixel of
    /// `FaceChip.details(landmarks:)`). When most rows' walks reach the chip's edge (background,
    /// neck shadow or hair matching the skin), the width is unknown and so is the ratio (label
    /// "unknown", values empty). A beard shortens the width.
    ///
    /// Height: the 5 landmarks have no chin, so the height is the eye-to-nose height: the distance
    /// from the nose-base landmark to the line through the two eye centres (midpoints of each eye's
    /// corners), in source pixels. The MMOD box height would be the other candidate, but MMOD boxes
    /// come in steps of 6/5 (its pyramid's scales): obama.jpg's box is 237 px high in the original
    /// and 284 px after a 4 px blur, which moves a box-based ratio by 20%. The box-based ratio is
    /// still reported as the 4th value for reference.
    ///
    /// `ratio = skin width at the lower-cheek line / eye-to-nose height`; about 2.5 on adult faces
    /// (≈ 120 mm over ≈ 48 mm). Yaw shortens the width, pitch the height, so compare frontal views.
    /// A repeatable proxy for the face's proportions, not an anthropometric index.
    public static func faceWidthHeightRatio(chip: RGBImage, skin: CIELab?, landmarks: [Point], box: Rect) -> AttributeMeasurement {
        let region = "skin extent (sqrt((ΔL*/2)²+Δa*²+Δb*²) < \(skinMaskDistance) from the cheek colour, gaps <= 2 px) walking out " +
            "from chip columns 37 and 110 on rows 98...106, median row width x chip scale (source px) / distance from the " +
            "nose-base landmark to the eye-centre line (source px); 4th value: width / MMOD box height"
        let comps = ["ratio", "width_px", "eye_nose_px", "width_over_box_height"]
        guard let skin, landmarks.count == 5, chip.width == ChipGeometry.size, chip.height == ChipGeometry.size else {
            return AttributeMeasurement(values: [], components: comps, label: "unknown", region: region)
        }
        let p = landmarks
        let rx = (p[0].x + p[1].x) / 2, ry = (p[0].y + p[1].y) / 2
        let lx = (p[2].x + p[3].x) / 2, ly = (p[2].y + p[3].y) / 2
        let ex = rx - lx, ey = ry - ly, e = (ex * ex + ey * ey).squareRoot()
        let eyeNose = e > 0 ? abs((p[4].x - lx) * ey - (p[4].y - ly) * ex) / e : 0
        guard eyeNose > 0 else {
            return AttributeMeasurement(values: [], components: comps, label: "unknown", region: region)
        }
        let extents = cheekLineExtents(chip: chip, skin: skin)
        let open = extents.filter { $0.left == 0 || $0.right == chip.width - 1 }.count
        guard !extents.isEmpty, open * 2 <= extents.count else {
            return AttributeMeasurement(values: [], components: comps, label: "unknown (face edge not found in the chip)", region: region)
        }
        let widths = extents.map { Double($0.right - $0.left + 1) }.sorted()
        let chipWidth = widths[widths.count / 2]
        let d = FaceChip.details(landmarks: landmarks)
        let scale = (d.right - d.left + 1) / Double(d.cols)
        let width = chipWidth * scale
        let ratio = width / eyeNose
        let boxRatio = box.height > 0 ? width / Double(box.height) : 0
        return AttributeMeasurement(values: [ratio, width, eyeNose, boxRatio], components: comps,
                                    label: QAFormat.fixed(ratio, 2), region: region)
    }

    /// Inner-corner distance over mean eye width: `|p1 - p3| / ((|p0 - p1| + |p2 - p3|) / 2)` with
    /// the landmarks in source-image coordinates (p0/p1 outer/inner corner of the image-right eye,
    /// p2/p3 of the image-left eye). Invariant to scale and roll; about 1.0 to 1.6 on adult faces
    /// (the intercanthal width is close to one eye's width). Yaw shortens the far eye and the
    /// inner distance alike, so it changes the ratio only a little.
    public static func eyeSpacingRatio(landmarks: [Point]) -> AttributeMeasurement {
        let region = "landmarks (source image): |p1-p3| / mean(|p0-p1|, |p2-p3|)"
        guard landmarks.count == 5 else {
            return AttributeMeasurement(values: [], components: ["ratio"], label: "unknown", region: region)
        }
        func dist(_ a: Point, _ b: Point) -> Double { ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot() }
        let inner = dist(landmarks[1], landmarks[3])
        let eyeWidth = (dist(landmarks[0], landmarks[1]) + dist(landmarks[2], landmarks[3])) / 2
        guard eyeWidth > 0 else {
            return AttributeMeasurement(values: [], components: ["ratio"], label: "unknown", region: region)
        }
        let r = inner / eyeWidth
        return AttributeMeasurement(values: [r], components: ["ratio"], label: QAFormat.fixed(r, 2), region: region)
    }
}
