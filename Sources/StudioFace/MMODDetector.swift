import StudioKit
import StudioTensor

/// One face found by the MMOD detector.
public struct MMODDetection: Sendable, Equatable {
    /// `[left, top, right, bottom]` inclusive, in the coordinates of the image given to `detect`
    /// (may extend outside it).
    public var rect: Rect
    /// The network's score at the detection (> 0 means detected; dlib's `detection_confidence`).
    public var confidence: Double

    public init(rect: Rect, confidence: Double) {
        self.rect = rect; self.confidence = confidence
    }
}

/// dlib's MMOD CNN face detector (`mmod_human_face_detector.dat`), run natively.
///
/// `detect` reproduces dlib's python `cnn_face_detection_model_v1(img, upsample_num_times)`:
/// `pyramid_up` the image `upsample` times, build the tiled `pyramid_down<6>` input tensor
/// (`input_rgb_image_pyramid::to_tensor`), run the network, turn every positive output into an
/// 80x80 window mapped back through the pyramid (`loss_mmod_::to_label`), sort by score, suppress
/// overlaps (`test_box_overlap`), and map the boxes down with `pyramid_down<2>::rect_down`.
public struct MMODDetector: Sendable {
    public let network: DlibNetwork
    public let options: MMODOptions
    /// `output_tensor_to_input_tensor` is `input = output * scale + offset` for this network
    /// (8x + 14 for the face detector: three unpadded 5x5/2 convolutions).
    let outputToInputScale: Double
    let outputToInputOffset: Double

    public init(network: DlibNetwork) {
        guard let opts = network.mmod else { preconditionFailure("MMODDetector: the network has no MMOD loss layer") }
        precondition(network.architecture.input == .rgbPyramid, "MMODDetector: the network's input is not an image pyramid")
        precondition(!opts.useBoundingBoxRegression, "MMODDetector: bounding-box regression is not supported")
        self.network = network
        self.options = opts
        // dlib's visitor walks from the output layer to the input, applying each layer's
        // map_output_to_input: con/pool: p * stride - padding + k/2 (integer k/2); others identity.
        // Each step is affine, so track p = a * out + b.
        var a = 1.0, b = 0.0
        for layer in network.architecture.layers.reversed() {
            switch layer {
            case .con(_, let k, let s), .maxPool(let k, let s), .avgPool(let k, let s):
                let pad = s == 1 ? k / 2 : 0
                a = a * Double(s); b = b * Double(s) - Double(pad) + Double(k / 2)
            default: break
            }
        }
        outputToInputScale = a
        outputToInputOffset = b
    }

    /// Loads `mmod_human_face_detector.dat`.
    public init(contentsOf path: String) throws {
        let bytes = try readModelFile(path)
        self.init(network: try DlibNetwork(bytes: bytes, file: path, architecture: .mmodFaceDetector))
    }

    /// The tiled pyramid dlib lays out for an image of this size.
    public func pyramidLayout(width: Int, height: Int) -> TiledPyramid {
        TiledPyramid(imageWidth: width, imageHeight: height, pyramid: PyramidDown(6),
                     padding: network.input.pyramidPadding, outerPadding: network.input.pyramidOuterPadding)
    }

    /// The network input for `image` (no upsampling) and the pyramid layout it uses.
    public func inputTensor(_ image: RGBImage) -> (tensor: Tensor, layout: TiledPyramid) {
        let layout = pyramidLayout(width: image.width, height: image.height)
        let t = layout.inputTensor(image, means: (network.input.avgRed, network.input.avgGreen, network.input.avgBlue))
        return (t, layout)
    }

    /// dlib's `output_tensor_to_input_tensor(net, point(c, r))`.
    public func outputToInput(column c: Int, row r: Int) -> Point {
        Point(x: Double(c) * outputToInputScale + outputToInputOffset, y: Double(r) * outputToInputScale + outputToInputOffset)
    }

    /// Every output position scoring above `adjustThreshold`, as dlib's `tensor_to_dets` lists them
    /// before suppression: window centred on the mapped position, mapped to image space and rounded,
    /// sorted by descending score exactly as dlib's `std::sort` leaves them.
    public func candidates(output: Tensor, layout: TiledPyramid, adjustThreshold: Double = 0) -> [MMODDetection] {
        precondition(output.n == 1, "MMODDetector: one sample at a time")
        precondition(output.c == options.detectorWindows.count,
                     "MMODDetector: output has \(output.c) channels for \(options.detectorWindows.count) windows")
        var dets: [MMODDetection] = []
        let plane = output.h * output.w
        output.data.withUnsafeBufferPointer { od in
            for k in 0..<output.c {
                let win = options.detectorWindows[k]
                for r in 0..<output.h {
                    for c in 0..<output.w {
                        let score = Double(od[k * plane + r * output.w + c])
                        if score > adjustThreshold {
                            let p = outputToInput(column: c, row: r)
                            let t = DRectangle.centered(at: p, width: Double(win.width), height: Double(win.height))
                            dets.append(MMODDetection(rect: layout.tensorSpaceToImageSpace(t).rounded, confidence: score))
                        }
                    }
                }
            }
        }
        // std::sort(dets.rbegin(), dets.rend()) with operator< on the confidence: libstdc++'s
        // introsort over the reversed sequence.
        dets.reverse()
        LibstdcxxSort.sort(&dets) { $0.confidence < $1.confidence }
        dets.reverse()
        return dets
    }

