import StudioKit

/// Geometric transforms on RGB images: resize, crop, EXIF rotation, affine warp.
extension RGBImage {
    /// Resizes with bilinear interpolation, pixel-centre aligned.
    ///
    /// Output pixel `(x, y)` samples the source at `((x + 0.5) * width / newWidth - 0.5,
    /// (y + 0.5) * height / newHeight - 0.5)`, clamped to the image, and rounds each channel
    /// to the nearest integer. No anti-aliasing prefilter is applied when shrinking.
    /// A zero target size gives an empty image; an empty source gives a black one.
    public func resizedBilinear(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth >= 0 && newHeight >= 0, "resizedBilinear: negative size \(newWidth)x\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        if newWidth == 0 || newHeight == 0 || width == 0 || height == 0 {
            return RGBImage(width: newWidth, height: newHeight)
        }
        let xs = Self.bilinearTaps(source: width, target: newWidth)
        let ys = Self.bilinearTaps(source: height, target: newHeight)
        let srcStride = width * 3
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for ty in ys {
                    let row0 = ty.i0 * srcStride, row1 = ty.i1 * srcStride
                    let fy = ty.f, gy = 1 - ty.f
                    for tx in xs {
                        let c0 = tx.i0 * 3, c1 = tx.i1 * 3
                        let fx = tx.f, gx = 1 - tx.f
                        for c in 0..<3 {
                            let top = gx * Double(src[row0 + c0 + c]) + fx * Double(src[row0 + c1 + c])
                            let bottom = gx * Double(src[row1 + c0 + c]) + fx * Double(src[row1 + c1 + c])
                            let v = gy * top + fy * bottom
                            dst[o] = UInt8(Swift.min(255, Swift.max(0, v + 0.5)))
                            o += 1
                        }
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// One output coordinate's two source indices and the weight of the second.
    private struct Tap {
        var i0: Int
        var i1: Int
        var f: Double
    }

    /// The pixel-centre bilinear taps mapping `target` samples onto `source` samples.
    private static func bilinearTaps(source: Int, target: Int) -> [Tap] {
        let scale = Double(source) / Double(target)
        let last = Double(source - 1)
        return (0..<target).map { t in
            let s = Swift.min(Swift.max((Double(t) + 0.5) * scale - 0.5, 0), last)
            let i0 = Int(s)  // s >= 0, so truncation is floor
            return Tap(i0: i0, i1: Swift.min(i0 + 1, source - 1), f: s - Double(i0))
        }
    }

    /// The pixels inside `rect` (inclusive edges); parts of `rect` outside the image are black.
    /// An empty rectangle gives a 0x0 image.
    public func cropped(_ rect: Rect) -> RGBImage {
        guard !rect.isEmpty else { return RGBImage(width: 0, height: 0) }
        var out = RGBImage(width: rect.width, height: rect.height)
        let inside = rect.intersection(Rect(left: 0, top: 0, right: width - 1, bottom: height - 1))
        guard !inside.isEmpty else { return out }
        let runBytes = inside.width * 3
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in inside.top...inside.bottom {
                    let from = (y * width + inside.left) * 3
                    let to = ((y - rect.top) * rect.width + (inside.left - rect.left)) * 3
                    dst.baseAddress!.advanced(by: to)
                        .update(from: src.baseAddress!.advanced(by: from), count: runBytes)
                }
            }
        }
        return out
    }

    /// The image displayed upright for EXIF orientation `orientation` (1...8); other values
    /// return the image unchanged.
    ///
    /// 2 mirrors left-right, 3 rotates 180°, 4 mirrors top-bottom, 5 transposes, 6 rotates
    /// 90° clockwise, 7 transverses, 8 rotates 90° counter-clockwise — what PIL's
    /// `ImageOps.exif_transpose` does. Orientations 5...8 swap width and height.
    public func rotated(orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let swaps = orientation >= 5
        let outWidth = swaps ? height : width, outHeight = swaps ? width : height
        if pixels.isEmpty { return RGBImage(width: outWidth, height: outHeight) }
        let w = width, h = height
        // Source coordinates of output pixel (X, Y).
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: source = { x, y in (w - 1 - x, y) }
        case 3: source = { x, y in (w - 1 - x, h - 1 - y) }
        case 4: source = { x, y in (x, h - 1 - y) }
        case 5: source = { x, y in (y, x) }
        case 6: source = { x, y in (y, h - 1 - x) }
        case 7: source = { x, y in (w - 1 - y, h - 1 - x) }
        default: source = { x, y in (w - 1 - y, x) }  // 8
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy) = source(x, y)
                        let i = (sy * w + sx) * 3
                        dst[o] = src[i]
                        dst[o + 1] = src[i + 1]
                        dst[o + 2] = src[i + 2]
                        o += 3
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// Resamples through an affine map: output `(x, y)` is the bilinear sample of `self` at
    /// `(a*x + b*y + c, d*x + e*y + f)` for `matrix = (a, b, c, d, e, f)`; outside is 0.
    ///
    /// This reproduces dlib's `transform_image` with `interpolate_bilinear` and a black
    /// background bit for bit, which the face-chip extraction relies on:
    /// - the point is computed as `(a*x + b*y) + c`, in `Double`;
    /// - a sample counts as inside only when its whole 2x2 neighbourhood is, i.e.
    ///   `0 <= px < width - 1` and `0 <= py < height - 1` (so the last row and column, and
    ///   non-finite points, give background);
    /// - each channel is `(1-ty)*((1-tx)*tl + tx*tr) + ty*((1-tx)*bl + tx*br)`, clamped to
    ///   0...255 and truncated toward zero (dlib's `assign_pixel`), not rounded.
    public func affineWarp(width outWidth: Int, height outHeight: Int,
                           matrix: (Double, Double, Double, Double, Double, Double)) -> RGBImage {
        precondition(outWidth >= 0 && outHeight >= 0, "affineWarp: negative size \(outWidth)x\(outHeight)")
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        let (a, b, c, d, e, f) = matrix
        let maxX = Double(width - 1), maxY = Double(height - 1)
        let stride = width * 3
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outHeight {
                    let dy = Double(y)
                    for x in 0..<outWidth {
                        let dx = Double(x)
                        let px = a * dx + b * dy + c
                        let py = d * dx + e * dy + f
                        // Comparisons are false for NaN, so non-finite points are background.
                        guard px >= 0, py >= 0, px < maxX, py < maxY else { continue }
                        let left = px.rounded(.down), top = py.rounded(.down)
                        let tx = px - left, ty = py - top
                        let i = Int(top) * stride + Int(left) * 3
                        let o = (y * outWidth + x) * 3
                        for ch in 0..<3 {
                            let tl = Double(src[i + ch]), tr = Double(src[i + 3 + ch])
                            let bl = Double(src[i + stride + ch]), br = Double(src[i + stride + 3 + ch])
                            let v = (1 - ty) * ((1 - tx) * tl + tx * tr) + ty * ((1 - tx) * bl + tx * br)
                            dst[o + ch] = v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v))
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}
