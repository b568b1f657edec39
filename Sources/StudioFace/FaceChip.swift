#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CStudioKernels
import StudioKit

/// A least-squares similarity transform `p -> M p + t` (rotation, uniform scale, translation).
struct SimilarityTransform: Sendable, Equatable {
    var m00, m01, m10, m11, tx, ty: Double

    func apply(_ x: Double, _ y: Double) -> (Double, Double) { (m00 * x + m01 * y + tx, m10 * x + m11 * y + ty) }

    /// Umeyama's estimate in closed form for 2-D (equal to dlib's SVD route, including the
    /// reflection correction, which for 2-D always yields the best proper rotation).
    static func fit(from: [(Double, Double)], to: [(Double, Double)]) -> SimilarityTransform {
        precondition(from.count == to.count && from.count >= 2, "similarity fit needs 2+ point pairs")
        let n = Double(from.count)
        var mfx = 0.0, mfy = 0.0, mtx = 0.0, mty = 0.0
        for i in from.indices { mfx += from[i].0; mfy += from[i].1; mtx += to[i].0; mty += to[i].1 }
        mfx /= n; mfy /= n; mtx /= n; mty /= n
        var sigma = 0.0, p = 0.0, q = 0.0, r = 0.0, s = 0.0
        for i in from.indices {
            let fx = from[i].0 - mfx, fy = from[i].1 - mfy, tx = to[i].0 - mtx, ty = to[i].1 - mty
            sigma += fx * fx + fy * fy
            p += tx * fx; q += tx * fy; r += ty * fx; s += ty * fy
        }
        sigma /= n; p /= n; q /= n; r /= n; s /= n
        let a = p + s, b = r - q, norm = (a * a + b * b).squareRoot()
        let c = sigma != 0 ? norm / sigma : 1
        let (cs, sn) = norm > 0 ? (a / norm, b / norm) : (1.0, 0.0)
        let m00 = c * cs, m01 = -c * sn, m10 = c * sn, m11 = c * cs
        return SimilarityTransform(m00: m00, m01: m01, m10: m10, m11: m11,
                                   tx: mtx - (m00 * mfx + m01 * mfy), ty: mty - (m10 * mfx + m11 * mfy))
    }
}

/// Where a face chip comes from: a rotated rectangle in the source image (dlib's `chip_details`).
public struct ChipDetails: Sendable, Equatable {
    /// The extraction rectangle (real-valued, inclusive edges) before rotation about its centre.
    public var left: Double, top: Double, right: Double, bottom: Double
    /// Rotation in radians.
    public var angle: Double
    public var rows: Int, cols: Int

    var width: Double { left > right || top > bottom ? 0 : right - left + 1 }
    var height: Double { left > right || top > bottom ? 0 : bottom - top + 1 }
    var area: Double { width * height }
    var center: (Double, Double) { ((left + right) / 2, (top + bottom) / 2) }
}

/// Face alignment: the chip geometry and its extraction, as dlib's `get_face_chip_details` and
/// `extract_image_chip` with bilinear interpolation (including the pyramid_down<2> pre-reduction
/// dlib applies when the chip is much smaller than the face).
public enum FaceChip {
    /// dlib's 5-point mean face (the template `get_face_chip_details` maps landmarks onto), in
    /// unit coordinates of an unpadded chip; order as the 5-point predictor's parts.
    static let meanFace5: [(Double, Double)] = [
        (0.8595674595992, 0.2134981538014), (0.6460604764104, 0.2289674387677),
        (0.1205750620789, 0.2137274526848), (0.3340850613712, 0.2290642403242),
        (0.4901123135679, 0.6277975316475),
    ]

