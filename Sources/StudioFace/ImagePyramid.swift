#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit
import StudioTensor

// dlib's image-pyramid machinery as the MMOD detector uses it (dlib 19.24:
// image_transforms/image_pyramid.h, image_transforms/interpolation.h, dnn/input.h,
// cuda/cpu_dlib.cpp `resize_bilinear`), re-implemented to give the same numbers.

// MARK: - Double rectangles

/// dlib's `drectangle`: a rectangle with `Double` edges.
public struct DRectangle: Sendable, Hashable {
    public var left: Double
    public var top: Double
    public var right: Double
    public var bottom: Double

    public init(left: Double, top: Double, right: Double, bottom: Double) {
        self.left = left; self.top = top; self.right = right; self.bottom = bottom
    }

    /// The same edges as an integer rectangle (dlib's `drectangle(rectangle)`).
    public init(_ r: Rect) {
        self.init(left: Double(r.left), top: Double(r.top), right: Double(r.right), bottom: Double(r.bottom))
    }

    /// Spanned by two corners (the top-left and bottom-right points).
    public init(_ topLeft: Point, _ bottomRight: Point) {
        self.init(left: topLeft.x, top: topLeft.y, right: bottomRight.x, bottom: bottomRight.y)
    }

    public var topLeft: Point { Point(x: left, y: top) }
    public var bottomRight: Point { Point(x: right, y: bottom) }

    /// dlib's `dcenter`: `((l + r) / 2, (t + b) / 2)`.
    public var center: Point { Point(x: (left + right) / 2, y: (top + bottom) / 2) }

    /// dlib's `rectangle(drectangle)` conversion: every edge rounded with `floor(x + 0.5)`.
    public var rounded: Rect {
        Rect(left: Int((left + 0.5).rounded(.down)), top: Int((top + 0.5).rounded(.down)),
             right: Int((right + 0.5).rounded(.down)), bottom: Int((bottom + 0.5).rounded(.down)))
    }

    /// dlib's `centered_drect(p, width, height)`: `p ± (size - 1) / 2`.
    public static func centered(at p: Point, width: Double, height: Double) -> DRectangle {
        let w = width - 1, h = height - 1
        return DRectangle(left: p.x - w / 2, top: p.y - h / 2, right: p.x + w / 2, bottom: p.y + h / 2)
    }
}

/// dlib's conversion of a `dpoint` to an integer `point`: each coordinate `floor(v + 0.5)`.
@inlinable func dlibRound(_ v: Double) -> Int { Int((v + 0.5).rounded(.down)) }

// MARK: - pyramid_down<N>

/// dlib's `pyramid_down<N>` for N = 2 (its own 2:1 class) and N >= 4 (the generic template):
/// the coordinate mappings between pyramid levels, the level size rule, and (N >= 4) the
/// downsampling of an RGB image.
public struct PyramidDown: Sendable, Hashable {
    public let n: Int

    public init(_ n: Int) {
        precondition(n == 2 || n >= 4, "PyramidDown: dlib's pyramid_down<\(n)> is not supported (use 2 or >= 4)")
        self.n = n
    }

    /// `pyramid_rate`: the scale of one level down, `(N - 1) / N`.
    public var rate: Double { n == 2 ? 0.5 : (Double(n) - 1.0) / Double(n) }

    /// One level down: N = 2: `p / 2 - (1.25, 0.75)`; otherwise `(p - 0.3) * (N - 1) / N`.
    public func pointDown(_ p: Point) -> Point {
        if n == 2 { return Point(x: p.x / 2.0 - 1.25, y: p.y / 2.0 - 0.75) }
        let ratio = (Double(n) - 1.0) / Double(n)
        return Point(x: (p.x - 0.3) * ratio, y: (p.y - 0.3) * ratio)
    }

