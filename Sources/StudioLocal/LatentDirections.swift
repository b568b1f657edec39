import StudioKit

/// A direction in the generator's latent space along which one measured property of the face
/// (`GeneratedMeasures`) changes, with how well it does so.
///
/// Moving a latent `z` by `t · vector` changes the projection `⟨z, vector⟩` by `t`; the measure then
/// changes by about `slope · t` (a linear fit; the generator is not linear, so this is an average
/// over the population). For `z ~ N(0, I)` the projection is itself standard normal, so a projection
/// of 1.5 is 1.5 population standard deviations along the direction.
public struct LatentDirection: Sendable, Codable, Equatable {
    /// "yaw", "brightness", "light_side", "warmth" or "framing".
    public var name: String
    /// The `GeneratedMeasures` key the direction was fitted to.
    public var measure: String
    /// The measure's unit.
    public var unit: String
    /// Unit length, `DCGANGenerator.latentDimension` values.
    public var vector: [Float]
    /// Measure units per unit of projection `⟨z, vector⟩` (least squares on the held-out half).
    public var slope: Double
    /// Pearson r between the projection and the measure on the held-out half.
    public var heldOutCorrelation: Double
    /// Faces used (fit half plus held-out half).
    public var samples: Int
    /// Mean and standard deviation of the measure over all `samples` faces.
    public var populationMean: Double
    public var populationStd: Double

    public init(name: String, measure: String, unit: String, vector: [Float], slope: Double,
                heldOutCorrelation: Double, samples: Int, populationMean: Double, populationStd: Double) {
        self.name = name; self.measure = measure; self.unit = unit; self.vector = vector; self.slope = slope
        self.heldOutCorrelation = heldOutCorrelation; self.samples = samples
        self.populationMean = populationMean; self.populationStd = populationStd
    }

    /// `⟨z, vector⟩`.
    public func projection(_ z: [Float]) -> Double {
        precondition(z.count == vector.count, "LatentDirection.projection: \(z.count) values, expected \(vector.count)")
        var s = 0.0
        for i in 0..<z.count { s += Double(z[i]) * Double(vector[i]) }
        return s
    }

    /// The measure the linear fit expects at a projection: `populationMean + slope · projection`.
    public func expectedMeasure(projection: Double) -> Double { populationMean + slope * projection }

    /// `z + t · vector` (not re-normalised: a 100-D standard normal latent has norm ≈ 10, and a
    /// move of a few units along one direction keeps it well inside the typical shell).
    public func moved(_ z: [Float], by t: Double) -> [Float] {
        precondition(z.count == vector.count, "LatentDirection.moved: \(z.count) values, expected \(vector.count)")
        return (0..<z.count).map { z[$0] + Float(t) * vector[$0] }
    }
}

/// How `LatentDirections.discover` fits a direction on the fit half.
public enum DiscoveryMethod: Sendable, Equatable, Codable {
    /// The normalised covariance vector `Σ (m_i − m̄) z_i`.
    case covariance
    /// Ridge least squares `(Zc'Zc + λ n I)⁻¹ Zc'(m − m̄)` on the fit half's centred latents.
    case ridge(lambda: Double)

    /// Ridge least squares with λ = 0.1 (see `LatentDirections`).
    public static let defaultMethod = DiscoveryMethod.ridge(lambda: 0.1)
}

/// Which measure a direction is fitted to.
public struct DirectionSpec: Sendable, Equatable, Codable {
    public var name: String
    public var measure: String
    public var unit: String
    public init(name: String, measure: String, unit: String) { self.name = name; self.measure = measure; self.unit = unit }
}

/// Where the committed table (`LatentDirectionsData.swift`) came from.
public struct DirectionsProvenance: Sendable, Equatable, Codable {
    /// SHA-256 of the generator weights file the faces were drawn with.
    public var weightsSHA256: String
    public var firstSeed: UInt64
    /// Seeds rendered: `firstSeed ..< firstSeed + seeds`.
    public var seeds: Int
    /// Seeds in which a face was detected (the samples).
    public var faces: Int
    public var renderSize: Int
    /// The studio command that wrote the table (`tools/discover-directions.sh` runs it).
    public var command: String
    public init(weightsSHA256: String, firstSeed: UInt64, seeds: Int, faces: Int, renderSize: Int, command: String) {
        self.weightsSHA256 = weightsSHA256; self.firstSeed = firstSeed; self.seeds = seeds; self.faces = faces
        self.renderSize = renderSize; self.command = command
    }
}