    /// The chip for a 5-point landmark set: `size` x `size` pixels with `padding` (fraction of the
    /// face width) around the template. face_recognition uses size 150, padding 0.25.
    public static func details(landmarks: [Point], size: Int = 150, padding: Double = 0.25) -> ChipDetails {
        precondition(landmarks.count == 5, "face chips need the 5-point landmarks")
        let from = meanFace5.map { ((padding + $0.0) / (2 * padding + 1) * Double(size),
                                    (padding + $0.1) / (2 * padding + 1) * Double(size)) }
        let to = landmarks.map { ($0.x, $0.y) }
        let t = SimilarityTransform.fit(from: from, to: to)
        let angle = atan2(t.m10, t.m00)
        let scale = (t.m00 * t.m00 + t.m10 * t.m10).squareRoot()
        let (cx, cy) = t.apply(Double(size) / 2, Double(size) / 2)
        // centered_drect: width and height shrink by one before halving (inclusive edges).
        let w = Double(size) * scale - 1, h = Double(size) * scale - 1
        return ChipDetails(left: cx - w / 2, top: cy - h / 2, right: cx + w / 2, bottom: cy + h / 2,
                           angle: angle, rows: size, cols: size)
    }

    /// Extracts one chip.
    public static func extract(_ image: RGBImage, _ d: ChipDetails) -> RGBImage {
        let chipArea = Double(d.rows * d.cols)
        // Border around the region, growing with the pyramid depth bilinear sampling will need.
        var grow = 2.0
        var r = rectDown2(d)
        while r.area > chipArea { r = rectDown2(r); grow = grow * 2 + 2 }
        // Bounding box of the rotated rectangle, grown, clipped to the image, rounded.
        let (cx, cy) = d.center
        let corners = [(d.left, d.top), (d.right, d.top), (d.left, d.bottom), (d.right, d.bottom)]
            .map { rotate($0, about: (cx, cy), by: d.angle) }
        let bl = corners.map(\.0).min()! - grow, bt = corners.map(\.1).min()! - grow
        let br = corners.map(\.0).max()! + grow, bb = corners.map(\.1).max()! + grow
        let il = max(bl, 0), it = max(bt, 0)
        let ir = min(br, Double(image.width - 1)), ib = min(bb, Double(image.height - 1))
        var box = Rect(left: roundHalfUp(il), top: roundHalfUp(it), right: roundHalfUp(ir), bottom: roundHalfUp(ib))
        if il > ir || it > ib { box = Rect(left: 0, top: 0, right: -1, bottom: -1) }

        var rect = d
        rect.left -= Double(box.left); rect.right -= Double(box.left)
        rect.top -= Double(box.top); rect.bottom -= Double(box.top)
        var level = -1
        while rectDown2(rect).area > chipArea {
            level += 1
            rect = rectDown2(rect)
        }
        if d.angle == 0 && Double(d.rows) == d.height && Double(d.cols) == d.width {
            // dlib copies directly in this case (no interpolation).
            return copyRegion(image, left: roundHalfUp(d.left), top: roundHalfUp(d.top), cols: d.cols, rows: d.rows)
        }
        // The pyramid is built from the bounding-box region only; without one, sampling reads the
        // region in place (dlib samples `sub_image(img, bounding_box)`: its edges bound the samples).
        var pyramid: RGBImage? = nil
        if level >= 0, !box.isEmpty {
            var img = image.pixels.withUnsafeBufferPointer { p in
                DlibPyramid.down2(p.baseAddress!, DlibPyramid.View(width: box.width, height: box.height, stride: image.width,
                                                                   originX: box.left, originY: box.top))
            }
            for _ in 0..<level { img = DlibPyramid.down2(img) }
            pyramid = img
        } else if level >= 0 {
            pyramid = RGBImage(width: 0, height: 0)
        }
        // Affine map from chip pixels to source pixels through three corners.
        let c = rect.center
        let map = ChipAffine(cols: d.cols, rows: d.rows,
                             topLeft: rotate((rect.left, rect.top), about: c, by: d.angle),
                             topRight: rotate((rect.right, rect.top), about: c, by: d.angle),
                             bottomLeft: rotate((rect.left, rect.bottom), about: c, by: d.angle))
        let src = pyramid ?? image
        let view = pyramid == nil
            ? DlibPyramid.View(width: box.isEmpty ? 0 : box.width, height: box.isEmpty ? 0 : box.height,
                               stride: image.width, originX: box.left, originY: box.top)
            : DlibPyramid.View(width: src.width, height: src.height, stride: src.width, originX: 0, originY: 0)
        return sample(src, view, map, rows: d.rows, cols: d.cols)
    }