    /// One level up (the inverse of `pointDown`): N = 2: `(p + (1.25, 0.75)) * 2`; otherwise
    /// `p * N / (N - 1) + 0.3`.
    public func pointUp(_ p: Point) -> Point {
        if n == 2 { return Point(x: (p.x + 1.25) * 2, y: (p.y + 0.75) * 2) }
        let ratio = Double(n) / (Double(n) - 1.0)
        return Point(x: p.x * ratio + 0.3, y: p.y * ratio + 0.3)
    }

    public func pointDown(_ p: Point, levels: Int) -> Point {
        var q = p
        for _ in 0..<max(0, levels) { q = pointDown(q) }
        return q
    }

    public func pointUp(_ p: Point, levels: Int) -> Point {
        var q = p
        for _ in 0..<max(0, levels) { q = pointUp(q) }
        return q
    }

    /// Both corners mapped `levels` levels down.
    public func rectDown(_ r: DRectangle, levels: Int = 1) -> DRectangle {
        DRectangle(pointDown(r.topLeft, levels: levels), pointDown(r.bottomRight, levels: levels))
    }

    /// Both corners mapped `levels` levels up.
    public func rectUp(_ r: DRectangle, levels: Int = 1) -> DRectangle {
        DRectangle(pointUp(r.topLeft, levels: levels), pointUp(r.bottomRight, levels: levels))
    }

    /// `find_pyramid_down_output_image_size`: the size of the next level, as the tiled pyramid
    /// computes it (`floor(rate * n)` for N >= 4, `(n - 3) / 2` for N = 2).
    public func nextLevelSize(rows: Int, cols: Int) -> (rows: Int, cols: Int) {
        if n == 2 { return ((rows - 3) / 2, (cols - 3) / 2) }
        let r = rate
        return (Int((r * Double(rows)).rounded(.down)), Int((r * Double(cols)).rounded(.down)))
    }

    /// `pyramid_down<N>::operator()(in, out)` on an RGB image (N >= 4 only): the output is
    /// `((N-1)*rows)/N x ((N-1)*cols)/N` (integer division) and is filled by dlib's
    /// `resize_image` (its RGB bilinear path, see `DlibResize.resizeRGB`).
    public func callAsFunction(_ image: RGBImage) -> RGBImage {
        precondition(n >= 4, "PyramidDown: image downsampling is implemented for N >= 4 only")
        let rows = ((n - 1) * image.height) / n, cols = ((n - 1) * image.width) / n
        return DlibResize.resizeRGB(image, width: cols, height: rows)
    }
}

// MARK: - resize_image and pyramid_up

