import StudioKit
import StudioImage

/// The verification loop's judge: the native face pipeline (MMOD -> 5 landmarks -> chip -> 128-D
/// descriptor) against the character's fused identity, plus the drift catalogue's detectors.
///
/// Outputs smaller than `minimumSide` are upscaled (bilinear) before detection, as the generated-domain
/// calibration renders them (`DomainCalibration.renderSize`), so the judge measures what the threshold
/// was calibrated on. The largest face is judged.
public struct FaceIdentityJudge: IdentityJudge, Sendable {
    public let pipeline: FacePipeline
    public let uncertainty: UncertaintyModel
    public var minimumSide: Int
    public var upsample: Int
    /// Largest side detection runs at (larger outputs are detected on a scaled copy).
    public var detectionMaxSide: Int

    public init(pipeline: FacePipeline, uncertainty: UncertaintyModel, minimumSide: Int = 256, upsample: Int = 0,
                detectionMaxSide: Int = 1024) {
        self.pipeline = pipeline; self.uncertainty = uncertainty; self.minimumSide = minimumSide
        self.upsample = upsample; self.detectionMaxSide = detectionMaxSide
    }

    /// The image the judge measures: `image`, or its bilinear upscale to `minimumSide` on the short side.
    public func rendered(_ image: RGBImage) -> RGBImage {
        let short = min(image.width, image.height)
        guard short > 0, short < minimumSide else { return image }
        let s = Double(minimumSide) / Double(short)
        return image.resizedBilinear(width: Int((Double(image.width) * s).rounded()), height: Int((Double(image.height) * s).rounded()))
    }

    public func judge(_ image: RGBImage, character: CharacterRecord, selection: Selection) -> Judgement {
        let img = rendered(image)
        let threshold = uncertainty.threshold(for: selection)
        let aligned = pipeline.align(img, upsample: upsample, detectionMaxSide: detectionMaxSide)
        guard let k = aligned.indices.max(by: { aligned[$0].detection.rect.area < aligned[$1].detection.rect.area }) else {
            return Judgement(verdict: .noFace, distance: nil, threshold: threshold, selection: selection, confidence: 1, faces: 0, box: nil, findings: [])
        }
        let a = aligned[k]
        let descriptor = pipeline.recognizer.descriptor(a.chip)
        let face = DetectedFace(box: a.detection.rect, confidence: a.detection.confidence, landmarks: a.landmarks, descriptor: descriptor)
        let d = descriptor.distance(to: character.identity)
        let (verdict, confidence) = uncertainty.verdict(distance: d, selection: selection)
        let drift = DriftDetector.assess(reference: character, output: FaceAttributes(), outputFace: face, chip: a.chip, image: img,
                                         identityThreshold: threshold)
        return Judgement(verdict: verdict, distance: d, threshold: threshold, selection: selection, confidence: confidence,
                         faces: aligned.count, box: a.detection.rect, findings: drift.findings, driftLevels: drift.levels)
    }
}