    /// The `rows` x `cols` chip whose pixel (x, y) is the bilinear sample of `view` at `map(x, y)`
    /// (`studio_chip_sample`; `sampleReference` is the same in Swift).
    static func sample(_ src: RGBImage, _ view: DlibPyramid.View, _ map: ChipAffine, rows: Int, cols: Int) -> RGBImage {
        let v = studio_rgb_view(width: Int32(view.width), height: Int32(view.height), stride: Int32(view.stride),
                                origin_x: Int32(view.originX), origin_y: Int32(view.originY))
        let m = studio_chip_map(m00: map.m00, m01: map.m01, m10: map.m10, m11: map.m11, b0: map.b0, b1: map.b1)
        return RGBImage(width: cols, height: rows, pixels: [UInt8](unsafeUninitializedCapacity: rows * cols * 3) { buf, n in
            src.pixels.withUnsafeBufferPointer { studio_chip_sample($0.baseAddress, v, m, Int32(rows), Int32(cols), buf.baseAddress) }
            n = rows * cols * 3
        })
    }

    /// The reference of `sample`: dlib's per-pixel loop, in Swift.
    static func sampleReference(_ src: RGBImage, _ view: DlibPyramid.View, _ map: ChipAffine, rows: Int, cols: Int) -> RGBImage {
        RGBImage(width: cols, height: rows, pixels: [UInt8](unsafeUninitializedCapacity: rows * cols * 3) { buf, n in
            buf.initialize(repeating: 0)
            src.pixels.withUnsafeBufferPointer { sp in
                for y in 0..<rows {
                    for x in 0..<cols {
                        let (sx, sy) = map.apply(Double(x), Double(y))
                        DlibPyramid.bilinear(sp, view, sx, sy, into: buf.baseAddress! + (y * cols + x) * 3)
                    }
                }
            }
            n = rows * cols * 3
        })
    }

    static func rectDown2(_ d: ChipDetails) -> ChipDetails {
        var r = d
        r.left = d.left / 2 - 1.25; r.top = d.top / 2 - 0.75
        r.right = d.right / 2 - 1.25; r.bottom = d.bottom / 2 - 0.75
        return r
    }

    static func rotate(_ p: (Double, Double), about c: (Double, Double), by angle: Double) -> (Double, Double) {
        let cs = cos(angle), sn = sin(angle)
        let x = p.0 - c.0, y = p.1 - c.1
        return (cs * x - sn * y + c.0, sn * x + cs * y + c.1)
    }

    /// Copies a region; pixels outside the image are black.
    static func copyRegion(_ image: RGBImage, left: Int, top: Int, cols: Int, rows: Int) -> RGBImage {
        var out = RGBImage(width: cols, height: rows)
        for y in 0..<rows {
            let sy = top + y
            if sy < 0 || sy >= image.height { continue }
            for x in 0..<cols {
                let sx = left + x
                if sx < 0 || sx >= image.width { continue }
                for ch in 0..<3 { out.pixels[(y * cols + x) * 3 + ch] = image.pixels[(sy * image.width + sx) * 3 + ch] }
            }
        }
        return out
    }
}