/// Latent directions of the local generator, found from data by a committed script
/// (`tools/discover-directions.sh`, i.e. `studio local directions --write ...`).
///
/// **Method** (`discover`): the samples are faces, each a latent `z_i` (drawn N(0, I) from a seed)
/// and its measures `m_i` (`GeneratedMeasures`, on the rendered face). Samples are split by their
/// position in the list: even positions are the fit half, odd positions the held-out half.
///
/// On the fit half the direction is the normalised least-squares direction of the linear model
/// `m ≈ a + ⟨b, z⟩`, with a small ridge: `b = (Zc'Zc + λ n I)⁻¹ Zc'(m − m̄)` (`Zc` the fit half's
/// centred latents, `n` its size, λ = 0.1), `v = b / ‖b‖`. `Zc'(m − m̄) = Σ (m_i − m̄) z_i` is the
/// covariance vector, which for `z ~ N(0, I)` points the same way *in expectation* (`E[zz'] = I`);
/// in a finite sample it does not: 500 draws in 100 dimensions have a sample covariance whose
/// eigenvalues spread from about 0.3 to 2, and the covariance vector's error grows with the
/// measure's whole variance rather than its residual. Measured: a planted direction
/// (`measure = 3⟨z, u⟩`, 400 latents) is recovered with cosine 0.80 by the covariance vector and
/// 0.9997 by least squares; on 1000 seeds of the real generator the held-out r was, covariance vs
/// ridge 0.1: yaw 0.75 vs 0.81, brightness 0.79 vs 0.91, light side 0.67 vs 0.66, warmth 0.79 vs
/// 0.84, framing 0.53 vs 0.58. λ = 0.1 sits on the flat part of the ridge curve (0.01 to 0.5 agree to ±0.02); the
/// discovery run prints the comparison (`.covariance` remains available as a `DiscoveryMethod`).
///
/// By construction the projection `⟨z, v⟩` correlates positively with the measure on the fit half.
/// On the held-out half — faces the fit never saw — the slope is the least-squares slope of the
/// measure on the projection and `heldOutCorrelation` their Pearson r: the honest figure of how much
/// of the measure the direction controls. The population mean and standard deviation are over both
/// halves. The committed vector is the fit-half one, so the held-out figures describe exactly it.
///
/// **No orthogonalisation.** Each direction is the one fitted to its own measure; directions are
/// not made orthogonal to each other, because the measures are not independent in this generator
/// and removing the shared part would make a direction control its own measure less. Where two
/// directions are used together, `steer` sets both projections at once (it solves with their Gram
/// matrix), so their overlap is accounted for rather than counted twice. The discovery run prints
/// the cosines between the directions and the cross-effects (held-out r of each direction's
/// projection with every other measure).
public enum LatentDirections {
    /// Directions with a held-out |r| below this are not offered by the prompt vocabulary.
    public static let minimumCorrelation = 0.3

    /// The directions the vocabulary uses, in table order.
    public static let standard: [DirectionSpec] = [
        DirectionSpec(name: "yaw", measure: "yaw", unit: "degrees"),
        DirectionSpec(name: "brightness", measure: "brightness", unit: "L*"),
        DirectionSpec(name: "light_side", measure: "light_side", unit: "L*"),
        DirectionSpec(name: "warmth", measure: "warmth", unit: "b*"),
        DirectionSpec(name: "framing", measure: "framing", unit: "fraction of image height"),
    ]

    /// The committed table (generated file `LatentDirectionsData.swift`).
    public static let discovered: [LatentDirection] = table

    /// Where `discovered` came from.
    public static let discoveredProvenance: DirectionsProvenance = provenance

    /// The discovered direction with this name.
    public static func named(_ name: String) -> LatentDirection? { table.first { $0.name == name } }

    /// The fit (even positions) and held-out (odd positions) halves of `count` samples.
    public static func split(count: Int) -> (fit: [Int], heldOut: [Int]) {
        (Array(stride(from: 0, to: count, by: 2)), Array(stride(from: 1, to: count, by: 2)))
    }

