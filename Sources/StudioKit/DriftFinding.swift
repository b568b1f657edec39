/// A drift mode found in a generated face: the measured value against the character's.
public struct DriftFinding: Sendable, Codable, Equatable {
    public var modeId: String
    /// The output's value (for label changes: 1).
    public var measured: Double
    /// The character's value, when the comparison uses one.
    public var referenceValue: Double?
    /// As the detector's comparison defines it (`DriftMode.Detector.Comparison`).
    public var delta: Double
    public var threshold: Double
    public var unit: String
    /// Explanation for people, with both values.
    public var detail: String

    public init(modeId: String, measured: Double, referenceValue: Double?, delta: Double, threshold: Double, unit: String, detail: String) {
        self.modeId = modeId; self.measured = measured; self.referenceValue = referenceValue; self.delta = delta
        self.threshold = threshold; self.unit = unit; self.detail = detail
    }
}
