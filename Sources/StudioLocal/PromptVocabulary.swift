import StudioKit

/// One instruction of a prompt the local generator can honour: set the projection of the latent on
/// a discovered direction (`LatentDirections`).
public struct PromptTerm: Sendable, Codable, Equatable {
    /// The words as they appear in the prompt, a leading modifier included ("slightly turned left").
    public var phrase: String
    /// `LatentDirection.name`.
    public var direction: String
    /// +1 or −1 along the direction (+1: the direction's measure increases).
    public var sign: Double
    /// Target projection `⟨z, vector⟩` in population standard deviations (the projection of a
    /// standard-normal latent is standard normal): `PromptVocabulary.defaultAmount` 1.5,
    /// "slightly" 0.75, "very"/"strongly" 2.5.
    public var amount: Double

    public init(phrase: String, direction: String, sign: Double, amount: Double) {
        self.phrase = phrase; self.direction = direction; self.sign = sign; self.amount = amount
    }
}

/// What `PromptVocabulary.parse` made of a prompt. Every word of the prompt is accounted for: it is
/// part of a term, a documented stopword, or listed in `ignored`.
public struct ParsedPrompt: Sendable, Codable, Equatable {
    public var prompt: String
    /// The terms to apply, in prompt order, at most one per direction.
    public var terms: [PromptTerm]
    /// Words (and phrases of directions not offered) the local model cannot honour, in prompt order,
    /// as written.
    public var ignored: [String]
    /// Terms that set the same direction twice: the later one wins, and each entry says so.
    public var conflicts: [String]
    /// Why recognised phrases were not applied (their direction is too weak or not discovered).
    public var notes: [String]

    public init(prompt: String, terms: [PromptTerm] = [], ignored: [String] = [], conflicts: [String] = [], notes: [String] = []) {
        self.prompt = prompt; self.terms = terms; self.ignored = ignored; self.conflicts = conflicts; self.notes = notes
    }
}

/// A group of synonymous phrases and what they do.
public struct VocabularyEntry: Sendable, Equatable {
    public var phrases: [String]
    public var direction: String
    public var sign: Double
    public var meaning: String

    public init(phrases: [String], direction: String, sign: Double, meaning: String) {
        self.phrases = phrases; self.direction = direction; self.sign = sign; self.meaning = meaning
    }
}

/// The words the local generator understands, each a move along a discovered latent direction.
///
/// **Left and right are the image's** (the viewer's), never the subject's own: "turned left"
/// means the nose points towards the left edge of the picture (negative `yaw`, which
/// `ReferenceQuality.headPose` measures as positive when the nose points to the image right);
/// "lit from the left" means the image-left cheek is the brighter one (positive `light_side`).
///
/// **Matching.** The prompt is split into words (runs of letters and digits; an apostrophe between
/// letters stays in its word; everything else — spaces, punctuation, hyphens — separates words, so
/// "close-up", "close up" and "Close Up!" are the same). Matching is case-insensitive, on whole
/// words, longest phrase first. A modifier may stand before a phrase ("slightly warmer") or between
/// its words ("turned slightly to the left"); it sets the term's amount (`modifiers`). Each
/// remaining word is either a documented stopword (`stopwords`, never reported) or reported in
/// `ignored`, in prompt order: nothing is dropped silently. A modifier that modifies no phrase is
/// reported like any other word ("very" in "a very old man").
///
/// **Conflicts.** A later term on the same direction replaces the earlier one ("turned left ...
/// turned right" turns right), and `conflicts` says so.
///
/// **What the amounts do** (`studio local directions --check 40`: 40 seeds the discovery never saw,
/// each set to the projection; mean measure, with the faces MMOD still found):
///
/// | direction | −2.5 | −1.5 | +1.5 | +2.5 | population |
/// |---|---|---|---|---|---|
/// | yaw (°) | −27.1 | −21.6 | +20.4 | +25.5 | −0.5 ± 18.4 |
/// | brightness (L*) | 6.9 (25/40 faces) | 13.9 (36/40) | 53.5 | 67.0 | 33.8 ± 13.7 |
/// | light_side (L*) | −17.9 | −8.8 | +14.6 | +23.1 | −0.3 ± 13.3 |
/// | warmth (b*) | −4.0 (34/40) | 1.1 | 19.9 | 29.0 | 9.6 ± 7.3 |
/// | framing | 0.72 (22/40 faces) | 0.79 (34/40) | 0.93 | 0.96 | 0.85 ± 0.08 |
///
/// Yaw saturates near 25° (the linear fit would say 35° at 2.5), and the dim and wide ends lose
/// faces: "very dim" and "very wide" keep only about half, so a caller should check for a face and
/// redraw. Every other cell kept at least 37 of 40.
///
/// **Weak directions.** A phrase whose direction is missing from the discovered table, or whose
/// held-out |r| is below `LatentDirections.minimumCorrelation` (0.3), is still recognised (so its
/// words are not misread) but not applied: the phrase goes to `ignored` and `notes` gives the
/// reason with the measured r.
public enum PromptVocabulary {
    /// Amount of a term without modifier.
    public static let defaultAmount = 1.5
    /// Amount for "slightly", "a little", ...
    public static let slightAmount = 0.75
    /// Amount for "very", "strongly", ...
    public static let strongAmount = 2.5