/// dlib's bilinear `resize_image` paths, reproduced to the bit.
///
/// Both paths dlib takes (RGB and float images with `interpolate_bilinear`) sample the source at
/// `(c * xScale, r * yScale)` with `scale = (in - 1) / max(out - 1, 1)`, the row coordinate
/// accumulated in double (`y += yScale`). Columns go four at a time in `float` SIMD
/// (dlib's `simd4f`): lane coordinates start at `float(-4*xScale + k*xScale)` and grow by
/// `float(4*xScale)` each step, `left` is truncated, weights are float products
/// (`(1-tb)*(1-lr)`, ...) and the value is `((tl*w + tr*w) + bl*w) + br*w` in float. The SIMD loop
/// stops (discarding that group) when the fourth lane's right neighbour would leave the image;
/// the remaining columns restart from `x = -xScale + c*xScale` in double.
public enum DlibResize {
    /// dlib's `resize_image(in, out)` for RGB images: the SIMD part truncates the float result to an
    /// integer; the remaining columns compute in double and truncate (`static_cast<unsigned char>`).
    public static func resizeRGB(_ image: RGBImage, width outCols: Int, height outRows: Int) -> RGBImage {
        precondition(outCols >= 0 && outRows >= 0, "resizeRGB: negative size")
        var out = RGBImage(width: outCols, height: outRows)
        let inCols = image.width, inRows = image.height
        if outCols * outRows == 0 || inCols * inRows == 0 { return out }
        let xScale = Double(inCols - 1) / Double(max(outCols - 1, 1))
        let yScale = Double(inRows - 1) / Double(max(outRows - 1, 1))
        image.pixels.withUnsafeBufferPointer { srcBuf in
        out.pixels.withUnsafeMutableBufferPointer { dstBuf in
            let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!
            var y = -yScale
            for r in 0..<outRows {
                y += yScale
                let top = Int(y.rounded(.down))
                let bottom = min(top + 1, inRows - 1)
                let tbFrac = y - Double(top)
                let trow = src + top * inCols * 3, brow = src + bottom * inCols * 3
                let drow = dst + r * outCols * 3
                let x0 = -4 * xScale
                let tb = Float(tbFrac), invTb = Float(1 - tbFrac)
                let step = Float(4 * xScale)
                var lx0 = Float(x0), lx1 = Float(x0 + xScale), lx2 = Float(x0 + 2 * xScale), lx3 = Float(x0 + 3 * xScale)
                var c = 0
                @inline(__always) func lane(_ x: Float, _ col: Int) {
                    let left = Int(x)                     // cvttps2dq: truncation
                    let lr = x - Float(left)
                    let invLr = 1 - lr
                    let tlf = invTb * invLr, trf = invTb * lr, blf = tb * invLr, brf = tb * lr
                    if col >= outCols { return }
                    let li = left * 3
                    for ch in 0..<3 {
                        let v = tlf * Float(trow[li + ch]) + trf * Float(trow[li + 3 + ch])
                            + blf * Float(brow[li + ch]) + brf * Float(brow[li + 3 + ch])
                        drow[col * 3 + ch] = UInt8(truncatingIfNeeded: Int32(v))
                    }
                }
                while true {
                    lx0 += step; lx1 += step; lx2 += step; lx3 += step
                    if Int(lx3) + 1 >= inCols { break }
                    lane(lx0, c); lane(lx1, c + 1); lane(lx2, c + 2); lane(lx3, c + 3)
                    c += 4
                }
                var x = -xScale + Double(c) * xScale
                while c < outCols {
                    x += xScale
                    let left = Int(x.rounded(.down))
                    let right = min(left + 1, inCols - 1)
                    let lrFrac = x - Double(left)
                    for ch in 0..<3 {
                        let tl = Double(trow[left * 3 + ch]), tr = Double(trow[right * 3 + ch])
                        let bl = Double(brow[left * 3 + ch]), br = Double(brow[right * 3 + ch])
                        let v = (1 - tbFrac) * ((1 - lrFrac) * tl + lrFrac * tr) + tbFrac * ((1 - lrFrac) * bl + lrFrac * br)
                        drow[c * 3 + ch] = UInt8(truncatingIfNeeded: Int(v))
                    }
                    c += 1
                }
            }
        }}
        return out
    }

