/// The weight files the native face pipeline runs, with their provenance.
///
/// Set-up (`scripts/setup.sh`) fetches them from the PyPI source distribution
/// `face-recognition-models==0.3.0` and checks these SHA-256 sums.
public struct ModelInfo: Sendable, Equatable, Codable {
    public var role: String
    public var file: String
    public var sha256: String
    public var bytes: Int
    public var licence: String
    public var source: String
}

public enum ModelCatalog {
    static let source = "PyPI sdist face-recognition-models==0.3.0 (face_recognition_models/models/)"

    public static let recognizer = ModelInfo(
        role: "face descriptor (ResNet, 128-D)", file: "dlib_face_recognition_resnet_model_v1.dat",
        sha256: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", bytes: 22_466_066,
        licence: "CC0-1.0", source: source)
    public static let detector = ModelInfo(
        role: "face detector (MMOD CNN)", file: "mmod_human_face_detector.dat",
        sha256: "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6", bytes: 729_940,
        licence: "CC0-1.0", source: source)
    public static let landmarks5 = ModelInfo(
        role: "5-point landmarks (regression trees)", file: "shape_predictor_5_face_landmarks.dat",
        sha256: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", bytes: 9_150_489,
        licence: "CC0-1.0", source: source)

    /// The local generator: a DCGAN producing 64x64 faces. Fetched from the PyPI wheel
    /// `gan-face-generate==1.1.1` (its `gan_face_generate/weights.tar`, a PyTorch zip checkpoint).
    public static let generator = ModelInfo(
        role: "face generator (DCGAN, 64x64)", file: "gan_face_generate_weights.tar",
        sha256: "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f", bytes: 14_322_251,
        licence: "code MIT; weights trained on DigiFace-1M (research/non-commercial licence)",
        source: "PyPI wheel gan-face-generate==1.1.1 (gan_face_generate/weights.tar)")

    public static let all = [detector, landmarks5, recognizer, generator]
}
