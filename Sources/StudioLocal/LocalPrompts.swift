import StudioKit

/// The local backend's prompt handling: `PromptVocabulary` terms become targets along the discovered
/// latent directions; everything else is reported, never silently dropped.
public enum LocalPrompts {
    @Sendable public static func plan(_ prompt: String) -> PromptPlan {
        let parsed = PromptVocabulary.parse(prompt)
        var targets: [PromptTarget] = []
        var messages: [String] = []
        var requested: [String] = []
        for t in parsed.terms {
            guard let d = LatentDirections.named(t.direction) else {
                messages.append("\"\(t.phrase)\": no \(t.direction) direction; not applied"); continue
            }
            targets.append(PromptTarget(name: d.name, vector: d.vector, target: t.sign * t.amount))
            for m in PromptPlan.requestedModes(direction: d.name, sign: t.sign) where !requested.contains(m) { requested.append(m) }
            messages.append("\"\(t.phrase)\" → \(d.name) \(t.sign > 0 ? "+" : "-")\(formatFixed(t.amount, 2)) sd")
        }
        if !parsed.ignored.isEmpty {
            messages.append("ignored (the local model cannot honour): " + parsed.ignored.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        messages += parsed.conflicts + parsed.notes
        return PromptPlan(targets: targets, messages: messages, requestedModes: requested)
    }

    public static func vocabularyTable() -> String {
        var lines = ["The local backend's prompt vocabulary (each phrase moves the latent along a direction discovered by",
                     "tools/discover-directions.sh; 'slightly' halves the move, 'very' strengthens it):", ""]
        for (e, offered, r) in PromptVocabulary.offered() {
            let status = offered ? "held-out r \(formatFixed(r ?? 0, 2))" : "not offered" + (r.map { " (held-out r \(formatFixed($0, 2)) too weak)" } ?? "")
            lines.append("  " + e.phrases.joined(separator: " | ") + "  → \(e.direction) \(e.sign > 0 ? "+" : "-")  [\(status)]  \(e.meaning)")
        }
        lines.append("")
        lines.append("Any other word is reported as ignored.")
        return lines.joined(separator: "\n")
    }
}