    /// dlib's `resize_image` between two `float` images (the overload `cpu::resize_bilinear` uses on
    /// each tensor channel): the SIMD part keeps the float result; the remaining columns compute the
    /// two horizontal blends in float and combine them with the double row weights.
    ///
    /// `src`/`dst` address the top-left sample; strides are in floats.
    public static func resizePlane(_ src: UnsafePointer<Float>, rows inRows: Int, cols inCols: Int, stride srcStride: Int,
                                   into dst: UnsafeMutablePointer<Float>, rows outRows: Int, cols outCols: Int, stride dstStride: Int) {
        if outCols * outRows == 0 || inCols * inRows == 0 { return }
        let xScale = Double(inCols - 1) / Double(max(outCols - 1, 1))
        let yScale = Double(inRows - 1) / Double(max(outRows - 1, 1))
        var y = -yScale
        for r in 0..<outRows {
            y += yScale
            let top = Int(y.rounded(.down))
            let bottom = min(top + 1, inRows - 1)
            let tbFrac = y - Double(top)
            let trow = src + top * srcStride, brow = src + bottom * srcStride
            let drow = dst + r * dstStride
            let x0 = -4 * xScale
            let tb = Float(tbFrac), invTb = Float(1 - tbFrac)
            let step = Float(4 * xScale)
            var lx0 = Float(x0), lx1 = Float(x0 + xScale), lx2 = Float(x0 + 2 * xScale), lx3 = Float(x0 + 3 * xScale)
            var c = 0
            @inline(__always) func lane(_ x: Float) -> Float {
                let left = Int(x)
                let lr = x - Float(left)
                let invLr = 1 - lr
                return invTb * invLr * trow[left] + invTb * lr * trow[left + 1]
                    + tb * invLr * brow[left] + tb * lr * brow[left + 1]
            }
            while true {
                lx0 += step; lx1 += step; lx2 += step; lx3 += step
                if Int(lx3) + 1 >= inCols { break }
                let v0 = lane(lx0), v1 = lane(lx1), v2 = lane(lx2), v3 = lane(lx3)
                if c + 3 < outCols {
                    drow[c] = v0; drow[c + 1] = v1; drow[c + 2] = v2; drow[c + 3] = v3
                } else {
                    if c < outCols { drow[c] = v0 }
                    if c + 1 < outCols { drow[c + 1] = v1 }
                    if c + 2 < outCols { drow[c + 2] = v2 }
                }
                c += 4
            }
            var x = -xScale + Double(c) * xScale
            let invTbD = 1 - tbFrac
            while c < outCols {
                x += xScale
                let left = Int(x.rounded(.down))
                let right = min(left + 1, inCols - 1)
                let lrFrac = Float(x - Double(left))
                let upper: Float = (1 - lrFrac) * trow[left] + lrFrac * trow[right]
                let lower: Float = (1 - lrFrac) * brow[left] + lrFrac * brow[right]
                drow[c] = Float(invTbD * Double(upper) + tbFrac * Double(lower))
                c += 1
            }
        }
    }

    /// dlib's `pyramid_up(img, pyramid_down<2>())`: the output is sized by mapping the image
    /// rectangle up one level (`rect_up`, rounded): `(2*rows + 1) x (2*cols + 2)`, and filled by
    /// `resize_image` (the RGB bilinear path; the extra row and columns come from the scale
    /// `(in - 1) / (out - 1)`, not from `pointUp`).
    public static func pyramidUp(_ image: RGBImage) -> RGBImage {
        if image.width * image.height == 0 { return RGBImage(width: 0, height: 0) }
        let up = PyramidDown(2).rectUp(DRectangle(Rect(left: 0, top: 0, right: image.width - 1, bottom: image.height - 1))).rounded
        if up.isEmpty { return RGBImage(width: 0, height: 0) }
        return resizeRGB(image, width: up.right + 1, height: up.bottom + 1)
    }
}

// MARK: - Tiled pyramid (input_rgb_image_pyramid)

/// The layout of dlib's tiled image pyramid (`impl::compute_tiled_image_pyramid_details`):
/// the image and all its `pyramid_down<N>` levels (down to 5 rows) packed into one canvas —
/// a first column of shrinking levels, then the smaller levels stacked upwards along the right
/// edge — with `padding` between tiles and `outerPadding` around the canvas.
public struct TiledPyramid: Sendable, Equatable {
    public let pyramid: PyramidDown
    /// Level i's place in the canvas (level 0 is the image itself).
    public let rects: [Rect]
    /// Canvas size.
    public let rows: Int, cols: Int

