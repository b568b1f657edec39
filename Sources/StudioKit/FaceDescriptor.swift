/// A face-recognition embedding (128 floats for dlib's ResNet), with the metrics studio reports.
public struct FaceDescriptor: Sendable, Hashable, Codable {
    public var values: [Float]
    public init(_ values: [Float]) { self.values = values }

    /// dlib's decision margin: two descriptors closer than this are the same person.
    public static let sameIdentityDistance: Double = 0.6

    /// Euclidean distance, accumulated in Double.
    public func distance(to other: FaceDescriptor) -> Double {
        precondition(values.count == other.values.count, "descriptor sizes differ")
        var s = 0.0
        for i in values.indices { let d = Double(values[i]) - Double(other.values[i]); s += d * d }
        return s.squareRoot()
    }

    /// Cosine similarity in [-1, 1]; 0 when either vector is zero.
    public func cosineSimilarity(to other: FaceDescriptor) -> Double {
        precondition(values.count == other.values.count, "descriptor sizes differ")
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in values.indices {
            let a = Double(values[i]), b = Double(other.values[i])
            dot += a * b; na += a * a; nb += b * b
        }
        let d = (na * nb).squareRoot()
        return d > 0 ? dot / d : 0
    }
}

/// One face found in an image by the identity pipeline.
public struct DetectedFace: Sendable, Hashable, Codable {
    /// Detector box, `[left, top, right, bottom]` inclusive, in the input image's coordinates.
    public var box: Rect
    /// Detector confidence (MMOD score; > 0 means detected).
    public var confidence: Double
    /// The five landmarks in dlib's order (see `FiveLandmarks`), integer-valued as dlib rounds them.
    public var landmarks: [Point]
    /// The identity embedding of the aligned face chip.
    public var descriptor: FaceDescriptor

    public init(box: Rect, confidence: Double, landmarks: [Point], descriptor: FaceDescriptor) {
        self.box = box; self.confidence = confidence; self.landmarks = landmarks; self.descriptor = descriptor
    }
}
