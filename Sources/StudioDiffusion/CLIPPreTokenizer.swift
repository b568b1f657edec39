/// The split of cleaned text into the pieces CLIP encodes one by one: Hugging Face's pattern
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// (case-insensitive), applied leftmost-first as `re.findall` applies it; white space separates.
enum CLIPPreTokenizer {
    static func words(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var out: [String] = []
        var i = 0
        func take(_ n: Int) { out.append(String(String.UnicodeScalarView(s[i..<(i + n)]))); i += n }
        while i < s.count {
            if let n = special(s, i) ?? contraction(s, i) { take(n); continue }
            let c = s[i]
            if isLetter(c) { take(run(s, i, isLetter)); continue }
            if isNumber(c) { take(1); continue }
            if c.properties.isWhitespace { i += 1; continue }
            take(run(s, i) { !isLetter($0) && !isNumber($0) && !$0.properties.isWhitespace })
        }
        return out
    }

    private static func run(_ s: [Unicode.Scalar], _ i: Int, _ p: (Unicode.Scalar) -> Bool) -> Int {
        var j = i
        while j < s.count && p(s[j]) { j += 1 }
        return j - i
    }

    /// Length of `<|startoftext|>` or `<|endoftext|>` (any case) at `i`.
    private static func special(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        for token in [CLIPTokenizer.startOfText, CLIPTokenizer.endOfText] where matches(s, i, token) { return token.unicodeScalars.count }
        return nil
    }

    /// Length of 's, 't, 're, 've, 'm, 'll or 'd (any case) at `i`, tried in that order.
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        for c in ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"] where matches(s, i, c) { return c.count }
        return nil
    }

    /// Whether `literal` (ASCII) is at `i`, ignoring ASCII case.
    private static func matches(_ s: [Unicode.Scalar], _ i: Int, _ literal: String) -> Bool {
        let l = Array(literal.unicodeScalars)
        guard i + l.count <= s.count else { return false }
        for k in 0..<l.count {
            let a = s[i + k], b = l[k]
            guard a.isASCII, String(a).lowercased() == String(b).lowercased() else { return false }
        }
        return true
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}

/// GPT-2's byte-to-character table, which CLIP uses: printable bytes (`!`-`~`, `¡`-`¬`, `®`-`ÿ`) stand
/// for themselves, the other 68 for U+0100 onwards in byte order, so no token contains a space or a control.
enum ByteLevel {
    /// Bytes in the table's order: the printable ones first, then the rest.
    static let order: [UInt8] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        return (printable + (0...255).filter { !printable.contains($0) }).map(UInt8.init)
    }()

    private static let characters: [String] = {
        var table = [String](repeating: "", count: 256)
        var next: UInt32 = 256
        for b in order {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            table[Int(b)] = String(Unicode.Scalar(printable ? UInt32(b) : next)!)
            if !printable { next += 1 }
        }
        return table
    }()

    static func character(_ b: UInt8) -> String { characters[Int(b)] }

    /// A word's UTF-8 bytes as their characters, one string per byte.
    static func encode(_ word: String) -> [String] { word.utf8.map { characters[Int($0)] } }
}