    public init(imageWidth nc0: Int, imageHeight nr0: Int, pyramid: PyramidDown = PyramidDown(6),
                padding: Int = 10, outerPadding: Int = 11) {
        self.pyramid = pyramid
        precondition(padding >= 0 && outerPadding >= 0, "TiledPyramid: negative padding")
        if nr0 * nc0 == 0 {
            rects = []; rows = 0; cols = 0
            return
        }
        // dlib does this arithmetic with `long` and `unsigned long` mixed; the comparisons
        // below reproduce its unsigned wrap-around exactly.
        var rs: [Rect] = [Rect(left: 0, top: 0, right: nc0 - 1, bottom: nr0 - 1)]
        var nr = nr0, nc = nc0
        while true {
            (nr, nc) = pyramid.nextLevelSize(rows: nr, cols: nc)
            if nr * nc == 0 || nr < 5 { break }
            rs.append(Rect(left: 0, top: 0, right: nc - 1, bottom: nr - 1))
        }
        func w(_ r: Rect) -> Int { r.isEmpty ? 0 : r.width }
        func h(_ r: Rect) -> Int { r.isEmpty ? 0 : r.height }
        func u(_ v: Int) -> UInt64 { UInt64(bitPattern: Int64(v)) }

        var totalHeight = 0
        for r in rs { totalHeight += h(r) + padding }
        totalHeight -= padding * 2
        var height = 0, prevWidth = 0
        let w0 = u(w(rs[0])), h0 = u(h(rs[0]))
        for r in rs {
            if u(w(r)) <= (w0 &- u(prevWidth) &- u(padding)) && ((u(height) &- h0) &* 2) >= (u(totalHeight) &- h0) {
                break
            }
            height += h(r) + padding
            prevWidth = w(r)
        }
        height -= padding
        let width = w(rs[0])
        rows = height + outerPadding * 2
        cols = width + outerPadding * 2

        var y = outerPadding
        var i = 0
        while y < height + outerPadding && i < rs.count {
            let r = rs[i]
            rs[i] = Rect(left: r.left + outerPadding, top: r.top + y, right: r.right + outerPadding, bottom: r.bottom + y)
            y += h(rs[i]) + padding
            i += 1
        }
        y -= padding
        while i < rs.count {
            let p1x = outerPadding + width - 1, p1y = y - 1
            let p2x = p1x - rs[i].right, p2y = p1y - rs[i].bottom
            let rect = Rect(left: min(p1x, p2x), top: min(p1y, p2y), right: max(p1x, p2x), bottom: max(p1y, p2y))
            if !rs[0].intersection(rect).isEmpty { break }
            rs[i] = rect
            y -= h(rs[i]) + padding
            i += 1
        }
        rects = Array(rs[0..<i])
    }

    /// Whether every tile lies inside the canvas. dlib's layout arithmetic breaks down for images
    /// narrower than `padding` pixels (its unsigned `width - padding` wraps around): it places tiles
    /// at negative rows, and `to_tensor` would write outside its buffer. Such images are rejected.
    public var isValid: Bool {
        rects.allSatisfy { $0.left >= 0 && $0.top >= 0 && $0.right < cols && $0.bottom < rows && !$0.isEmpty }
    }

    /// dlib's `nearest_rect(rects, point(p))`: the first level containing the rounded point,
    /// else the level nearest to it (first of equals).
    public func nearestLevel(to p: Point) -> Int {
        let px = dlibRound(p.x), py = dlibRound(p.y)
        var best = 0
        var bestDist = Double.infinity
        for (i, r) in rects.enumerated() {
            if px >= r.left && px <= r.right && py >= r.top && py <= r.bottom { return i }
            var nx = px, ny = py
            if nx < r.left { nx = r.left } else if nx > r.right { nx = r.right }
            if ny < r.top { ny = r.top } else if ny > r.bottom { ny = r.bottom }
            let dx = Double(nx - px), dy = Double(ny - py)
            let d = (dx * dx + dy * dy).squareRoot()
            if d < bestDist { bestDist = d; best = i }
        }
        return best
    }

