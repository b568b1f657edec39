import StudioKit

/// dlib's regression-tree cascade landmark predictor (Kazemi & Sullivan, `shape_predictor`).
///
/// Reads serialization version 1 (`initial_shape`, `forests`, `anchor_idx`, `deltas`) and predicts
/// landmarks inside a detection rectangle exactly as `shape_predictor::operator()`: features are
/// grey pixel intensities `(r+g+b)/3` at points placed relative to the current shape estimate; each
/// cascade level adds the leaves of its trees; points are rounded with `floor(x + 0.5)`.
public struct ShapePredictor: Sendable {
    struct Split: Sendable { var idx1: Int32; var idx2: Int32; var thresh: Float }
    /// A full binary tree: `splits` in breadth-first order; leaf `k`'s shape update at
    /// `leaves[k * dims ..< (k+1) * dims]` (flat, so prediction walks contiguous memory).
    struct Tree: Sendable { var splits: [Split]; var leaves: [Float] }

    let initialShape: [Float]
    let forests: [[Tree]]
    let anchors: [[Int]]
    let deltas: [[(Float, Float)]]

    /// Number of landmarks the model predicts (5 for `shape_predictor_5_face_landmarks.dat`).
    public var partCount: Int { initialShape.count / 2 }
    public var cascadeDepth: Int { forests.count }
    public var treeCount: Int { forests.reduce(0) { $0 + $1.count } }

    public init(contentsOf path: String) throws {
        try self.init(bytes: try readModelFile(path), file: path)
    }

    public init(bytes: [UInt8], file: String) throws {
        var s = DlibStream(bytes: bytes, file: file)
        _ = try s.expectInt([1], "shape_predictor version")
        let shape = try s.floatMatrix("initial_shape")
        guard shape.cols == 1 || shape.rows == 1, shape.values.count >= 2, shape.values.count % 2 == 0 else {
            throw s.fail("initial_shape is \(shape.rows)x\(shape.cols)")
        }
        initialShape = shape.values
        let dims = shape.values.count

        let levels = try s.count("number of cascade levels", limit: 1000)
        var forests: [[Tree]] = []
        for level in 0..<levels {
            let ntrees = try s.count("trees in level \(level)", limit: 100_000)
            var trees: [Tree] = []
            trees.reserveCapacity(ntrees)
            for _ in 0..<ntrees {
                let nsplits = try s.count("split count", limit: 1 << 20)
                guard nsplits <= s.remaining / 3 else { throw s.fail("split count \(nsplits) does not fit in the file") }
                var splits: [Split] = []
                splits.reserveCapacity(nsplits)
                for _ in 0..<nsplits {
                    let a = try s.count("split idx1", limit: 1 << 30), b = try s.count("split idx2", limit: 1 << 30)
                    splits.append(Split(idx1: Int32(a), idx2: Int32(b), thresh: try s.float("split threshold")))
                }
                let nleaves = try s.count("leaf count", limit: 1 << 21)
                guard nleaves == nsplits + 1, nleaves & (nleaves - 1) == 0 else {
                    throw s.fail("tree has \(nsplits) splits and \(nleaves) leaves (need a full binary tree)")
                }
                var leaves: [Float] = []
                leaves.reserveCapacity(nleaves * dims)
                for _ in 0..<nleaves {
                    let m = try s.floatMatrix("leaf value")
                    guard m.values.count == dims else { throw s.fail("leaf has \(m.values.count) values, shape has \(dims)") }
                    leaves.append(contentsOf: m.values)
                }
                trees.append(Tree(splits: splits, leaves: leaves))
            }
            forests.append(trees)
        }
        let anchorLevels = try s.count("anchor levels", limit: 1000)
        guard anchorLevels == levels else { throw s.fail("\(anchorLevels) anchor levels for \(levels) cascade levels") }
        var anchors: [[Int]] = []
        for _ in 0..<anchorLevels {
            let n = try s.count("anchor count", limit: 1 << 20)
            anchors.append(try (0..<n).map { _ in
                let a = try s.count("anchor index", limit: Int64(dims / 2 - 1))
                return a
            })
        }
        let deltaLevels = try s.count("delta levels", limit: 1000)
        guard deltaLevels == levels else { throw s.fail("\(deltaLevels) delta levels for \(levels) cascade levels") }
        var deltas: [[(Float, Float)]] = []
        for level in 0..<deltaLevels {
            let n = try s.count("delta count", limit: 1 << 20)
            guard n == anchors[level].count else { throw s.fail("level \(level): \(n) deltas for \(anchors[level].count) anchors") }
            deltas.append(try (0..<n).map { _ in (try s.float("delta x"), try s.float("delta y")) })
        }
        for (level, trees) in forests.enumerated() {
            let features = anchors[level].count
            for t in trees where t.splits.contains(where: { Int($0.idx1) >= features || Int($0.idx2) >= features }) {
                _ = t
                throw s.fail("level \(level): a split refers to a feature beyond the \(features) sampled")
            }
        }
        guard s.atEnd else { throw s.fail("\(s.remaining) unexpected bytes after the shape predictor") }
        self.forests = forests; self.anchors = anchors; self.deltas = deltas
    }