/// The chip-to-source map of `extract_image_chips`, computed the way dlib's `find_affine_transform`
/// computes it, so that sample positions agree with dlib's to the last bit.
///
/// dlib maps the chip corners (0,0), (cols-1,0), (0,rows-1) onto the rotated rectangle's corners
/// by least squares: `m = Q·pinv(P)`, where `P` holds the chip corners (and a row of ones) and
/// `Q` the image corners. Mathematically that is the corner differences divided by `cols-1` and
/// `rows-1`, but the last bits differ, and a one-ulp change in a sample position flips the
/// truncation of an interpolated value that is an integer in exact arithmetic (equal neighbours,
/// small coordinates). Built from corner differences, the map put values off by one in 14 of 2,300
/// chips fuzzed against dlib; this way, none. (The fit in `details` is closed-form, not dlib's
/// LAPACK SVD; its rect agrees to about 1e-13, which still leaves a few off-by-one values in 3 of
/// the 62 fixture chips.)
struct ChipAffine: Sendable, Equatable {
    var m00, m01, m10, m11, b0, b1: Double

    /// `Q·pinv(P)` as dlib evaluates it: each entry is a fused multiply-add chain over the three
    /// points in order (OpenBLAS' dgemm, which dlib calls for this product, uses FMA).
    init(cols: Int, rows: Int, topLeft: (Double, Double), topRight: (Double, Double), bottomLeft: (Double, Double)) {
        let p = Self.cornerPseudoInverse(cols: cols, rows: rows)
        let qx = [topLeft.0, topRight.0, bottomLeft.0], qy = [topLeft.1, topRight.1, bottomLeft.1]
        func entry(_ q: [Double], _ j: Int) -> Double {
            (q[0] * p[0][j]).addingProduct(q[1], p[1][j]).addingProduct(q[2], p[2][j])
        }
        m00 = entry(qx, 0); m01 = entry(qx, 1); b0 = entry(qx, 2)
        m10 = entry(qy, 0); m11 = entry(qy, 1); b1 = entry(qy, 2)
    }

    /// `m·p + b`, in dlib's order.
    @inline(__always)
    func apply(_ x: Double, _ y: Double) -> (Double, Double) { (m00 * x + m01 * y + b0, m10 * x + m11 * y + b1) }

    /// `pinv(P)` for `P = [0, cols-1, 0; 0, 0, rows-1; 1, 1, 1]`, indexed [point][coordinate].
    /// dlib takes it from LAPACK's SVD (`dgesvd`), whose rounding noise (entries that are 0 or
    /// 1/149 in exact arithmetic come out as 1e-19 or 1/149 ± 2 ulp) decides the last bits of the
    /// map. For 150x150 chips, the size every caller uses, these are dlib's values (dlib 19.24
    /// with Debian's OpenBLAS LAPACK, `tools/oracle/build/dlib-oracle chip-pinv 150 150`); other
    /// sizes use the exact inverse (dlib's entries differ from it by up to about 1e-16).
    static func cornerPseudoInverse(cols: Int, rows: Int) -> [[Double]] {
        if cols == 150 && rows == 150 { return pinv150 }
        let sx = 1 / Double(cols - 1), sy = 1 / Double(rows - 1)
        return [[-sx, -sy, 1], [sx, 0, 0], [0, sy, 0]]
    }

    static let pinv150: [[Double]] = [
        [-0x1.b7d6c3dda3389p-8, -0x1.b7d6c3dda338bp-8, 0x1.ffffffffffffdp-1],
        [0x1.b7d6c3dda338bp-8, 0x1.c8fdca5d55705p-63, 0x1.3b85aec0bc8p-72],
        [-0x1.2ea1338a3b5b7p-64, 0x1.b7d6c3dda338dp-8, -0x1.a752cf5068b79p-54],
    ]
}

/// dlib's image-pyramid and interpolation primitives that alignment depends on.
public enum DlibPyramid {
    /// `pyramid_down<2>` for RGB images: a separable [1 4 6 4 1] filter in 16-bit integers,
    /// keeping every second column and row; output `(rows-3)/2 x (cols-3)/2`, or empty when the
    /// input has 8 or fewer rows or columns.
    public static func down2(_ img: RGBImage) -> RGBImage {
        img.pixels.withUnsafeBufferPointer { p in
            down2(p.baseAddress!, View(width: img.width, height: img.height, stride: img.width, originX: 0, originY: 0))
        }
    }

