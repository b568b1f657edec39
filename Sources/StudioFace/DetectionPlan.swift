#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The image the detector runs on: the photo itself, or a smaller copy whose boxes are scaled back.
///
/// Detection memory grows with the pixels the network sees (the photo after upsampling): about
/// 45 bytes each for the tiled pyramid tensor, plus one band of activations
/// (`DlibNetwork.forwardInRowBands`). Above `FacePipeline.maxDetectionPixels` the copy is
/// reduced so that any accepted image is detected within a bounded working size; landmarks,
/// chips and descriptors always use the full-resolution photo.
public struct DetectionPlan: Sendable, Equatable {
    /// Why the copy is smaller than the photo.
    public enum Limit: String, Sendable, Equatable {
        /// Detection runs on the photo itself.
        case none
        /// The caller's `detectionMaxSide` (a speed choice for photos of large faces).
        case maxSide = "max_side"
        /// The working-size limit `FacePipeline.maxDetectionPixels` (a memory bound).
        case workingSize = "working_size"
    }

    /// Size of the copy, before upsampling.
    public var width: Int, height: Int
    /// Times the copy is doubled (`pyramid_up`) before the network.
    public var upsample: Int
    /// Copy size over photo size (1 when detection runs on the photo).
    public var scale: Double
    public var limit: Limit

    /// Pixels the network sees.
    public var detectionPixels: Int { width * height << (2 * upsample) }

    /// About the smallest face, in photo pixels, the detector can find: MMOD's 80 px window finds
    /// faces down to about 40 px at the scale it sees.
    public var smallestFace: Double { 40 / (scale * Double(1 << upsample)) }
}

extension FacePipeline {
    /// The working-size limit: pixels of detection input (after upsampling). With 12 million, the
    /// peak resident memory of `faces` stays below 1.5 GB for any image `ImageIO` accepts.
    public static let maxDetectionPixels = 12_000_000

    /// Where detection of a `width` x `height` photo runs.
    ///
    /// `maxSide` first scales the copy so its longest side fits; then, if the copy upsampled
    /// `upsample` times would exceed `maxDetectionPixels`, it is reduced further, trading an
    /// upsampling level for a twice larger copy where that stays at or below the photo's size
    /// (a bilinear reduction of the photo keeps more detail than upsampling a smaller one).
    public static func detectionPlan(width: Int, height: Int, upsample: Int, maxSide: Int? = nil,
                                     maxPixels: Int = maxDetectionPixels) -> DetectionPlan {
        var scale = 1.0, limit = DetectionPlan.Limit.none, up = upsample
        if let m = maxSide, max(width, height) > m {
            scale = Double(m) / Double(max(width, height)); limit = .maxSide
        }
        let pixels = Double(width) * Double(height) * scale * scale * Double(1 << (2 * up))
        if pixels > Double(maxPixels) {
            scale *= (Double(maxPixels) / pixels).squareRoot(); limit = .workingSize
            while up > 0 && scale * 2 <= 1 { up -= 1; scale *= 2 }
        }
        if limit == .none { return DetectionPlan(width: width, height: height, upsample: up, scale: 1, limit: .none) }
        let rounding: FloatingPointRoundingRule = limit == .workingSize ? .down : .toNearestOrAwayFromZero
        let w = max(1, Int((Double(width) * scale).rounded(rounding)))
        let h = max(1, Int((Double(height) * scale).rounded(rounding)))
        return DetectionPlan(width: w, height: h, upsample: up, scale: Double(w) / Double(width), limit: limit)
    }
}
