#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StudioKit
import StudioTensor

/// The 128-D face descriptor network (dlib's ResNet), run natively.
///
/// Input: a 150x150 aligned face chip (see `FaceChip`). Output: the descriptor whose Euclidean
/// distance separates identities at 0.6.
public struct FaceRecognizer: Sendable {
    public let network: DlibNetwork
    public static let chipSize = 150

    public init(network: DlibNetwork) {
        precondition(network.architecture.name == NetworkArchitecture.faceRecognitionResNet.name, "not the ResNet")
        self.network = network
    }

    /// Loads `dlib_face_recognition_resnet_model_v1.dat`.
    public init(contentsOf path: String) throws {
        let bytes = try readModelFile(path)
        self.init(network: try DlibNetwork(bytes: bytes, file: path, architecture: .faceRecognitionResNet))
    }

    /// The network input for a batch of chips: planar RGB, `(pixel - mean) / 256` per channel,
    /// as dlib's `input_rgb_image_sized::to_tensor`.
    public func inputTensor(_ chips: [RGBImage]) -> Tensor {
        let s = Self.chipSize
        var t = Tensor(n: chips.count, c: 3, h: s, w: s)
        let means = [network.input.avgRed, network.input.avgGreen, network.input.avgBlue]
        for (n, chip) in chips.enumerated() {
            precondition(chip.width == s && chip.height == s, "face chip must be \(s)x\(s), got \(chip.width)x\(chip.height)")
            chip.pixels.withUnsafeBufferPointer { px in
                t.data.withUnsafeMutableBufferPointer { dst in
                    for c in 0..<3 {
                        let m = means[c]
                        let base = dst.baseAddress! + (n * 3 + c) * s * s
                        for i in 0..<(s * s) { base[i] = (Float(px[i * 3 + c]) - m) / 256 }
                    }
                }
            }
        }
        return t
    }

    /// Descriptors for a batch of 150x150 chips.
    public func descriptors(_ chips: [RGBImage]) -> [FaceDescriptor] {
        if chips.isEmpty { return [] }
        let out = network.forward(inputTensor(chips))
        return (0..<chips.count).map { n in FaceDescriptor(Array(out.data[(n * out.c)..<((n + 1) * out.c)])) }
    }

    /// The descriptor of one 150x150 chip.
    public func descriptor(_ chip: RGBImage) -> FaceDescriptor { descriptors([chip])[0] }
}

/// Reads a model file whole, with a clear error when it is missing or unreadable.
func readModelFile(_ path: String) throws -> [UInt8] {
    switch FileBytes.read(path, limit: 1 << 30) {
    case .success(let b): return b
    case .failure(.cannotOpen):
        throw ModelFormatError.missing(path)
    case .failure(let f): throw ModelFormatError(file: path, offset: 0, detail: f.description)
    }
}
