/// The two dlib network architectures studio runs, written out layer by layer (input side first).
extension NetworkArchitecture {
    /// dlib's face recognition ResNet (`examples/dnn_face_recognition_ex.cpp`, `anet_type`):
    /// 29 convolutions, 150x150 RGB in, 128-D descriptor out.
    public static let faceRecognitionResNet: NetworkArchitecture = {
        var l: [LayerSpec] = [.con(filters: 32, kernel: 7, stride: 2), .affine, .relu, .maxPool(kernel: 3, stride: 2)]
        // block<N,stride> = affine(con3x3/1(relu(affine(con3x3/stride(x)))))
        func block(_ n: Int, _ stride: Int) -> [LayerSpec] {
            [.con(filters: n, kernel: 3, stride: stride), .affine, .relu, .con(filters: n, kernel: 3, stride: 1), .affine]
        }
        // ares<N> = relu(add_prev1(block<N,1>(tag1(x))))
        func ares(_ n: Int) -> [LayerSpec] { [.tag(1)] + block(n, 1) + [.addPrev(tag: 1), .relu] }
        // ares_down<N> = relu(add_prev2(avg_pool2x2/2(skip1(tag2(block<N,2>(tag1(x)))))))
        func aresDown(_ n: Int) -> [LayerSpec] {
            [.tag(1)] + block(n, 2) + [.tag(2), .skip(1), .avgPool(kernel: 2, stride: 2), .addPrev(tag: 2), .relu]
        }
        l += ares(32) + ares(32) + ares(32)                                   // alevel4
        l += aresDown(64) + ares(64) + ares(64) + ares(64)                    // alevel3
        l += aresDown(128) + ares(128) + ares(128)                            // alevel2
        l += aresDown(256) + ares(256) + ares(256)                            // alevel1
        l += aresDown(256)                                                    // alevel0
        l += [.avgPoolEverything, .fcNoBias(outputs: 128)]
        return NetworkArchitecture(name: "dlib_face_recognition_resnet_model_v1", input: .rgbSized(150), layers: l, loss: .metric)
    }()

    /// dlib's MMOD CNN face detector (`examples/dnn_mmod_face_detection_ex.cpp`):
    /// three 5x5/2 downsampling convolutions (16, 32, 32 filters), three 5x5 convolutions of 45
    /// filters, and a 9x9 single-filter output, over an image pyramid (pyramid_down<6>).
    public static let mmodFaceDetector: NetworkArchitecture = {
        var l: [LayerSpec] = []
        for n in [16, 32, 32] { l += [.con(filters: n, kernel: 5, stride: 2), .affine, .relu] }
        for _ in 0..<3 { l += [.con(filters: 45, kernel: 5, stride: 1), .affine, .relu] }
        l += [.con(filters: 1, kernel: 9, stride: 1)]
        return NetworkArchitecture(name: "mmod_human_face_detector", input: .rgbPyramid, layers: l, loss: .mmod)
    }()
}