    /// `loss_mmod_::to_label`: candidates in order, each kept unless it overlaps one already kept
    /// (`test_box_overlap(nmsIoU, nmsPercentCovered)`).
    public func detections(output: Tensor, layout: TiledPyramid, adjustThreshold: Double = 0) -> [MMODDetection] {
        Self.nonMaxSuppression(candidates(output: output, layout: layout, adjustThreshold: adjustThreshold),
                               iouThreshold: options.nmsIoU, percentCoveredThreshold: options.nmsPercentCovered)
    }

    /// Greedy suppression in the given order (dlib's `overlaps_any_box_nms`).
    public static func nonMaxSuppression(_ candidates: [MMODDetection], iouThreshold: Double,
                                         percentCoveredThreshold: Double) -> [MMODDetection] {
        var kept: [MMODDetection] = []
        for d in candidates {
            if kept.contains(where: { boxesOverlap($0.rect, d.rect, iouThreshold: iouThreshold, percentCoveredThreshold: percentCoveredThreshold) }) {
                continue
            }
            kept.append(d)
        }
        return kept
    }

    /// dlib's `test_box_overlap(iou, percent_covered)(a, b)`. Note that dlib's "IoU" divides the
    /// intersection by the area of the smallest box containing both (`(a + b).area()`), not by the
    /// area of their union; "percent covered" is the intersection over either box's area.
    public static func boxesOverlap(_ a: Rect, _ b: Rect, iouThreshold: Double, percentCoveredThreshold: Double) -> Bool {
        let inner = Double(a.intersection(b).area)
        if inner == 0 { return false }
        let hull: Rect
        if b.isEmpty { hull = a } else if a.isEmpty { hull = b } else {
            hull = Rect(left: min(a.left, b.left), top: min(a.top, b.top), right: max(a.right, b.right), bottom: max(a.bottom, b.bottom))
        }
        let outer = Double(hull.area)
        return inner / outer > iouThreshold || inner / Double(a.area) > percentCoveredThreshold
            || inner / Double(b.area) > percentCoveredThreshold
    }

    /// Canvas pixels one band of the network pass covers: the activations held at once are about
    /// 28 bytes per such pixel (the band's input, and the first convolution's 16 channels at a
    /// quarter of the pixels) plus the 32 MB im2col block, so about 150 MB whatever the image's size.
    public static let bandPixels = 4 << 20

    /// Faces in `image`, as dlib's python `cnn_face_detection_model_v1(image, upsample)` returns them
    /// (the order is dlib's: by descending confidence, after suppression).
    ///
    /// - Parameter upsample: how many times to double the image first (`pyramid_up`); finds faces
    ///   down to about 40 px (0), 20 px (1)...; each level costs about 4x time and memory.
    ///   The network runs in row bands (`DlibNetwork.forwardInRowBands`, same result), so the
    ///   memory is the tiled pyramid tensor (about 45 bytes per upsampled pixel) and one band;
    ///   `FacePipeline.detectionPlan` bounds the pixels for images of any size.
    public func detect(_ image: RGBImage, upsample: Int = 0) -> [MMODDetection] {
        precondition(upsample >= 0, "MMODDetector: negative upsample")
        var img = image
        for _ in 0..<upsample { img = DlibResize.pyramidUp(img) }
        if img.width * img.height == 0 { return [] }
        let layout = pyramidLayout(width: img.width, height: img.height)
        if layout.rects.isEmpty || !layout.isValid { return [] }   // dlib: nothing, or undefined behaviour
        let input = layout.inputTensor(img, means: (network.input.avgRed, network.input.avgGreen, network.input.avgBlue))
        img = RGBImage(width: 0, height: 0)   // release the upsampled copy before the network runs
        let output = network.forwardInRowBands(input, bandPixels: Self.bandPixels)
        var dets = detections(output: output, layout: layout)
        if upsample > 0 {
            let pyr = PyramidDown(2)
            for i in dets.indices { dets[i].rect = pyr.rectDown(DRectangle(dets[i].rect), levels: upsample).rounded }
        }
        return dets
    }
}

// MARK: - libstdc++ std::sort

