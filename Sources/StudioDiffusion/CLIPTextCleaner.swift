import Foundation

/// The text clean-up that Hugging Face's `CLIPTokenizer` applies before byte-pair encoding, when ftfy
/// is installed (as in every diffusers set-up): `whitespace_clean(ftfy.fix_text(text)).lower()`.
///
/// Of ftfy's `fix_text` this reproduces, in its order and repeated until the text stops changing:
/// HTML character references (numeric ones, and the named ones in `namedEntities`; none when the text
/// contains `<`), C1 controls read as Windows-1252, Latin ligatures, half- and full-width forms,
/// curly quotes, line breaks, terminal escapes, control characters, and NFC. Not reproduced: ftfy's
/// repair of mojibake (text decoded with the wrong codec, such as "cafÃ©" for "café") and the
/// named HTML entities outside the table; such prompts can tokenize differently from diffusers.
public enum CLIPTextCleaner {
    public static func clean(_ text: String) -> String {
        lowercase(collapseWhitespace(fixText(text)))
    }

    /// ftfy's `fix_text`, as far as described above.
    static func fixText(_ text: String) -> String {
        let html = !text.contains("<")
        var current = text
        for _ in 0..<16 {
            var t = current
            if html { t = unescapeHTML(t) }
            t = mapScalars(t, c1AsWindows1252)
            t = mapScalars(t, latinLigature)
            t = mapScalars(t, characterWidth)
            t = mapScalars(t, straightQuote)
            t = fixLineBreaks(t)
            t = removeTerminalEscapes(t)
            t = mapScalars(t) { controlCharacters.contains($0.value) ? "" : nil }
            t = t.precomposedStringWithCanonicalMapping
            // By scalars: String's == is canonical equivalence, under which NFC changes nothing.
            let stable = t.unicodeScalars.elementsEqual(current.unicodeScalars)
            current = t
            if stable { break }
        }
        return current
    }

    /// Runs of Unicode white space become one space; none at either end.
    static func collapseWhitespace(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for s in text.unicodeScalars {
            if s.properties.isWhitespace { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(s)
        }
        return String(out)
    }

    /// Python's `str.lower()`: full lowercase mappings, with Greek capital sigma as final sigma (ς) when
    /// it ends a word (a cased letter before it, none after, case-ignorable characters skipped).
    static func lowercase(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, s) in scalars.enumerated() {
            if s.value == 0x03A3 && isFinalSigma(scalars, i) { out.append("\u{03C2}"); continue }
            out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
        }
        return String(out)
    }

    private static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        func casedBefore() -> Bool {
            var j = i - 1
            while j >= 0 { if s[j].properties.isCaseIgnorable { j -= 1; continue }; return s[j].properties.isCased }
            return false
        }
        func casedAfter() -> Bool {
            var j = i + 1
            while j < s.count { if s[j].properties.isCaseIgnorable { j += 1; continue }; return s[j].properties.isCased }
            return false
        }
        return casedBefore() && !casedAfter()
    }

    // MARK: - ftfy's fixers

    /// `text` with each scalar for which `f` gives a replacement replaced.
    private static func mapScalars(_ text: String, _ f: (Unicode.Scalar) -> String?) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if let r = f(s) { out.append(contentsOf: r.unicodeScalars) } else { out.append(s) }
        }
        return String(out)
    }

    /// U+0080 ... U+009F as the Windows-1252 characters of those bytes ("sloppy": undefined bytes stay).
    private static func c1AsWindows1252(_ s: Unicode.Scalar) -> String? {
        guard s.value >= 0x80 && s.value <= 0x9F else { return nil }
        return String(Unicode.Scalar(windows1252C1[Int(s.value - 0x80)])!)
    }

    /// The characters of bytes 0x80 ... 0x9F in Windows-1252 (the five undefined bytes as themselves).
    static let windows1252C1: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    /// The Latin ligatures ftfy takes apart (IJ, ŉ, DŽ … dz, ﬀ … ﬆ), by their compatibility decomposition.
    private static func latinLigature(_ s: Unicode.Scalar) -> String? {
        let v = s.value
        guard v == 0x132 || v == 0x133 || v == 0x149 || (0x1C4...0x1CC).contains(v) || (0x1F1...0x1F3).contains(v)
              || (0xFB00...0xFB06).contains(v) else { return nil }
        return String(s).precomposedStringWithCompatibilityMapping
    }

    /// Half- and full-width forms (U+FF01 ... U+FFEF) by their compatibility form; U+3000 as a space.
    private static func characterWidth(_ s: Unicode.Scalar) -> String? {
        if s.value == 0x3000 { return " " }
        guard (0xFF01...0xFFEF).contains(s.value) else { return nil }
        let n = String(s).precomposedStringWithCompatibilityMapping
        return n == String(s) ? nil : n
    }

    private static func straightQuote(_ s: Unicode.Scalar) -> String? {
        switch s.value {
        case 0x02BC, 0x2018...0x201B: return "'"
        case 0x201C...0x201F: return "\""
        default: return nil
        }
    }

    private static func fixLineBreaks(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for s in text.unicodeScalars {
            if s == "\r" { out.append("\n"); previousCR = true; continue }
            defer { previousCR = false }
            if s == "\n" && previousCR { continue }
            out.append([0x2028, 0x2029, 0x85].contains(s.value) ? "\n" : s)
        }
        return String(out)
    }

    /// ESC `[` digits-or-semicolons letter, removed whole.
    private static func removeTerminalEscapes(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i].value == 0x1B && i + 1 < s.count && s[i + 1] == "[" {
                var j = i + 2
                while j < s.count && (s[j] == ";" || ("0"..."9").contains(s[j])) { j += 1 }
                if j < s.count && s[j].isASCII && s[j].properties.isAlphabetic { i = j + 1; continue }
            }
            out.append(s[i]); i += 1
        }
        return String(out)
    }

    /// ASCII controls other than tab, newline, form feed and carriage return; deprecated Arabic format
    /// controls; interlinear annotation; object replacement; byte order mark.
    static let controlCharacters: Set<UInt32> = Set(Array(0x00...0x08) + [0x0B] + Array(0x0E...0x1F) + [0x7F]
                                                     + Array(0x206A...0x206F) + Array(0xFFF9...0xFFFC) + [0xFEFF])
}
