import Foundation

/// CLIP's byte-level BPE tokenizer, as Hugging Face's `CLIPTokenizer` runs it for Stable Diffusion's
/// text encoder: cleaned text (`CLIPTextCleaner`) split into words, numbers and punctuation runs,
/// each word's UTF-8 bytes mapped to printable characters, merged by rank, looked up in the vocabulary;
/// then `<|startoftext|>` ids `<|endoftext|>`, truncated and padded to 77.
public struct CLIPTokenizer: Sendable {
    public static let contextLength = 77
    public static let startOfText = "<|startoftext|>", endOfText = "<|endoftext|>"
    /// CLIP's merge table has 48,894 entries (49,152 - 256 - 2); Hugging Face reads no more than that.
    public static let mergeCount = 49_152 - 256 - 2

    public let vocabulary: [String: Int]
    private let ranks: [Pair: Int]
    public let startId: Int, endId: Int, padId: Int

    struct Pair: Hashable { let a: String, b: String }

    /// From a merges file (`merges.txt`, or CLIP's original `bpe_simple_vocab_16e6.txt`: a first line
    /// that is skipped, then one "a b" pair per line) and a vocabulary (`vocab.json`). Without one, the
    /// vocabulary is derived as CLIP derives it: the 256 byte characters, the same with `</w>`, each
    /// merge's result in order, then the two special tokens (49,408 entries).
    public init(merges text: String, vocabulary: [String: Int]? = nil, padToken: String = endOfText) throws(TokenizerError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().prefix(Self.mergeCount)
        var ranks: [Pair: Int] = [:]
        var order: [Pair] = []
        for (i, line) in lines.enumerated() where !line.isEmpty {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw .badMerges(line: i + 2, String(line.prefix(60))) }
            let p = Pair(a: String(parts[0]), b: String(parts[1]))
            ranks[p] = i   // a repeated pair keeps its last rank, as a Python dict built from the list does
            order.append(p)
        }
        let vocab = vocabulary ?? Self.derivedVocabulary(order)
        guard let s = vocab[Self.startOfText], let e = vocab[Self.endOfText] else { throw .missingSpecialTokens }
        guard let pad = vocab[padToken] else { throw .unknownPadToken(padToken) }
        self.vocabulary = vocab; self.ranks = ranks
        startId = s; endId = e; padId = pad
    }

    /// A diffusers `tokenizer/` folder: `vocab.json`, `merges.txt`, and the pad token from
    /// `special_tokens_map.json` when it names one (SD 1.x pads with `<|endoftext|>`, SD 2.x with `!`).
    public init(folder: String) throws(TokenizerError) {
        func read(_ name: String) throws(TokenizerError) -> Data {
            guard let d = FileManager.default.contents(atPath: folder + "/" + name) else { throw .missingFile(folder + "/" + name) }
            return d
        }
        let vocabData = try read("vocab.json"), mergesData = try read("merges.txt")
        guard let vocab = try? JSONDecoder().decode([String: Int].self, from: vocabData) else { throw .badVocabulary(folder + "/vocab.json") }
        guard let merges = String(data: mergesData, encoding: .utf8) else { throw .badMerges(line: 0, "not UTF-8") }
        var pad = Self.endOfText
        if let special = FileManager.default.contents(atPath: folder + "/special_tokens_map.json"),
           let map = try? JSONSerialization.jsonObject(with: special) as? [String: Any] {
            if let p = map["pad_token"] as? String { pad = p } else if let p = (map["pad_token"] as? [String: Any])?["content"] as? String { pad = p }
        }
        try self.init(merges: merges, vocabulary: vocab, padToken: pad)
    }

    /// The 77 ids the text encoder takes, and whether the prompt was cut to fit.
    public func encode(_ prompt: String) -> (ids: [Int], truncated: Bool) {
        let body = ids(prompt)
        let kept = body.prefix(Self.contextLength - 2)
        let ids = [startId] + kept + [endId]
        return (ids + Array(repeating: padId, count: Self.contextLength - ids.count), kept.count < body.count)
    }

    /// The prompt's token ids, without start, end or padding. A special token written in the prompt
    /// is that token, as in Hugging Face's tokenizer.
    public func ids(_ prompt: String) -> [Int] {
        var out: [Int] = []
        for piece in Self.splitSpecialTokens(prompt) {
            if piece == Self.startOfText { out.append(startId); continue }
            if piece == Self.endOfText { out.append(endId); continue }
            for word in CLIPPreTokenizer.words(CLIPTextCleaner.clean(piece)) {
                if word == Self.startOfText || word == Self.endOfText { out.append(vocabulary[word]!); continue }
                for token in bpe(ByteLevel.encode(word)) { out.append(vocabulary[token] ?? endId) }
            }
        }
        return out
    }

    /// The merged tokens of one byte-encoded word (its last character carries `</w>`).
    func bpe(_ word: [String]) -> [String] {
        var symbols = word
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (rank: Int, pair: Pair)? = nil
            for i in 0..<(symbols.count - 1) {
                let p = Pair(a: symbols[i], b: symbols[i + 1])
                if let r = ranks[p], r < (best?.rank ?? Int.max) { best = (r, p) }
            }
            guard let (_, pair) = best else { break }
            var merged: [String] = []
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == pair.a && symbols[i + 1] == pair.b {
                    merged.append(pair.a + pair.b); i += 2
                } else {
                    merged.append(symbols[i]); i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }

    static func derivedVocabulary(_ merges: [Pair]) -> [String: Int] {
        let bytes = ByteLevel.order.map { ByteLevel.character($0) }
        let tokens = bytes + bytes.map { $0 + "</w>" } + merges.map { $0.a + $0.b } + [startOfText, endOfText]
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { vocab[t] = i }   // last wins, as in CLIP's dict(zip(vocab, range))
        return vocab
    }

    /// The prompt cut around exact occurrences of the two special tokens (kept as pieces).
    static func splitSpecialTokens(_ text: String) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while let r = [startOfText, endOfText].compactMap({ rest.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            if r.lowerBound > rest.startIndex { pieces.append(String(rest[..<r.lowerBound])) }
            pieces.append(String(rest[r]))
            rest = rest[r.upperBound...]
        }
        if !rest.isEmpty { pieces.append(String(rest)) }
        return pieces
    }
}

public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case missingFile(String)
    case badVocabulary(String)
    case badMerges(line: Int, String)
    case missingSpecialTokens
    case unknownPadToken(String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): the tokenizer file is missing"
        case .badVocabulary(let p): return "\(p): not a JSON object of token ids"
        case .badMerges(let line, let text): return "merges file, line \(line): not a pair of tokens ('\(text)')"
        case .missingSpecialTokens: return "the vocabulary has no <|startoftext|> or <|endoftext|>: not a CLIP tokenizer"
        case .unknownPadToken(let t): return "the pad token '\(t)' is not in the vocabulary"
        }
    }
}
