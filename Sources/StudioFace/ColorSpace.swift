#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit

/// A CIELAB colour (CIE 1976 L*a*b*, D65 white, 2° observer).
public struct CIELab: Sendable, Equatable, Codable {
    /// Lightness, 0 (black) to 100 (diffuse white).
    public var L: Double
    /// Green (-) to red (+).
    public var a: Double
    /// Blue (-) to yellow (+).
    public var b: Double

    public init(L: Double, a: Double, b: Double) { self.L = L; self.a = a; self.b = b }

    /// C*ab = sqrt(a*² + b*²).
    public var chroma: Double { (a * a + b * b).squareRoot() }
    /// h_ab = atan2(b*, a*) in degrees, in [0, 360).
    public var hueDegrees: Double {
        let h = atan2(b, a) * 180 / Double.pi
        return h < 0 ? h + 360 : h
    }
    /// CIE76 colour difference ΔE*ab = Euclidean distance in L*a*b*.
    public func deltaE(_ o: CIELab) -> Double {
        let dL = L - o.L, da = a - o.a, db = b - o.b
        return (dL * dL + da * da + db * db).squareRoot()
    }
}

/// Colour conversions: 8-bit sRGB -> linear RGB -> CIE XYZ (D65) -> CIELAB.
///
/// Constants are the standard ones:
/// - sRGB transfer function (IEC 61966-2-1): `c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055)^2.4`
///   with `c = value / 255`.
/// - Linear sRGB -> XYZ matrix for D65 (IEC 61966-2-1 primaries, as tabulated by Bruce Lindbloom):
///   `[0.4124564 0.3575761 0.1804375; 0.2126729 0.7151522 0.0721750; 0.0193339 0.1191920 0.9503041]`.
/// - Reference white D65: `Xn = 0.95047, Yn = 1.0, Zn = 1.08883`.
/// - CIELAB (CIE 15): `f(t) = t > (6/29)^3 ? t^(1/3) : t / (3 (6/29)^2) + 4/29`,
///   `L* = 116 f(Y/Yn) - 16`, `a* = 500 (f(X/Xn) - f(Y/Yn))`, `b* = 200 (f(Y/Yn) - f(Z/Zn))`.
///
/// sRGB white (255,255,255) gives L* = 100, a* = b* = 0 (to 1e-4); pure red (255,0,0) gives
/// L* 53.24, a* 80.09, b* 67.20.
public enum ColorSpace {
    /// D65 reference white (Y normalised to 1).
    public static let whiteD65 = (x: 0.95047, y: 1.0, z: 1.08883)

    /// The sRGB decoding function on a value in [0, 1].
    public static func linearFromSRGB(_ c: Double) -> Double {
        c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
    }

    /// The 256 linear values of the 8-bit sRGB codes.
    public static let linearTable: [Double] = (0..<256).map { linearFromSRGB(Double($0) / 255) }

    /// CIE XYZ (D65, Y of white = 1) of an 8-bit sRGB colour.
    public static func xyz(r: UInt8, g: UInt8, b: UInt8) -> (x: Double, y: Double, z: Double) {
        let R = linearTable[Int(r)], G = linearTable[Int(g)], B = linearTable[Int(b)]
        return (0.4124564 * R + 0.3575761 * G + 0.1804375 * B,
                0.2126729 * R + 0.7151522 * G + 0.0721750 * B,
                0.0193339 * R + 0.1191920 * G + 0.9503041 * B)
    }

    /// CIELAB of a CIE XYZ colour relative to D65.
    public static func lab(x: Double, y: Double, z: Double) -> CIELab {
        func f(_ t: Double) -> Double {
            let d = 6.0 / 29.0
            return t > d * d * d ? cbrt(t) : t / (3 * d * d) + 4.0 / 29.0
        }
        let fx = f(x / whiteD65.x), fy = f(y / whiteD65.y), fz = f(z / whiteD65.z)
        return CIELab(L: 116 * fy - 16, a: 500 * (fx - fy), b: 200 * (fy - fz))
    }

    /// CIELAB of an 8-bit sRGB colour.
    public static func lab(r: UInt8, g: UInt8, b: UInt8) -> CIELab {
        let c = xyz(r: r, g: g, b: b)
        return lab(x: c.x, y: c.y, z: c.z)
    }

    /// The sRGB encoding function on a linear value in [0, 1] (inverse of `linearFromSRGB`).
    public static func srgbFromLinear(_ v: Double) -> Double {
        v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055
    }

    /// The 8-bit sRGB colour of a CIELAB colour (the inverse path: CIELAB -> XYZ -> linear RGB with
    /// the inverse matrix -> sRGB encoding), each channel clamped to [0, 255] and rounded; colours
    /// outside the sRGB gamut are clipped per channel.
    public static func srgb(_ c: CIELab) -> (r: UInt8, g: UInt8, b: UInt8) {
        func finv(_ t: Double) -> Double {
            let d = 6.0 / 29.0
            return t > d ? t * t * t : 3 * d * d * (t - 4.0 / 29.0)
        }
        let fy = (c.L + 16) / 116, fx = fy + c.a / 500, fz = fy - c.b / 200
        let x = whiteD65.x * finv(fx), y = whiteD65.y * finv(fy), z = whiteD65.z * finv(fz)
        // Inverse of the linear sRGB -> XYZ matrix above.
        let r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z
        let g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z
        let b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z
        func enc(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (srgbFromLinear(max(0, min(1, v))) * 255).rounded()))) }
        return (enc(r), enc(g), enc(b))
    }

    /// CIELAB of pixel (x, y) of an image.
    @inlinable
    public static func lab(_ image: RGBImage, x: Int, y: Int) -> CIELab {
        let i = (y * image.width + x) * 3
        return lab(r: image.pixels[i], g: image.pixels[i + 1], b: image.pixels[i + 2])
    }

    /// ITU-R BT.601 luma on 8-bit codes, `0.299 R + 0.587 G + 0.114 B` (what OpenCV's
    /// `cvtColor(..., COLOR_RGB2GRAY)` computes; used for the sharpness measure).
    @inlinable
    public static func luma601(r: UInt8, g: UInt8, b: UInt8) -> Double {
        0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)
    }

    /// The BT.601 luma plane of an image, row-major.
    public static func lumaPlane(_ image: RGBImage) -> [Double] {
        var out = [Double](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<out.count { out[i] = luma601(r: p[3 * i], g: p[3 * i + 1], b: p[3 * i + 2]) }
        }
        return out
    }

    /// Per-component median of a set of colours (each of L*, a*, b* separately; the middle
    /// element, or the mean of the two middle ones). Empty input gives nil.
    public static func median(_ colours: [CIELab]) -> CIELab? {
        guard !colours.isEmpty else { return nil }
        func med(_ v: [Double]) -> Double {
            let s = v.sorted(), n = s.count
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        }
        return CIELab(L: med(colours.map(\.L)), a: med(colours.map(\.a)), b: med(colours.map(\.b)))
    }
}