    /// `down2` of the window `v` of an interleaved RGB buffer (a region of a larger image, read in
    /// place instead of copied out first).
    ///
    /// dlib filters rows first, then columns; here each output row's five source rows are combined
    /// first, at full width (contiguous, so it vectorises), then every second column. The sums are
    /// exact 16-bit integers (at most 16 · 16 · 255 = 65,280) divided by 256 only at the end, so the
    /// order of the two passes does not change a single value.
    static func down2(_ px: UnsafePointer<UInt8>, _ v: View) -> RGBImage {
        if v.height <= 8 || v.width <= 8 { return RGBImage(width: 0, height: 0) }
        let ow = (v.width - 3) / 2, oh = (v.height - 3) / 2
        let rowBytes = v.width * 3
        let column = UnsafeMutablePointer<UInt16>.allocate(capacity: rowBytes)
        defer { column.deallocate() }
        let pixels = [UInt8](unsafeUninitializedCapacity: oh * ow * 3) { out, n in
            for dr in 0..<oh {
                // Source rows 2·dr … 2·dr + 4 (output row dr is centred on row 2·dr + 2).
                let r0 = px + ((v.originY + 2 * dr) * v.stride + v.originX) * 3
                let r1 = r0 + v.stride * 3, r2 = r1 + v.stride * 3, r3 = r2 + v.stride * 3, r4 = r3 + v.stride * 3
                for i in 0..<rowBytes {
                    column[i] = UInt16(r0[i]) &+ 4 &* UInt16(r1[i]) &+ 6 &* UInt16(r2[i]) &+ 4 &* UInt16(r3[i]) &+ UInt16(r4[i])
                }
                let o = out.baseAddress! + dr * ow * 3
                for c in 0..<ow {
                    let s = column + 2 * c * 3
                    for ch in 0..<3 {
                        o[c * 3 + ch] = UInt8((s[ch] &+ 4 &* s[3 + ch] &+ 6 &* s[6 + ch] &+ 4 &* s[9 + ch] &+ s[12 + ch]) / 256)
                    }
                }
            }
            n = oh * ow * 3
        }
        return RGBImage(width: ow, height: oh, pixels: pixels)
    }

    /// A rectangular window of an interleaved RGB buffer: samples are bounded by the window.
    struct View {
        var width: Int, height: Int, stride: Int, originX: Int, originY: Int
    }

    /// `Int(x.rounded(.down))` for |x| < 1e9, without the libm call (this runs for every chip pixel).
    @inline(__always)
    static func floorInt(_ x: Double) -> Int {
        let t = Int(x)
        return Double(t) > x ? t - 1 : t
    }

    /// dlib's `interpolate_bilinear` for one output pixel: the four neighbours must all lie inside
    /// the window (else the pixel stays black); weights in double; the result is truncated to uchar.
    @inline(__always)
    static func bilinear(_ px: UnsafeBufferPointer<UInt8>, _ v: View, _ x: Double, _ y: Double,
                         into out: UnsafeMutablePointer<UInt8>) {
        guard x.isFinite, y.isFinite, abs(x) < 1e9, abs(y) < 1e9 else { return }
        let left = floorInt(x), top = floorInt(y)
        guard left >= 0, top >= 0, left + 1 < v.width, top + 1 < v.height else { return }
        let lr = x - Double(left), tb = y - Double(top)
        let r0 = ((v.originY + top) * v.stride + v.originX + left) * 3
        let r1 = r0 + v.stride * 3
        for ch in 0..<3 {
            let tl = Double(px[r0 + ch]), tr = Double(px[r0 + 3 + ch])
            let bl = Double(px[r1 + ch]), br = Double(px[r1 + 3 + ch])
            let value = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * br)
            out[ch] = UInt8(max(0, min(255, value)))
        }
    }
}