    /// Fits one direction per spec (see the type's documentation for the method). Pure.
    ///
    /// - Parameters:
    ///   - latents: one latent per sample, all of the same dimension.
    ///   - measures: one dictionary per sample (same order); a sample lacking a spec's measure, or
    ///     with a non-finite value, is left out of that direction only.
    ///   - method: how the fit half is fitted (default: ridge least squares, λ = 0.1).
    /// - Returns: one direction per spec. A measure that is constant on the fit half (no direction
    ///   to find) or has fewer than 4 samples gives a zero vector, slope 0 and r 0.
    public static func discover(latents: [[Float]], measures: [[String: Double]],
                                names specs: [DirectionSpec] = standard,
                                method: DiscoveryMethod = .defaultMethod) -> [LatentDirection] {
        precondition(latents.count == measures.count, "discover: \(latents.count) latents, \(measures.count) measure sets")
        let dim = latents.first?.count ?? 0
        precondition(latents.allSatisfy { $0.count == dim }, "discover: latents of different dimensions")
        return specs.map { spec in
            var zs: [[Float]] = [], ms: [Double] = []
            for (z, m) in zip(latents, measures) {
                if let v = m[spec.measure], v.isFinite { zs.append(z); ms.append(v) }
            }
            let (mean, std) = meanStd(ms)
            var d = LatentDirection(name: spec.name, measure: spec.measure, unit: spec.unit,
                                    vector: [Float](repeating: 0, count: dim), slope: 0, heldOutCorrelation: 0,
                                    samples: ms.count, populationMean: mean, populationStd: std)
            guard ms.count >= 4 else { return d }
            let (fit, held) = split(count: ms.count)
            // Covariance vector on the fit half.
            let fitMean = fit.reduce(0.0) { $0 + ms[$1] } / Double(fit.count)
            var v = [Double](repeating: 0, count: dim)
            for i in fit {
                let w = ms[i] - fitMean
                for k in 0..<dim { v[k] += w * Double(zs[i][k]) }
            }
            if case .ridge(let lambda) = method {
                // Least squares on the fit half's own (centred) latents: (Zc'Zc + λ n I) b = Zc'(m − m̄).
                // Zc'(m − m̄) = Z'(m − m̄) = v, since the centred measures sum to zero.
                var zMean = [Double](repeating: 0, count: dim)
                for i in fit { for k in 0..<dim { zMean[k] += Double(zs[i][k]) } }
                for k in 0..<dim { zMean[k] /= Double(fit.count) }
                var a = [Double](repeating: 0, count: dim * dim)
                for i in fit {
                    let c = (0..<dim).map { Double(zs[i][$0]) - zMean[$0] }
                    for r in 0..<dim { let cr = c[r]; for k in r..<dim { a[r * dim + k] += cr * c[k] } }
                }
                for r in 0..<dim { for k in 0..<r { a[r * dim + k] = a[k * dim + r] } }
                for r in 0..<dim { a[r * dim + r] += lambda * Double(fit.count) }
                guard let b = solveSymmetric(a, v, dim) else { return d }
                v = b
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0, norm.isFinite else { return d }
            d.vector = v.map { Float($0 / norm) }
            // Evaluation on the held-out half.
            let p = held.map { d.projection(zs[$0]) }, y = held.map { ms[$0] }
            d.slope = slope(x: p, y: y)
            d.heldOutCorrelation = pearson(p, y)
            return d
        }
    }

    /// Solves `A x = b` for a symmetric positive-definite `A` (`n x n`, row-major) by Cholesky;
    /// nil when `A` is not positive definite.
    static func solveSymmetric(_ a: [Double], _ b: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0 else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = b[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<n { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }

    /// Pearson correlation; 0 when either side is constant or there are fewer than 2 values.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "pearson: \(x.count) vs \(y.count) values")
        guard x.count >= 2 else { return 0 }
        let (mx, _) = meanStd(x), (my, _) = meanStd(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b; sxx += a * a; syy += b * b
        }
        guard sxx > 0, syy > 0 else { return 0 }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Least-squares slope of `y` on `x`; 0 when `x` is constant.
    public static func slope(x: [Double], y: [Double]) -> Double {
        precondition(x.count == y.count, "slope: \(x.count) vs \(y.count) values")
        guard x.count >= 2 else { return 0 }
        let (mx, _) = meanStd(x), (my, _) = meanStd(y)
        var sxy = 0.0, sxx = 0.0
        for i in 0..<x.count { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx) }
        return sxx > 0 ? sxy / sxx : 0
    }

    /// Mean and population standard deviation (divisor n); (0, 0) when empty.
    public static func meanStd(_ v: [Double]) -> (mean: Double, std: Double) {
        guard !v.isEmpty else { return (0, 0) }
        let m = v.reduce(0, +) / Double(v.count)
        let s = v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)
        return (m, s.squareRoot())
    }

    // MARK: Steering

    /// Moves `z` the least distance (Euclidean) such that its projection on each given direction
    /// equals the given target: `z' = z + Σ c_j v_j` with `G c = t − ⟨z, v⟩` (`G` the directions'
    /// Gram matrix), so non-orthogonal directions are set together rather than one undoing another.
    /// A direction that is (numerically) a combination of earlier ones is left out. Everything of
    /// `z` orthogonal to the directions — the face's identity, as far as these directions go — is
    /// unchanged.
    public static func steer(_ z: [Float], targets: [(direction: LatentDirection, projection: Double)]) -> [Float] {
        let n = targets.count
        guard n > 0 else { return z }
        for t in targets {
            precondition(t.direction.vector.count == z.count,
                         "steer: direction \(t.direction.name) has \(t.direction.vector.count) values, latent \(z.count)")
        }
        let vs = targets.map { $0.direction.vector.map(Double.init) }
        func dot(_ a: [Double], _ b: [Double]) -> Double { var s = 0.0; for i in 0..<a.count { s += a[i] * b[i] }; return s }
        let zd = z.map(Double.init)
        // Augmented system [G | r], Gaussian elimination with partial pivoting.
        var a = (0..<n).map { i in (0..<n).map { j in dot(vs[i], vs[j]) } + [targets[i].projection - dot(zd, vs[i])] }
        var pivotRow = [Int](repeating: -1, count: n)   // pivotRow[col] = row holding that column's pivot
        var row = 0
        for col in 0..<n where row < n {
            let best = (row..<n).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            guard abs(a[best][col]) > 1e-6 else { continue }
            a.swapAt(row, best)
            for r in 0..<n where r != row {
                let f = a[r][col] / a[row][col]
                if f != 0 { for k in col...n { a[r][k] -= f * a[row][k] } }
            }
            pivotRow[col] = row
            row += 1
        }
        var out = zd
        for col in 0..<n where pivotRow[col] >= 0 {
            let r = pivotRow[col]
            let c = a[r][n] / a[r][col]
            for k in 0..<out.count { out[k] += c * vs[col][k] }
        }
        return out.map { Float($0) }
    }

    /// Steers `z` to the terms of a parsed prompt: each term's direction's projection is set to
    /// `sign · amount` (population standard deviations of the projection). Terms naming a direction
    /// not in `directions` are skipped (`PromptVocabulary.parse` never produces them).
    public static func apply(_ terms: [PromptTerm], to z: [Float],
                             directions: [LatentDirection] = discovered) -> [Float] {
        var targets: [(direction: LatentDirection, projection: Double)] = []
        for t in terms {
            guard let d = directions.first(where: { $0.name == t.direction }) else { continue }
            targets.removeAll { $0.direction.name == d.name }   // the later term wins
            targets.append((d, t.sign * t.amount))
        }
        return steer(z, targets: targets)
    }

    // MARK: The generated table

    /// Swift source of `LatentDirectionsData.swift` for a discovery run. Vector values are written
    /// rounded to 6 decimals (shortest Float literal), 10 per line.
    public static func swiftSource(_ directions: [LatentDirection], provenance p: DirectionsProvenance) -> String {
        func lit(_ s: String) -> String {
            var o = "\""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": o += "\\\""
                case "\\": o += "\\\\"
                default: o.unicodeScalars.append(ch)
                }
            }
            return o + "\""
        }
        func f(_ v: Float) -> String {
            let r = Float((Double(v) * 1e6).rounded() / 1e6)
            return r == 0 ? "0" : "\(r)"
        }
        var s = """
        // GENERATED FILE: do not edit. Regenerate with tools/discover-directions.sh, which runs:
        //   \(p.command)
        //
        // Latent directions of the local generator (DCGANGenerator), fitted by LatentDirections.discover
        // on faces from seeds \(p.firstSeed)..<\(p.firstSeed + UInt64(p.seeds)) (\(p.seeds) seeds, \(p.faces) with a detected face),
        // rendered at \(p.renderSize) px. Fit half: even sample positions; held-out half: odd ones.
        // Generator weights (\(DCGANGenerator.weightsFile)) SHA-256:
        //   \(p.weightsSHA256)
        //
        // direction     samples  held-out r   slope (unit per projection)

        """
        for d in directions {
            s += "// " + d.name.padding(14) + String(d.samples).padding(9) + formatFixed(d.heldOutCorrelation, 3).padding(13)
                + formatFixed(d.slope, 4) + " " + d.unit + "\n"
        }
        s += """

        extension LatentDirections {
            static let provenance = DirectionsProvenance(
                weightsSHA256: \(lit(p.weightsSHA256)),
                firstSeed: \(p.firstSeed), seeds: \(p.seeds), faces: \(p.faces), renderSize: \(p.renderSize),
                command: \(lit(p.command)))

            static let table: [LatentDirection] = [

        """
        for d in directions {
            s += "        LatentDirection(\n"
            s += "            name: \(lit(d.name)), measure: \(lit(d.measure)), unit: \(lit(d.unit)),\n"
            s += "            vector: [\n"
            var k = 0
            while k < d.vector.count {
                let line = d.vector[k..<min(d.vector.count, k + 10)].map(f).joined(separator: ", ")
                s += "                " + line + ",\n"
                k += 10
            }
            s += "            ],\n"
            s += "            slope: \(d.slope), heldOutCorrelation: \(d.heldOutCorrelation), samples: \(d.samples),\n"
            s += "            populationMean: \(d.populationMean), populationStd: \(d.populationStd)),\n"
        }
        s += "    ]\n}\n"
        return s
    }

}

extension String {
    /// Left-aligned in a field of `width` characters (never truncated).
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
