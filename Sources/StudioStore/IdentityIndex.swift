import StudioKit
#if canImport(Glibc)
import Glibc
#endif

/// One tenant's fused identities, decrypted, as a row-major `[Float]` matrix for brute-force search.
///
/// Row `r` is `matrix[r * dimension ..< (r + 1) * dimension]`, the identity of `names[r]`.
///
/// ### Search
/// `nearest` computes every row's squared Euclidean distance to the query in `Float` (8-wide SIMD, rows
/// split over the cores when the matrix is large), keeps the `top + 16` smallest, then recomputes those
/// candidates' distances and cosine similarities exactly in `Double` (`FaceDescriptor.distance`) and
/// orders them by (distance, name). The 16 extra candidates absorb `Float` rounding near the cut, so the
/// result equals an all-`Double` brute force. Cost: one pass over `n * dimension * 4` bytes (51 MB for
/// 100,000 128-float identities) per query.
struct IdentityIndex {
    let tenant: String
    private(set) var dimension: Int
    private(set) var names: [String] = []
    private(set) var matrix: [Float] = []

    init(tenant: String, dimension: Int) {
        self.tenant = tenant; self.dimension = dimension
    }

    var count: Int { names.count }

    /// Appends a row. Names are unique in a tenant (the database's unique index), so there is no check.
    mutating func append(name: String, values: [Float]) {
        floatBytes(values).withUnsafeBytes { append(name: name, values: $0) }
    }

    /// Appends a row given as little-endian `Float32`s in raw memory (`count * 4` bytes).
    mutating func append(name: String, values raw: UnsafeRawBufferPointer) {
        let n = raw.count / 4
        if names.isEmpty { dimension = n }
        precondition(n == dimension && raw.count % 4 == 0, "identity of \(raw.count) bytes in an index of \(dimension) values")
        names.append(name)
        let start = matrix.count
        matrix.append(contentsOf: repeatElement(0, count: n))
        matrix.withUnsafeMutableBufferPointer { m in
            for i in 0..<n {
                m[start + i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
    }

    /// Removes the row of `name` (a linear scan: removals are rare, loads are not), moving the last row
    /// into the hole.
    mutating func remove(name: String) {
        guard let r = names.firstIndex(of: name) else { return }
        let last = names.count - 1
        if r != last {
            names[r] = names[last]
            for j in 0..<dimension { matrix[r * dimension + j] = matrix[last * dimension + j] }
        }
        names.removeLast()
        matrix.removeLast(dimension)
    }

    func values(row r: Int) -> [Float] { Array(matrix[r * dimension ..< (r + 1) * dimension]) }

    /// The `top` rows nearest to `query` (see the type's discussion), best first.
    func nearest(to query: [Float], top: Int) -> [CharacterMatch] {
        precondition(query.count == dimension, "query of \(query.count) values, index of \(dimension)")
        let n = names.count
        guard n > 0, top > 0 else { return [] }
        let keep = min(n, top + 16)
        let candidates: [Int]
        if keep > 256 {
            var d = [Float](repeating: 0, count: n)
            d.withUnsafeMutableBufferPointer { out in
                matrix.withUnsafeBufferPointer { m in
                    query.withUnsafeBufferPointer { q in
                        IdentityIndex.squaredDistances(m.baseAddress!, rows: 0..<n, dimension: dimension, query: q.baseAddress!) { r, v in
                            out[r] = v
                        }
                    }
                }
            }
            candidates = Array((0..<n).sorted { d[$0] < d[$1] }.prefix(keep))
        } else {
            candidates = selectSmallest(query: query, keep: keep)
        }
        let q = FaceDescriptor(query)
        var hits = candidates.map { r -> CharacterMatch in
            let v = FaceDescriptor(values(row: r))
            return CharacterMatch(name: names[r], tenant: tenant, distance: v.distance(to: q), cosineSimilarity: v.cosineSimilarity(to: q))
        }
        hits.sort { ($0.distance, $0.name) < ($1.distance, $1.name) }
        return Array(hits.prefix(top))
    }

    /// Row numbers of the `keep` smallest squared distances, over all cores for large matrices.
    private func selectSmallest(query: [Float], keep: Int) -> [Int] {
        let n = names.count
        let work = n * dimension
        let parts = max(1, min(ParallelMap.cores, work / 1_000_000))
        let results: [SmallestK] = matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                let shared = SharedPointers(matrix: m.baseAddress!, query: q.baseAddress!)
                let dim = dimension
                return ParallelMap.run(count: parts) { part in
                    let lo = n * part / parts, hi = n * (part + 1) / parts
                    var best = SmallestK(capacity: keep)
                    IdentityIndex.squaredDistances(shared.matrix, rows: lo..<hi, dimension: dim, query: shared.query) { r, v in
                        best.offer(v, r)
                    }
                    return best
                }
            }
        }
        var merged = SmallestK(capacity: keep)
        for part in results { for (v, r) in part.items { merged.offer(v, r) } }
        return merged.items.map(\.1)
    }

    /// Calls `emit(row, squared distance)` for every row in `rows`.
    @inline(__always)
    static func squaredDistances(_ m: UnsafePointer<Float>, rows: Range<Int>, dimension: Int, query: UnsafePointer<Float>,
                                 emit: (Int, Float) -> Void) {
        #if DEBUG
        // Unoptimized builds run SIMD types through generic calls, 7x slower than this scalar loop
        // (release builds: the SIMD loop below is 3x faster than this one).
        for r in rows {
            let row = m + r * dimension
            var s: Float = 0
            var j = 0
            while j < dimension { let d = row[j] - query[j]; s += d * d; j &+= 1 }
            emit(r, s)
        }
        #else
        let wide = dimension & ~15
        let q = UnsafeRawPointer(query)
        for r in rows {
            let row = UnsafeRawPointer(m + r * dimension)
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
            var j = 0
            while j < wide {
                let d0 = row.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    - q.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                let d1 = row.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
                    - q.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
                // Not addingProduct: without an FMA target feature it becomes a libm fmaf call per lane (12x slower).
                a0 += d0 * d0
                a1 += d1 * d1
                j += 16
            }
            var s = (a0 + a1).sum()
            while j < dimension {
                let d = m[r * dimension + j] - query[j]
                s += d * d
                j += 1
            }
            emit(r, s)
        }
        #endif
    }
}

/// The `capacity` smallest (value, row) pairs offered, sorted ascending.
struct SmallestK: Sendable {
    let capacity: Int
    private(set) var items: [(Float, Int)] = []
    init(capacity: Int) { self.capacity = capacity; items.reserveCapacity(capacity + 1) }

    @inline(__always)
    mutating func offer(_ v: Float, _ r: Int) {
        if items.count == capacity {
            guard v < items[capacity - 1].0 else { return }
            items.removeLast()
        }
        var i = items.count
        while i > 0 && items[i - 1].0 > v { i -= 1 }
        items.insert((v, r), at: i)
    }
}

/// Read-only pointers handed to the worker threads of one search (valid for its duration).
private struct SharedPointers: @unchecked Sendable {
    let matrix: UnsafePointer<Float>
    let query: UnsafePointer<Float>
}