    /// Landmarks for the object in `rect` (which may extend outside the image).
    public func predict(_ image: RGBImage, in rect: Rect) -> [Point] {
        var current = initialShape
        let parts = partCount
        // unnormalizing_tform: (0,0)->tl, (1,0)->tr, (1,1)->br.
        let l = Double(rect.left), t = Double(rect.top)
        let sx = Double(rect.right - rect.left), sy = Double(rect.bottom - rect.top)
        let dims = current.count
        let maxFeatures = anchors.map(\.count).max() ?? 0
        var features = [Float](repeating: 0, count: maxFeatures)
        image.pixels.withUnsafeBufferPointer { px in
        features.withUnsafeMutableBufferPointer { fv in
        current.withUnsafeMutableBufferPointer { cur in
            for level in 0..<forests.count {
                let m = Self.similarity(from: initialShape, to: Array(cur))
                let anchorsL = anchors[level], deltasL = deltas[level]
                for i in 0..<anchorsL.count {
                    let a = anchorsL[i], (dx, dy) = deltasL[i]
                    // Float arithmetic, as dlib: matrix<float,2,2> * vector<float,2> + location.
                    let u = (m.0 * dx + m.1 * dy) + cur[2 * a]
                    let v = (m.2 * dx + m.3 * dy) + cur[2 * a + 1]
                    let x = roundHalfUp(l + Double(u) * sx), y = roundHalfUp(t + Double(v) * sy)
                    if x >= 0 && y >= 0 && x < image.width && y < image.height {
                        let o = (y * image.width + x) * 3
                        fv[i] = Float((Int(px[o]) + Int(px[o + 1]) + Int(px[o + 2])) / 3)
                    } else {
                        fv[i] = 0
                    }
                }
                for tree in forests[level] {
                    tree.splits.withUnsafeBufferPointer { sp in
                    tree.leaves.withUnsafeBufferPointer { lv in
                        var i = 0
                        let n = sp.count
                        while i < n {
                            let split = sp[i]
                            i = fv[Int(split.idx1)] - fv[Int(split.idx2)] > split.thresh ? 2 * i + 1 : 2 * i + 2
                        }
                        let leaf = lv.baseAddress! + (i - n) * dims
                        for d in 0..<dims { cur[d] += leaf[d] }
                    }}
                }
            }
        }}}
        return (0..<parts).map { p in
            Point(x: Double(roundHalfUp(l + Double(current[2 * p]) * sx)),
                  y: Double(roundHalfUp(t + Double(current[2 * p + 1]) * sy)))
        }
    }

    /// The 2x2 part of the similarity transform from the initial shape to the current one, fitted
    /// in double and cast to float, as dlib's `find_tform_between_shapes` + `matrix_cast<float>`.
    static func similarity(from: [Float], to: [Float]) -> (Float, Float, Float, Float) {
        let n = from.count / 2
        if n == 1 { return (1, 0, 0, 1) }
        let t = SimilarityTransform.fit(from: (0..<n).map { (Double(from[2 * $0]), Double(from[2 * $0 + 1])) },
                                        to: (0..<n).map { (Double(to[2 * $0]), Double(to[2 * $0 + 1])) })
        return (Float(t.m00), Float(t.m01), Float(t.m10), Float(t.m11))
    }
}

/// dlib's conversion of a real coordinate to an integer pixel: `floor(x + 0.5)`.
@inline(__always) func roundHalfUp(_ x: Double) -> Int { Int((x + 0.5).rounded(.down)) }
