/// Fusing several references of one person into one identity, and spotting a reference that shows
/// someone else.
public enum IdentityFusion {
    /// A reference that does not match the others.
    public struct Outlier: Sendable, Equatable {
        /// Index into the references given.
        public var index: Int
        /// Its distance to the fused identity of the other references.
        public var distance: Double
    }

    /// The quality-weighted mean of the descriptors (weights need not sum to 1; non-positive
    /// weights are treated as a tiny positive weight so every reference counts a little).
    public static func fuse(_ descriptors: [FaceDescriptor], weights: [Double]) -> FaceDescriptor {
        precondition(!descriptors.isEmpty && descriptors.count == weights.count, "fuse: one weight per descriptor")
        let dims = descriptors[0].values.count
        var sum = [Double](repeating: 0, count: dims)
        var total = 0.0
        for (d, w0) in zip(descriptors, weights) {
            let w = max(w0, 1e-3)
            total += w
            for k in 0..<dims { sum[k] += w * Double(d.values[k]) }
        }
        return FaceDescriptor(sum.map { Float($0 / total) })
    }

    /// References whose descriptor is farther than `threshold` from the fused identity of the
    /// others. The worst such reference is set aside and the rest re-examined, so a stranger who pulls
    /// the mean away does not make the genuine references look like strangers too. With two
    /// references that disagree both are reported: there is no majority to say which one is wrong.
    public static func outliers(_ descriptors: [FaceDescriptor], weights: [Double], threshold: Double) -> [Outlier] {
        guard descriptors.count >= 2 else { return [] }
        if descriptors.count == 2 {
            let d = descriptors[0].distance(to: descriptors[1])
            return d > threshold ? [Outlier(index: 0, distance: d), Outlier(index: 1, distance: d)] : []
        }
        var remaining = Array(descriptors.indices)
        var out: [Outlier] = []
        while remaining.count >= 3 {
            var worst: Outlier? = nil
            for i in remaining {
                let others = remaining.filter { $0 != i }
                let d = descriptors[i].distance(to: fuse(others.map { descriptors[$0] }, weights: others.map { weights[$0] }))
                if d > threshold && d > (worst?.distance ?? 0) { worst = Outlier(index: i, distance: d) }
            }
            guard let w = worst else { break }
            out.append(w)
            remaining.removeAll { $0 == w.index }
        }
        if remaining.count == 2 && !out.isEmpty {
            let d = descriptors[remaining[0]].distance(to: descriptors[remaining[1]])
            if d > threshold { out += remaining.map { Outlier(index: $0, distance: d) } }
        }
        return out.sorted { $0.index < $1.index }
    }
}