/// GCC's `std::sort` (introsort: median-of-three quicksort down to 16-element runs, heapsort past
/// 2*log2(n) levels, then insertion sort), step for step, so that elements comparing equal end up
/// in the same order as in dlib. Only `less` is used, as `std::sort` does.
enum LibstdcxxSort {
    static let threshold = 16

    static func sort<T>(_ a: inout [T], _ less: (T, T) -> Bool) {
        let n = a.count
        if n < 2 { return }
        var lg = 0
        while (n >> (lg + 1)) > 0 { lg += 1 }
        introsortLoop(&a, 0, n, lg * 2, less)
        finalInsertionSort(&a, 0, n, less)
    }

    static func introsortLoop<T>(_ a: inout [T], _ first: Int, _ lastIn: Int, _ depthIn: Int, _ less: (T, T) -> Bool) {
        var last = lastIn, depth = depthIn
        while last - first > threshold {
            if depth == 0 {
                heapSelectAndSort(&a, first, last, less)
                return
            }
            depth -= 1
            let cut = unguardedPartitionPivot(&a, first, last, less)
            introsortLoop(&a, cut, last, depth, less)
            last = cut
        }
    }

    static func unguardedPartitionPivot<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) -> Int {
        let mid = first + (last - first) / 2
        moveMedianToFirst(&a, first, first + 1, mid, last - 1, less)
        return unguardedPartition(&a, first + 1, last, first, less)
    }

    static func moveMedianToFirst<T>(_ a: inout [T], _ result: Int, _ x: Int, _ y: Int, _ z: Int, _ less: (T, T) -> Bool) {
        if less(a[x], a[y]) {
            if less(a[y], a[z]) { a.swapAt(result, y) }
            else if less(a[x], a[z]) { a.swapAt(result, z) }
            else { a.swapAt(result, x) }
        } else if less(a[x], a[z]) { a.swapAt(result, x) }
        else if less(a[y], a[z]) { a.swapAt(result, z) }
        else { a.swapAt(result, y) }
    }

    static func unguardedPartition<T>(_ a: inout [T], _ firstIn: Int, _ lastIn: Int, _ pivot: Int, _ less: (T, T) -> Bool) -> Int {
        var first = firstIn, last = lastIn
        while true {
            while less(a[first], a[pivot]) { first += 1 }
            last -= 1
            while less(a[pivot], a[last]) { last -= 1 }
            if !(first < last) { return first }
            a.swapAt(first, last)
            first += 1
        }
    }

    static func finalInsertionSort<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) {
        if last - first > threshold {
            insertionSort(&a, first, first + threshold, less)
            for i in (first + threshold)..<last { unguardedLinearInsert(&a, i, less) }
        } else {
            insertionSort(&a, first, last, less)
        }
    }

    static func insertionSort<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) {
        if first == last { return }
        var i = first + 1
        while i < last {
            if less(a[i], a[first]) {
                let v = a[i]
                var j = i
                while j > first { a[j] = a[j - 1]; j -= 1 }
                a[first] = v
            } else {
                unguardedLinearInsert(&a, i, less)
            }
            i += 1
        }
    }

    static func unguardedLinearInsert<T>(_ a: inout [T], _ lastIn: Int, _ less: (T, T) -> Bool) {
        let v = a[lastIn]
        var last = lastIn, next = lastIn - 1
        while less(v, a[next]) {
            a[last] = a[next]
            last = next
            next -= 1
        }
        a[last] = v
    }

    // std::__partial_sort(first, last, last): __heap_select (= make_heap when middle == last),
    // then __sort_heap.
    static func heapSelectAndSort<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) {
        let len = last - first
        if len >= 2 {
            var parent = (len - 2) / 2
            while true {
                let v = a[first + parent]
                adjustHeap(&a, first, parent, len, v, less)
                if parent == 0 { break }
                parent -= 1
            }
        }
        var end = last
        while end - first > 1 {
            end -= 1
            // __pop_heap(first, end, end): value = *end; *end = *first; adjust_heap(first, 0, end-first, value)
            let v = a[end]
            a[end] = a[first]
            adjustHeap(&a, first, 0, end - first, v, less)
        }
    }

    static func adjustHeap<T>(_ a: inout [T], _ first: Int, _ holeIn: Int, _ len: Int, _ value: T, _ less: (T, T) -> Bool) {
        let top = holeIn
        var hole = holeIn
        var child = hole
        while child < (len - 1) / 2 {
            child = 2 * (child + 1)
            if less(a[first + child], a[first + child - 1]) { child -= 1 }
            a[first + hole] = a[first + child]
            hole = child
        }
        if (len & 1) == 0 && child == (len - 2) / 2 {
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        }
        // __push_heap(first, hole, top, value)
        var parent = (hole - 1) / 2
        while hole > top && less(a[first + parent], value) {
            a[first + hole] = a[first + parent]
            hole = parent
            parent = (hole - 1) / 2
        }
        a[first + hole] = value
    }
}
