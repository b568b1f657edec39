import StudioKit
import StudioFace
import StudioImage

/// The generated-domain rendering convention and the measurement of the generator's own reference
/// quality, from which `QualityThresholds.generated` was set.
///
/// Convention (as `GeneratedCalibration`): the 64x64 render is upscaled bilinearly to
/// `renderSize` (256) px and MMOD runs with upsample 0; the face used is the largest detection.
public enum GeneratedQuality {
    public static let renderSize = 256

    /// The 64 px render upscaled (bilinear) to `size` x `size`.
    public static func upscaled(_ image: RGBImage, size: Int = renderSize) -> RGBImage {
        image.resizedBilinear(width: size, height: size)
    }

    /// One face found in a generated render, with its quality report.
    public struct Assessment: Sendable {
        public var faces: [FacePipeline.AlignedFace]
        public var chosen: Int
        public var report: QualityReport
        public var face: FacePipeline.AlignedFace { faces[chosen] }
        /// Names of the checks that fail.
        public var failing: [String] { report.checks.filter { $0.verdict == .fail }.map(\.name) }
    }

    /// Detects (upsample 0) and assesses the largest face of an upscaled render; nil when MMOD finds none.
    public static func assess(_ image: RGBImage, pipeline: FacePipeline, thresholds: QualityThresholds) -> Assessment? {
        let faces = pipeline.align(image, upsample: 0, detectionMaxSide: nil)
        guard let chosen = ReferenceQuality.largestFace(faces) else { return nil }
        return Assessment(faces: faces, chosen: chosen,
                          report: ReferenceQuality.assess(image: image, faces: faces, chosen: chosen, thresholds: thresholds))
    }

    /// One seed's measurements.
    public struct Sample: Sendable, Equatable {
        public var seed: UInt64
        /// Faces MMOD found (0: nothing the detector takes for a face).
        public var faces: Int
        /// Each check's measured value for the largest face, by check name (empty without a face).
        public var values: [String: Double]
        /// Checks that fail / warn under the thresholds the survey ran with.
        public var failing: [String]
        public var warning: [String]
    }

    /// Renders every seed (`DCGANGenerator.latent(seed:)`, one at a time), upscales, detects and
    /// measures every quality check.
    ///
    /// - Parameter blurRadius: when > 0, each 64 px render is box-blurred with this radius before
    ///   upscaling (`boxBlurred`): the distribution of deliberately blurred draws, which the
    ///   sharpness limit must fail.
    public static func survey(generator: DCGANGenerator, pipeline: FacePipeline, seeds: [UInt64],
                              thresholds: QualityThresholds = .generated, blurRadius: Int = 0,
                              progress: (Int) -> Void = { _ in }) -> [Sample] {
        var out: [Sample] = []
        out.reserveCapacity(seeds.count)
        for seed in seeds {
            let render = generator.generate([DCGANGenerator.latent(seed: seed)])[0]
            let image = upscaled(blurRadius > 0 ? boxBlurred(render, radius: blurRadius) : render)
            if let a = assess(image, pipeline: pipeline, thresholds: thresholds) {
                var values: [String: Double] = [:]
                for c in a.report.checks { values[c.name] = c.value }
                out.append(Sample(seed: seed, faces: a.faces.count, values: values, failing: a.failing,
                                  warning: a.report.checks.filter { $0.verdict == .warn }.map(\.name)))
            } else {
                out.append(Sample(seed: seed, faces: 0, values: [:], failing: ["face_count"], warning: []))
            }
            progress(out.count)
        }
        return out
    }

    /// Mean over the (2r+1)x(2r+1) window, edges clamped, rounded to nearest.
    public static func boxBlurred(_ img: RGBImage, radius r: Int) -> RGBImage {
        guard r > 0, img.width > 0, img.height > 0 else { return img }
        var out = img
        let n = (2 * r + 1) * (2 * r + 1)
        for y in 0..<img.height {
            for x in 0..<img.width {
                for c in 0..<3 {
                    var sum = 0
                    for dy in -r...r {
                        let yy = min(img.height - 1, max(0, y + dy))
                        for dx in -r...r { sum += Int(img[min(img.width - 1, max(0, x + dx)), yy, c]) }
                    }
                    out[x, y, c] = UInt8((sum + n / 2) / n)
                }
            }
        }
        return out
    }

    /// Percentiles reported for each check.
    public static let percentiles: [Double] = [0, 0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 1]

    /// A survey's distribution: for each check, its value at `percentiles` over the seeds with a face
    /// (nearest rank on the sorted values: index `round((n - 1) · p)`).
    public struct Summary: Sendable, Equatable {
        public var seeds: Int
        public var withFace: Int
        /// Check name -> values at `GeneratedQuality.percentiles`.
        public var distribution: [String: [Double]]
        /// Seeds with no failing check (a face found) / with at least one warning and no failure / failing.
        public var passing: Int
        public var warningOnly: Int
        public var failingSeeds: [UInt64]
        /// Check name -> seeds failing it (`face_count` counts seeds without a face).
        public var failuresByCheck: [String: Int]
    }

    public static func summarize(_ samples: [Sample]) -> Summary {
        var distribution: [String: [Double]] = [:]
        let names = Set(samples.flatMap { $0.values.keys })
        for name in names {
            let v = samples.compactMap { $0.values[name] }.sorted()
            distribution[name] = percentiles.map { quantile(v, $0) }
        }
        var failures: [String: Int] = [:]
        for s in samples { for f in s.failing { failures[f, default: 0] += 1 } }
        return Summary(seeds: samples.count, withFace: samples.filter { $0.faces > 0 }.count, distribution: distribution,
                       passing: samples.filter { $0.failing.isEmpty && $0.warning.isEmpty }.count,
                       warningOnly: samples.filter { $0.failing.isEmpty && !$0.warning.isEmpty }.count,
                       failingSeeds: samples.filter { !$0.failing.isEmpty }.map(\.seed),
                       failuresByCheck: failures)
    }

    /// Nearest-rank quantile of sorted values (NaN when empty).
    public static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count - 1) * p).rounded())))]
    }
}

extension GeneratedCalibration {
    /// The same-person threshold for generated faces measured by `studio bench calibrate --domain
    /// generated` (seeds 0..<51, 48 faces, 1,128 different-seed pairs; at most 1 % of them pass):
    /// used when `$STUDIO_HOME/calibration/generated.json` is absent.
    public static let defaultThreshold = 0.508
}
