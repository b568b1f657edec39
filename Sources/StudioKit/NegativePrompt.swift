/// A negative prompt assembled per character and request from the user's negatives and the drift
/// catalogue's suppressors (`DriftCatalogue`).
///
/// Order (deterministic): the user's negatives as given, then the suppressors of the modes diagnosed
/// in a previous attempt (`.targeted`, catalogue order), then the suppressors of the modes relevant at
/// the strictness (`.mode`, catalogue order). Fragments are de-duplicated case-insensitively (the first
/// occurrence stays, with the highest weight of its duplicates). Remote backends receive `text` (or
/// `weightedText(style: .parenthesized)` where they understand weights); the local backend takes
/// `penaltyTerms` for the measurable fragments.
public struct NegativePrompt: Sendable, Codable, Equatable {
    public struct Fragment: Sendable, Codable, Equatable {
        public enum Source: Sendable, Codable, Equatable {
            /// From the request's negatives.
            case user
            /// A catalogue mode's suppressor, included for the strictness.
            case mode(String)
            /// A mode diagnosed as drifting in a previous attempt.
            case targeted(String)

            /// The mode id, nil for `.user`.
            public var modeId: String? {
                switch self {
                case .user: return nil
                case .mode(let id), .targeted(let id): return id
                }
            }
        }
        public var text: String
        public var source: Source
        public var weight: Double
        public init(text: String, source: Source, weight: Double) { self.text = text; self.source = source; self.weight = weight }
    }

    public enum Style: String, Sendable, Codable { case plain, parenthesized }

    /// A measurable negative for the local backend: penalise the output's measure past the threshold.
    public struct PenaltyTerm: Sendable, Codable, Equatable {
        public var modeId: String
        public var detector: DriftMode.Detector
        /// The highest weight among the mode's kept fragments.
        public var weight: Double
        public var targeted: Bool
    }

    /// Kept fragments joined with ", ".
    public var text: String
    public var fragments: [Fragment]
    /// Fragments left out to respect `maxLength`, lowest weight first.
    public var dropped: [Fragment]
    /// Mode ids included (targeted first, then strictness modes), in fragment order.
    public var modeIds: [String]
    /// Diagnosed ids not in the catalogue (ignored).
    public var unknownDiagnosed: [String]
    public var strictness: Int

    /// Weight of the user's negatives.
    public static let userWeight = 1.0
    /// Default cap of `text`'s length in characters.
    public static let defaultMaxLength = 400

    /// Weight of a strictness mode's fragments: 1.0 at strictness 0 rising 0.1 a level, 0.05 less for
    /// each level the mode waited to be included (identity-critical modes weigh the most); at most 1.4.
    public static func modeWeight(strictness: Int, modeMinStrictness: Int) -> Double {
        round2(1.0 + 0.1 * Double(strictness) - 0.05 * Double(modeMinStrictness))
    }

    /// Weight of a diagnosed mode's fragments: 1.5 + 0.1 per strictness level, above every mode weight.
    public static func targetedWeight(strictness: Int) -> Double { round2(1.5 + 0.1 * Double(strictness)) }

    /// The modes whose suppressors are included at a strictness for a character (catalogue order):
    /// those with `effectiveMinStrictness <= strictness`. Monotone: a higher strictness includes a superset.
    public static func modes(strictness: Int, reference: FaceAttributes, catalogue: [DriftMode] = DriftCatalogue.all) -> [DriftMode] {
        let s = min(4, max(0, strictness))
        return catalogue.filter { $0.effectiveMinStrictness(reference: reference) <= s }
    }