    /// Modifiers and the amount each sets.
    public static let modifiers: [(phrase: String, amount: Double)] =
        ["slightly", "a little", "a little bit", "a bit", "a touch", "somewhat", "mildly", "subtly", "gently", "faintly"]
            .map { ($0, slightAmount) }
        + ["very", "strongly", "much", "extremely", "extreme", "really", "heavily", "intensely", "fully", "sharply"]
            .map { ($0, strongAmount) }

    /// Words never reported as ignored: articles, prepositions, conjunctions, pronouns and
    /// auxiliaries, plus words every output of this generator already satisfies (it only draws
    /// one face portrait: "portrait", "photo", "picture", "image", "headshot", "face").
    public static let stopwords: Set<String> = [
        "a", "an", "the", "of", "with", "and", "or", "but", "in", "on", "at", "to", "from", "by", "for", "as",
        "into", "onto", "is", "are", "was", "were", "be", "being", "been", "has", "have", "his", "her", "their",
        "its", "this", "that", "these", "those", "it", "he", "she", "they", "them", "him", "some", "while",
        "please", "show", "make",
        "portrait", "photo", "photograph", "picture", "image", "headshot", "face",
    ]

    /// The vocabulary. Phrases are written in the tokenised form documented on the type.
    public static let entries: [VocabularyEntry] = [
        VocabularyEntry(phrases: yawPhrases("left"), direction: "yaw", sign: -1,
                        meaning: "head turned towards the image left (nose to the viewer's left; yaw decreases)"),
        VocabularyEntry(phrases: yawPhrases("right"), direction: "yaw", sign: 1,
                        meaning: "head turned towards the image right (nose to the viewer's right; yaw increases)"),
        VocabularyEntry(phrases: ["brighter", "brighter lighting", "bright lighting", "bright light", "brightly lit",
                                  "well lit", "high key", "high key lighting", "more light", "overexposed"],
                        direction: "brightness", sign: 1, meaning: "brighter face (mean L* of the face centre increases)"),
        VocabularyEntry(phrases: ["dimmer", "darker", "dim", "dim lighting", "dim light", "dimly lit", "darker lighting",
                                  "dark lighting", "low light", "low key", "low key lighting", "less light", "underexposed"],
                        direction: "brightness", sign: -1,
                        meaning: "dimmer face (mean L* of the face centre decreases; this generator mixes light and skin tone)"),
        VocabularyEntry(phrases: lightPhrases("left"), direction: "light_side", sign: 1,
                        meaning: "light from the image left (image-left cheek brighter than the image-right one)"),
        VocabularyEntry(phrases: lightPhrases("right"), direction: "light_side", sign: -1,
                        meaning: "light from the image right (image-right cheek brighter than the image-left one)"),
        VocabularyEntry(phrases: ["warmer", "warm tones", "warm tone", "warmer tones", "warm light", "warm lighting",
                                  "warm colours", "warm colors", "warmer colours", "warmer colors", "golden light",
                                  "golden hour", "yellowish"],
                        direction: "warmth", sign: 1, meaning: "warmer (more yellow) colours: mean b* of the image increases"),
        VocabularyEntry(phrases: ["cooler", "cool tones", "cool tone", "cooler tones", "cool light", "cool lighting",
                                  "cool colours", "cool colors", "cooler colours", "cooler colors", "cold light",
                                  "cold tones", "bluish", "blue tint"],
                        direction: "warmth", sign: -1, meaning: "cooler (more blue) colours: mean b* of the image decreases"),
        VocabularyEntry(phrases: ["close up", "closeup", "closer", "close shot", "tight framing", "tighter framing",
                                  "tightly framed", "tight crop", "zoomed in", "zoom in", "closer framing"],
                        direction: "framing", sign: 1, meaning: "closer framing: the face fills more of the image height"),
        VocabularyEntry(phrases: ["wider framing", "wide framing", "wide shot", "wider shot", "wider", "zoomed out",
                                  "zoom out", "further away", "farther away", "far away", "from a distance", "distant",
                                  "loose framing", "loosely framed", "medium shot"],
                        direction: "framing", sign: -1, meaning: "wider framing: the face fills less of the image height"),
    ]

