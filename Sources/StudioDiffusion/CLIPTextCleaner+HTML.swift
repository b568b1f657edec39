extension CLIPTextCleaner {
    /// Named references decoded (with their semicolon, as ftfy requires): the XML five, their all-caps
    /// forms, and the typographic ones prompts copied from web pages carry.
    static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "AMP": "&", "LT": "<", "GT": ">", "QUOT": "\"",
        "nbsp": "\u{A0}", "NBSP": "\u{A0}", "copy": "©", "COPY": "©", "reg": "®", "REG": "®", "trade": "™", "TRADE": "™",
        "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”",
        "laquo": "«", "raquo": "»", "middot": "·", "bull": "•", "deg": "°", "times": "×", "divide": "÷",
        "eacute": "é", "Eacute": "É", "egrave": "è", "agrave": "à", "aacute": "á", "iacute": "í", "oacute": "ó",
        "uacute": "ú", "ntilde": "ñ", "Ntilde": "Ñ", "ouml": "ö", "uuml": "ü", "auml": "ä", "szlig": "ß", "ccedil": "ç",
    ]

    /// ftfy's `unescape_html`: each `&` + optional `#` + 1 to 24 letters or digits + `;` that names a
    /// known character is replaced by it; numeric references decode as Python's `html.unescape` decodes
    /// them (Windows-1252 for 0x80-0x9F, U+FFFD for 0, surrogates and beyond U+10FFFF, nothing for the
    /// non-characters and most controls).
    static func unescapeHTML(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "&", let (replacement, end) = reference(s, at: i) {
                out.append(contentsOf: replacement.unicodeScalars)
                i = end
                continue
            }
            out.append(s[i]); i += 1
        }
        return String(out)
    }

    /// The replacement of the reference starting at `i` and the index after its `;`, or nil.
    private static func reference(_ s: [Unicode.Scalar], at i: Int) -> (String, Int)? {
        var j = i + 1
        let numeric = j < s.count && s[j] == "#"
        if numeric { j += 1 }
        let bodyStart = j
        while j < s.count, j - bodyStart < 25, s[j].isASCII, s[j].properties.isAlphabetic || ("0"..."9").contains(s[j]) { j += 1 }
        let length = j - bodyStart
        guard length >= 1 && length <= 24, j < s.count, s[j] == ";" else { return nil }
        let body = String(String.UnicodeScalarView(s[bodyStart..<j]))
        if !numeric { return namedEntities[body].map { ($0, j + 1) } }
        // ftfy keeps the reference when its decoding still holds a semicolon ("&#59;").
        guard let decoded = numericReference(body), !decoded.contains(";") else { return nil }
        return (decoded, j + 1)
    }

    /// `&#body;` as html.unescape decodes it, or nil where it would not consume the semicolon.
    private static func numericReference(_ body: String) -> String? {
        let hex = body.first == "x" || body.first == "X"
        let digits = hex ? String(body.dropFirst()) : body
        guard !digits.isEmpty, digits.allSatisfy({ hex ? $0.isHexDigit : $0.isASCII && $0.isNumber }),
              let value = UInt64(digits.prefix(20), radix: hex ? 16 : 10) else { return nil }
        let cp = digits.count > 19 ? UInt64.max : value
        if (0x80...0x9F).contains(cp) { return String(Unicode.Scalar(windows1252C1[Int(cp - 0x80)])!) }
        if cp == 0x0D { return "\r" }
        if cp == 0 || (0xD800...0xDFFF).contains(cp) || cp > 0x10FFFF { return "\u{FFFD}" }
        if isInvalidCodepoint(UInt32(cp)) { return "" }
        return String(Unicode.Scalar(UInt32(cp))!)
    }

    /// Python's `html._invalid_codepoints`: most C0 controls, DEL, C1 controls, and the non-characters.
    private static func isInvalidCodepoint(_ cp: UInt32) -> Bool {
        (0x1...0x8).contains(cp) || cp == 0xB || (0xE...0x1F).contains(cp) || (0x7F...0x9F).contains(cp)
            || (0xFDD0...0xFDEF).contains(cp) || (cp & 0xFFFE) == 0xFFFE
    }
}