    /// `tiled_pyramid_to_image` / `input_rgb_image_pyramid::tensor_space_to_image_space`: the level is
    /// the one nearest the rectangle's centre; the rectangle is moved to that level's origin and
    /// mapped up that many levels.
    public func tensorSpaceToImageSpace(_ r: DRectangle) -> DRectangle {
        precondition(!rects.isEmpty, "TiledPyramid: empty pyramid")
        let level = nearestLevel(to: r.center)
        let ox = Double(rects[level].left), oy = Double(rects[level].top)
        let moved = DRectangle(left: r.left - ox, top: r.top - oy, right: r.right - ox, bottom: r.bottom - oy)
        return pyramid.rectUp(moved, levels: level)
    }

    /// `tiled_pyramid_to_image` for a point.
    public func tensorSpaceToImageSpace(_ p: Point) -> Point {
        precondition(!rects.isEmpty, "TiledPyramid: empty pyramid")
        let level = nearestLevel(to: p)
        return pyramid.pointUp(Point(x: p.x - Double(rects[level].left), y: p.y - Double(rects[level].top)), levels: level)
    }

    /// The level `image_to_tiled_pyramid` picks for an object seen at `scale` (0 < scale <= 1):
    /// `Int(log(scale) / log(rate) + 0.5)`, clamped to the levels present.
    public func level(forScale scale: Double) -> Int {
        precondition(scale > 0 && scale <= 1, "TiledPyramid: scale \(scale) not in (0, 1]")
        precondition(!rects.isEmpty, "TiledPyramid: empty pyramid")
        let iter = Int(log(scale) / log(pyramid.rate) + 0.5)
        return min(max(0, iter), rects.count - 1)
    }

    /// `image_to_tiled_pyramid` / `image_space_to_tensor_space` for a point.
    public func imageSpaceToTensorSpace(scale: Double, _ p: Point) -> Point {
        let lv = level(forScale: scale)
        let q = pyramid.pointDown(p, levels: lv)
        return Point(x: Double(rects[lv].left) + q.x, y: Double(rects[lv].top) + q.y)
    }

    /// `image_to_tiled_pyramid` / `image_space_to_tensor_space` for a rectangle (both corners).
    public func imageSpaceToTensorSpace(scale: Double, _ r: DRectangle) -> DRectangle {
        DRectangle(imageSpaceToTensorSpace(scale: scale, r.topLeft), imageSpaceToTensorSpace(scale: scale, r.bottomRight))
    }

    /// `input_rgb_image_pyramid::to_tensor`: a `[1, 3, rows, cols]` tensor, zero outside the tiles,
    /// level 0 = `(pixel - mean) / 256` per channel (planar R, G, B), and each further level the
    /// float bilinear resize (`DlibResize.resizePlane`) of the level before it, channel by channel.
    public func inputTensor(_ image: RGBImage, means: (red: Float, green: Float, blue: Float)) -> Tensor {
        var t = Tensor(n: 1, c: 3, h: rows, w: cols)
        guard let r0 = rects.first else { return t }
        precondition(isValid, "TiledPyramid: tiles outside the canvas (image narrower than the padding)")
        precondition(r0.width == image.width && r0.height == image.height,
                     "TiledPyramid: laid out for \(r0.width)x\(r0.height), image is \(image.width)x\(image.height)")
        let plane = rows * cols
        let m = [means.red, means.green, means.blue]
        let iw = image.width, ih = image.height
        image.pixels.withUnsafeBufferPointer { px in
        t.data.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            for ch in 0..<3 {
                let mean = m[ch]
                let p = base + ch * plane
                for y in 0..<ih {
                    let row = p + (r0.top + y) * cols + r0.left
                    let srow = y * iw * 3 + ch
                    for x in 0..<iw { row[x] = (Float(px[srow + x * 3]) - mean) / 256 }
                }
                for i in 1..<rects.count {
                    let s = rects[i - 1], d = rects[i]
                    DlibResize.resizePlane(p + s.top * cols + s.left, rows: s.height, cols: s.width, stride: cols,
                                           into: p + d.top * cols + d.left, rows: d.height, cols: d.width, stride: cols)
                }
            }
        }}
        return t
    }
}
