import StudioKit
import StudioFace
import StudioImage

/// The same-person threshold for faces from the local generator.
///
/// dlib's 0.6 was set on real photos. This generator's faces are far less diverse (different seeds
/// are often closer than 0.6), so 0.6 would accept strangers. The calibrated threshold is the distance
/// below which at most `targetFalseAcceptRate` of different-seed pairs fall: the empirical quantile of
/// the different-seed distance distribution, from every pair of `samples` seeds.
public struct DomainCalibration: Sendable, Codable, Equatable {
    public var domain: String
    /// Side of the square image the faces are rendered at before detection (64 px upscaled, bilinear).
    public var renderSize: Int
    public var firstSeed: UInt64
    /// Seeds rendered (`firstSeed ..< firstSeed + samples`).
    public var samples: Int
    /// Seeds in which MMOD found a face; the others are left out (the generator sometimes draws
    /// something that is not a face) and seeds are drawn until `detected` reaches the target.
    public var detected: Int
    public var pairs: Int
    public var targetFalseAcceptRate: Double
    public var threshold: Double
    /// Different-seed distances: min, p01, p05, median, p95, max.
    public var distanceSummary: [String: Double]
    /// Fraction of pairs below dlib's 0.6 (what the real-photo threshold would accept).
    public var falseAcceptRateAtDlibThreshold: Double
}

public enum GeneratedCalibration {
    /// Renders seeds from `firstSeed` on until `faces` of them have a detected face (at most 4x as
    /// many seeds), embeds each face with the native pipeline and picks the threshold from all
    /// different-seed pairs (`faces * (faces - 1) / 2` of them).
    ///
    /// - Parameter progress: called with the number of faces embedded so far.
    public static func run(generator: DCGANGenerator, pipeline: FacePipeline, faces: Int, firstSeed: UInt64 = 0,
                           renderSize: Int = 256, targetFalseAcceptRate: Double = 0.01,
                           progress: (Int) -> Void = { _ in }) -> DomainCalibration {
        precondition(faces >= 2, "calibration needs at least two faces")
        var descriptors: [FaceDescriptor] = []
        var start = 0
        while descriptors.count < faces && start < 4 * faces {
            let seeds = (start..<(start + 16)).map { firstSeed &+ UInt64($0) }
            for img in generator.generate(seeds: seeds) {
                start += 1
                let big = img.resizedBilinear(width: renderSize, height: renderSize)
                if let face = pipeline.faces(in: big, upsample: 0).max(by: { $0.box.area < $1.box.area }) {
                    descriptors.append(face.descriptor)
                    if descriptors.count == faces { break }
                }
            }
            progress(descriptors.count)
        }
        var distances: [Double] = []
        distances.reserveCapacity(descriptors.count * (descriptors.count - 1) / 2)
        for i in 0..<descriptors.count { for j in (i + 1)..<descriptors.count { distances.append(descriptors[i].distance(to: descriptors[j])) } }
        distances.sort()
        let threshold = quantileThreshold(sortedDistances: distances, rate: targetFalseAcceptRate)
        func q(_ p: Double) -> Double { distances.isEmpty ? .nan : distances[min(distances.count - 1, Int((Double(distances.count - 1) * p).rounded()))] }
        return DomainCalibration(
            domain: "gan-face-generate-1.1.1", renderSize: renderSize, firstSeed: firstSeed, samples: start,
            detected: descriptors.count, pairs: distances.count, targetFalseAcceptRate: targetFalseAcceptRate,
            threshold: threshold,
            distanceSummary: ["min": q(0), "p01": q(0.01), "p05": q(0.05), "median": q(0.5), "p95": q(0.95), "max": q(1)],
            falseAcceptRateAtDlibThreshold: distances.isEmpty ? .nan
                : Double(distances.filter { $0 < FaceDescriptor.sameIdentityDistance }.count) / Double(distances.count))
    }

    /// The largest threshold `t` such that at most `rate` of the distances are below `t` (a pair is
    /// accepted when its distance is strictly below the threshold).
    public static func quantileThreshold(sortedDistances d: [Double], rate: Double) -> Double {
        guard !d.isEmpty else { return .nan }
        let allowed = Int((rate * Double(d.count)).rounded(.down))   // pairs that may pass
        return allowed < d.count ? d[allowed] : d[d.count - 1]
    }
}
