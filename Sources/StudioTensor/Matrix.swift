import CBLAS

/// A row-major float matrix: `data[r * cols + c]`. The activations of sequence models
/// (rows = tokens, cols = features).
public struct Matrix: Sendable, Equatable {
    public var rows: Int
    public var cols: Int
    public var data: [Float]

    public init(rows: Int, cols: Int, data: [Float]) {
        precondition(data.count == rows * cols, "Matrix: \(data.count) values for \(rows)x\(cols)")
        self.rows = rows; self.cols = cols; self.data = data
    }

    public init(rows: Int, cols: Int) { self.init(rows: rows, cols: cols, data: [Float](repeating: 0, count: rows * cols)) }

    /// Row `r` as an array.
    public func row(_ r: Int) -> [Float] { Array(data[(r * cols)..<((r + 1) * cols)]) }

    /// Columns `start ..< start + count` of every row.
    public func columns(_ start: Int, _ count: Int) -> Matrix {
        var out = Matrix(rows: rows, cols: count)
        for r in 0..<rows { for c in 0..<count { out.data[r * count + c] = data[r * cols + start + c] } }
        return out
    }

    public func maxAbsDifference(_ other: Matrix) -> Float {
        precondition(rows == other.rows && cols == other.cols, "maxAbsDifference: shapes differ")
        return zip(data, other.data).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}

extension Kernels {
    /// PyTorch's `nn.Linear`: `y = x · Wᵀ + b` with `x` [rows, in], `weight` [out, in] row-major
    /// (PyTorch's layout), `bias` [out]; `y` [rows, out]. SGEMM; `Reference.linear` is the loop.
    public static func linear(_ x: Matrix, weight: [Float], bias: [Float]?, outFeatures: Int) -> Matrix {
        precondition(weight.count == outFeatures * x.cols, "linear: \(weight.count) weights for \(outFeatures)x\(x.cols)")
        var y = Matrix(rows: x.rows, cols: outFeatures)
        if let bias {
            precondition(bias.count == outFeatures, "linear: \(bias.count) biases for \(outFeatures) outputs")
            for r in 0..<x.rows { for o in 0..<outFeatures { y.data[r * outFeatures + o] = bias[o] } }
        }
        x.data.withUnsafeBufferPointer { xp in
        weight.withUnsafeBufferPointer { wp in
        y.data.withUnsafeMutableBufferPointer { yp in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(x.rows), Int32(outFeatures), Int32(x.cols),
                        1, xp.baseAddress!, Int32(x.cols), wp.baseAddress!, Int32(x.cols), bias == nil ? 0 : 1,
                        yp.baseAddress!, Int32(outFeatures))
        }}}
        return y
    }

    /// `a · bᵀ` for `a` [m, k] and `b` [n, k]: [m, n] (attention scores from queries and keys).
    public static func matmulTransposed(_ a: Matrix, _ b: Matrix) -> Matrix {
        linear(a, weight: b.data, bias: nil, outFeatures: b.rows)
    }

    /// `a · b` for `a` [m, k] and `b` [k, n]: [m, n].
    public static func matmul(_ a: Matrix, _ b: Matrix) -> Matrix {
        precondition(a.cols == b.rows, "matmul: \(a.rows)x\(a.cols) times \(b.rows)x\(b.cols)")
        var y = Matrix(rows: a.rows, cols: b.cols)
        a.data.withUnsafeBufferPointer { ap in
        b.data.withUnsafeBufferPointer { bp in
        y.data.withUnsafeMutableBufferPointer { yp in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(a.rows), Int32(b.cols), Int32(a.cols),
                        1, ap.baseAddress!, Int32(a.cols), bp.baseAddress!, Int32(b.cols), 0, yp.baseAddress!, Int32(b.cols))
        }}}
        return y
    }
}