    /// Assembles the negative prompt.
    ///
    /// - Parameters:
    ///   - negatives: the request's negatives; each string may hold several comma-separated ones. Kept
    ///     first, in order, at weight 1.0, and never dropped by the length cap.
    ///   - strictness: 0...4 (clamped). 0: identity-critical colour modes only (eye colour, skin
    ///     lightening/darkening, hair colour, plus modes that move the character towards the
    ///     population mean one level early); each level adds modes and raises weights by 0.1.
    ///   - diagnosed: ids of modes found drifting in a previous attempt: included whatever the
    ///     strictness, marked `.targeted`, weighted highest.
    ///   - maxLength: cap on `text`; mode fragments are dropped lowest weight first (ties: the later one).
    public static func synthesize(character: CharacterRecord, request negatives: [String], strictness: Int,
                                  diagnosed: [String], maxLength: Int = defaultMaxLength,
                                  catalogue: [DriftMode] = DriftCatalogue.all) -> NegativePrompt {
        let s = min(4, max(0, strictness))
        let ref = character.attributes
        var out: [Fragment] = []
        var index: [String: Int] = [:]
        func add(_ text: String, _ source: Fragment.Source, _ weight: Double) {
            let t = text.trimmedFragment
            guard !t.isEmpty else { return }
            let key = t.lowercased()
            if let i = index[key] {
                if weight > out[i].weight, out[i].source != .user { out[i].weight = weight }
                return
            }
            index[key] = out.count
            out.append(Fragment(text: t, source: source, weight: weight))
        }
        for n in negatives { for part in n.split(separator: ",") { add(String(part), .user, userWeight) } }

        let diagnosedSet = Set(diagnosed)
        let known = Set(catalogue.map(\.id))
        let unknown = diagnosed.filter { !known.contains($0) }
        var modeIds: [String] = []
        let targeted = catalogue.filter { diagnosedSet.contains($0.id) }
        let tw = targetedWeight(strictness: s)
        for m in targeted {
            modeIds.append(m.id)
            for f in m.suppressor.fragments(reference: ref) { add(f, .targeted(m.id), tw) }
        }
        for m in modes(strictness: s, reference: ref, catalogue: catalogue) where !diagnosedSet.contains(m.id) {
            modeIds.append(m.id)
            let w = modeWeight(strictness: s, modeMinStrictness: m.effectiveMinStrictness(reference: ref))
            for f in m.suppressor.fragments(reference: ref) { add(f, .mode(m.id), w) }
        }

        // Length cap: drop the lowest-weight non-user fragment (ties: the later one) until it fits.
        var dropped: [Fragment] = []
        func length(_ fs: [Fragment]) -> Int { fs.reduce(0) { $0 + $1.text.count } + max(0, fs.count - 1) * 2 }
        while length(out) > maxLength {
            var victim: Int? = nil
            for i in out.indices where out[i].source != .user {
                if let v = victim { if out[i].weight <= out[v].weight { victim = i } } else { victim = i }
            }
            guard let v = victim else { break }
            dropped.append(out.remove(at: v))
        }
        let keptModes = Set(out.compactMap { $0.source.modeId })
        return NegativePrompt(text: out.map(\.text).joined(separator: ", "), fragments: out, dropped: dropped,
                              modeIds: modeIds.filter { keptModes.contains($0) }, unknownDiagnosed: unknown, strictness: s)
    }

    /// The prompt with weights: `.plain` is `text`; `.parenthesized` writes fragments whose weight is
    /// not 1 as "(green eyes:1.3)" (the A1111/ComfyUI convention), others bare.
    public func weightedText(style: Style) -> String {
        switch style {
        case .plain: return text
        case .parenthesized:
            return fragments.map { f in
                f.weight == 1 ? f.text : "(\(f.text):\(DriftCatalogue.format(f.weight)))"
            }.joined(separator: ", ")
        }
    }

    /// The measurable negatives for the local backend: one term per kept mode that has a detector.
    public func penaltyTerms(catalogue: [DriftMode] = DriftCatalogue.all) -> [PenaltyTerm] {
        var out: [PenaltyTerm] = []
        for id in modeIds {
            guard let m = catalogue.first(where: { $0.id == id }), let d = m.detector else { continue }
            let fs = fragments.filter { $0.source.modeId == id }
            let targeted = fs.contains { if case .targeted = $0.source { return true } else { return false } }
            out.append(PenaltyTerm(modeId: id, detector: d, weight: fs.map(\.weight).max() ?? 1, targeted: targeted))
        }
        return out
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
}

private extension String {
    /// Trimmed of spaces, tabs and newlines.
    var trimmedFragment: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}

extension NegativePrompt {
    /// A negative prompt read back from the text a remote surface received (what an emulated provider
    /// knows): comma-separated fragments, "(text:1.3)" read as a weighted fragment; a fragment that is
    /// one of a catalogue mode's suppressors for a face with `reference`'s attributes counts for that
    /// mode (so the local generator can measure it), any other is kept as `.user`.
    public static func read(text: String, reference: FaceAttributes, catalogue: [DriftMode] = DriftCatalogue.all) -> NegativePrompt {
        var suppressors: [String: String] = [:]
        for m in catalogue {
            for f in m.suppressor.fragments(reference: reference) where suppressors[f.lowercased()] == nil { suppressors[f.lowercased()] = m.id }
        }
        var fragments: [Fragment] = []
        var modeIds: [String] = []
        for raw in text.split(separator: ",") {
            var t = String(raw).trimmedFragment
            var weight = 1.0
            if t.hasPrefix("("), t.hasSuffix(")"), let colon = t.lastIndex(of: ":"),
               let w = Double(t[t.index(after: colon)..<t.index(before: t.endIndex)]), w.isFinite, w > 0 {
                weight = w
                t = String(t[t.index(after: t.startIndex)..<colon]).trimmedFragment
            }
            guard !t.isEmpty, !fragments.contains(where: { $0.text.lowercased() == t.lowercased() }) else { continue }
            if let id = suppressors[t.lowercased()] {
                fragments.append(Fragment(text: t, source: .mode(id), weight: weight))
                if !modeIds.contains(id) { modeIds.append(id) }
            } else {
                fragments.append(Fragment(text: t, source: .user, weight: weight))
            }
        }
        return NegativePrompt(text: fragments.map(\.text).joined(separator: ", "), fragments: fragments, dropped: [], modeIds: modeIds,
                              unknownDiagnosed: [], strictness: 0)
    }
}
