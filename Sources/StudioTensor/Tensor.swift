import CBLAS

/// A dense float32 tensor in NCHW order (samples, channels, rows, columns).
///
/// Element `(n, c, y, x)` lives at `((n * channels + c) * height + y) * width + x`.
/// A value type: copies are cheap until written (the storage is a Swift array).
public struct Tensor: Sendable, Equatable {
    public private(set) var n: Int
    public private(set) var c: Int
    public private(set) var h: Int
    public private(set) var w: Int
    public var data: [Float]

    public init(n: Int = 1, c: Int, h: Int, w: Int, data: [Float]) {
        precondition(n >= 0 && c >= 0 && h >= 0 && w >= 0, "Tensor: negative dimension")
        precondition(data.count == n * c * h * w, "Tensor: \(data.count) values for \(n)x\(c)x\(h)x\(w)")
        self.n = n; self.c = c; self.h = h; self.w = w; self.data = data
    }

    /// A zero-filled tensor.
    public init(n: Int = 1, c: Int, h: Int, w: Int) {
        self.init(n: n, c: c, h: h, w: w, data: [Float](repeating: 0, count: n * c * h * w))
    }

    /// A tensor whose every element the caller will write before reading (skips the zero fill).
    ///
    /// - Parameter fill: receives the uninitialised buffer and must initialise all of it.
    public init(n: Int = 1, c: Int, h: Int, w: Int, uninitialized fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = n * c * h * w
        let data = [Float](unsafeUninitializedCapacity: count) { buf, initialized in
            fill(buf)
            initialized = count
        }
        self.init(n: n, c: c, h: h, w: w, data: data)
    }

    public var count: Int { n * c * h * w }
    public var shape: [Int] { [n, c, h, w] }

    @inlinable public subscript(n: Int, c: Int, y: Int, x: Int) -> Float {
        get { data[((n * self.c + c) * h + y) * w + x] }
        set { data[((n * self.c + c) * h + y) * w + x] = newValue }
    }

    /// Reinterprets the same values with another shape of equal element count.
    public func reshaped(n: Int = 1, c: Int, h: Int, w: Int) -> Tensor {
        Tensor(n: n, c: c, h: h, w: w, data: data)
    }

    /// Largest absolute difference between two tensors of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: shapes \(shape) and \(other.shape)")
        var m: Float = 0
        for i in data.indices { m = max(m, abs(data[i] - other.data[i])) }
        return m
    }
}

/// Controls the BLAS thread pool used by the heavy kernels.
public enum ComputeThreads {
    /// Sets how many threads OpenBLAS may use (1 = single-threaded).
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
    /// The number of threads OpenBLAS uses now.
    public static var current: Int { Int(openblas_get_num_threads()) }
}

#if os(Linux)
/// glibc's `mallopt` (declared in malloc.h, which the Glibc module does not export).
@_silgen_name("mallopt") private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
private let M_TRIM_THRESHOLD: Int32 = -1, M_MMAP_THRESHOLD: Int32 = -3

/// Process-wide allocator policy for inference workloads.
public enum MemoryPolicy {
    /// Keeps freed large blocks in the heap instead of returning them to the OS.
    ///
    /// Every layer allocates its output; glibc serves blocks above its mmap threshold with fresh
    /// mappings and unmaps them on free, so each inference re-faults every page (dlib pays this too:
    /// much of its MMOD time is page faults). Raising the thresholds once makes repeated inference
    /// reuse the same memory. Call at program start; safe to call more than once.
    public static func retainFreedMemory() {
        _ = glibcMallopt(M_MMAP_THRESHOLD, 1 << 30)
        _ = glibcMallopt(M_TRIM_THRESHOLD, Int32.max)
    }
}
#endif