    static func yawPhrases(_ side: String) -> [String] {
        let verbs = ["turned", "turning", "turns", "turn", "facing", "faces", "looking", "looks", "rotated", "glancing"]
        let links = ["", "to the ", "towards the ", "toward the ", "to ", "towards "]
        var out: [String] = []
        for v in verbs { for l in links { out += [v + " " + l + side, "head " + v + " " + l + side] } }
        out += ["face turned " + side, "face turned to the " + side, side + " facing", side + " profile", "profile " + side,
                "three quarter " + side, side + " three quarter view"]
        return out
    }

    static func lightPhrases(_ side: String) -> [String] {
        var out: [String] = []
        for lead in ["lit", "light", "lighting", "light coming", "lit only", "side lit", "sidelit", "key light", "lighted", "illuminated"] {
            for link in ["from the ", "from "] { out.append(lead + " " + link + side) }
        }
        out += [side + " lighting", side + " side lit", side + " lit", "light on the " + side, "lit on the " + side,
                "key light on the " + side, side + " side lighting", "light source on the " + side]
        return out
    }

    // MARK: Parsing

    struct Token {
        var text: Substring
        var key: String
    }

    /// Splits into words as documented on the type (keys lower-cased, ’ read as ').
    static func tokens(_ s: String) -> [Token] {
        var out: [Token] = []
        var i = s.startIndex
        func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber }
        func isApostrophe(_ c: Character) -> Bool { c == "'" || c == "\u{2019}" }
        while i < s.endIndex {
            guard isWordChar(s[i]) else { i = s.index(after: i); continue }
            var j = s.index(after: i)
            while j < s.endIndex {
                if isWordChar(s[j]) { j = s.index(after: j); continue }
                let n = s.index(after: j)
                if isApostrophe(s[j]), n < s.endIndex, s[n].isLetter { j = s.index(after: n); continue }
                break
            }
            let text = s[i..<j]
            out.append(Token(text: text, key: String(text).lowercased().replacingApostrophes()))
            i = j
        }
        return out
    }

    /// A phrase of the vocabulary, tokenised.
    struct Pattern {
        var words: [String]
        var entry: Int
    }

    /// All phrases, longest (most words) first; ties in vocabulary order.
    static let patterns: [Pattern] = {
        var p: [Pattern] = []
        for (k, e) in entries.enumerated() { for ph in e.phrases { p.append(Pattern(words: tokens(ph).map(\.key), entry: k)) } }
        return p.enumerated().sorted { a, b in
            a.element.words.count != b.element.words.count ? a.element.words.count > b.element.words.count : a.offset < b.offset
        }.map(\.element)
    }()

    static let modifierPatterns: [(words: [String], amount: Double)] =
        modifiers.map { (tokens($0.phrase).map(\.key), $0.amount) }.sorted { $0.0.count > $1.0.count }

    /// The modifier starting at word `i`: its word count and amount.
    static func modifier(_ t: [Token], at i: Int) -> (length: Int, amount: Double)? {
        for m in modifierPatterns where i + m.words.count <= t.count {
            if (0..<m.words.count).allSatisfy({ t[i + $0].key == m.words[$0] }) { return (m.words.count, m.amount) }
        }
        return nil
    }

    /// The longest phrase starting at word `i`, allowing one modifier between its words: the index
    /// past the match, the entry, and the embedded modifier's amount.
    static func phrase(_ t: [Token], at i: Int) -> (end: Int, entry: Int, amount: Double?)? {
        for p in patterns {
            var j = i, amount: Double? = nil, ok = true
            for (m, w) in p.words.enumerated() {
                if j < t.count, t[j].key == w { j += 1; continue }
                if m > 0, amount == nil, let mod = modifier(t, at: j), j + mod.length < t.count, t[j + mod.length].key == w {
                    amount = mod.amount
                    j += mod.length + 1
                    continue
                }
                ok = false
                break
            }
            if ok { return (j, p.entry, amount) }
        }
        return nil
    }

    /// Reads a prompt into terms for the directions in `directions` (default: the discovered table).
    public static func parse(_ prompt: String, directions: [LatentDirection] = LatentDirections.discovered) -> ParsedPrompt {
        let t = tokens(prompt)
        var result = ParsedPrompt(prompt: prompt)
        var pending: (start: Int, end: Int, amount: Double)? = nil   // a modifier waiting for its phrase
        func flushPending() {
            if let p = pending { for k in p.start..<p.end where !stopwords.contains(t[k].key) { result.ignored.append(String(t[k].text)) } }
            pending = nil
        }
        func span(_ a: Int, _ b: Int) -> String { String(prompt[t[a].text.startIndex..<t[b - 1].text.endIndex]) }
        var i = 0
        while i < t.count {
            if let m = phrase(t, at: i) {
                let e = entries[m.entry]
                let start = pending?.start ?? i
                let amount = m.amount ?? pending?.amount ?? defaultAmount
                pending = nil
                let text = span(start, m.end)
                if let d = directions.first(where: { $0.name == e.direction }), abs(d.heldOutCorrelation) >= LatentDirections.minimumCorrelation {
                    let term = PromptTerm(phrase: text, direction: e.direction, sign: e.sign, amount: amount)
                    if let k = result.terms.firstIndex(where: { $0.direction == e.direction }) {
                        let old = result.terms[k]
                        result.conflicts.append("\"\(old.phrase)\" and \"\(text)\" both set \(e.direction); the later one, \"\(text)\", wins")
                        result.terms.remove(at: k)
                    }
                    result.terms.append(term)
                } else {
                    result.ignored.append(text)
                    if let d = directions.first(where: { $0.name == e.direction }) {
                        result.notes.append("\"\(text)\": the \(e.direction) direction is too weak in this generator (held-out r "
                            + formatFixed(d.heldOutCorrelation, 2) + ", below " + formatFixed(LatentDirections.minimumCorrelation, 2) + "); not applied")
                    } else {
                        result.notes.append("\"\(text)\": no \(e.direction) direction has been discovered for this generator; not applied")
                    }
                }
                i = m.end
                continue
            }
            if let mod = modifier(t, at: i) {
                flushPending()
                pending = (i, i + mod.length, mod.amount)
                i += mod.length
                continue
            }
            if stopwords.contains(t[i].key) {
                // A stopword between a modifier and its phrase keeps the modifier waiting.
                i += 1
                continue
            }
            flushPending()
            result.ignored.append(String(t[i].text))
            i += 1
        }
        flushPending()
        return result
    }

    /// The vocabulary as the directions in `directions` allow it: each entry with whether it is
    /// offered and the direction's held-out r (nil when not discovered).
    public static func offered(directions: [LatentDirection] = LatentDirections.discovered)
        -> [(entry: VocabularyEntry, offered: Bool, heldOutCorrelation: Double?)] {
        entries.map { e in
            let d = directions.first { $0.name == e.direction }
            return (e, d.map { abs($0.heldOutCorrelation) >= LatentDirections.minimumCorrelation } ?? false, d?.heldOutCorrelation)
        }
    }
}

extension String {
    func replacingApostrophes() -> String {
        String(unicodeScalars.map { $0 == "\u{2019}" ? "'" : Character($0) })
    }
}
