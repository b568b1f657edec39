import StudioKit
import StudioImage
import StudioLocal

/// The local backend's prompt handling: `PromptVocabulary` terms become targets along the discovered
/// latent directions; everything else is reported, never silently dropped.
enum LocalPrompts {
    @Sendable static func plan(_ prompt: String) -> PromptPlan {
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
            messages.append("\"\(t.phrase)\" → \(d.name) \(t.sign > 0 ? "+" : "-")\(fmt(t.amount, 2)) sd")
        }
        if !parsed.ignored.isEmpty {
            messages.append("ignored (the local model cannot honour): " + parsed.ignored.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        messages += parsed.conflicts + parsed.notes
        return PromptPlan(targets: targets, messages: messages, requestedModes: requested)
    }

    static func vocabularyTable() -> String {
        var lines = ["The local backend's prompt vocabulary (each phrase moves the latent along a direction discovered by",
                     "tools/discover-directions.sh; 'slightly' halves the move, 'very' strengthens it):", ""]
        for (e, offered, r) in PromptVocabulary.offered() {
            let status = offered ? "held-out r \(fmt(r ?? 0, 2))" : "not offered" + (r.map { " (held-out r \(fmt($0, 2)) too weak)" } ?? "")
            lines.append("  " + e.phrases.joined(separator: " | ") + "  → \(e.direction) \(e.sign > 0 ? "+" : "-")  [\(status)]  \(e.meaning)")
        }
        lines.append("")
        lines.append("Any other word is reported as ignored.")
        return lines.joined(separator: "\n")
    }
}

/// scores.png: identity distance per attempt, one series per shot, with the threshold and the
/// uncertain band.
enum ScorePlotter {
    static func render(_ results: [ShotResult], threshold: Double, band: Double, character: String) -> RGBImage {
        var series: [PlotSeries] = []
        var lines = [PlotLine(y: threshold, label: "threshold \(fmt(threshold, 3))", colour: Colour(200, 40, 40))]
        var lookalike: Double? = nil
        for (i, r) in results.enumerated() {
            let points = r.attempts.map { a -> PlotPoint in
                let j = a.judgement
                if let t = j?.threshold, t < threshold { lookalike = t }
                let marker: PlotPoint.Marker = j?.verdict == .pass ? .pass : j?.verdict == .uncertain ? .uncertain : .fail
                return PlotPoint(x: Double(a.attempt), y: j?.distance ?? .nan, marker: marker)
            }
            series.append(PlotSeries(label: "shot \(r.shot.index + 1)", points: points,
                                     colour: PlotSeries.palette[i % PlotSeries.palette.count]))
        }
        if let l = lookalike { lines.append(PlotLine(y: l, label: "lookalike threshold \(fmt(l, 3))", colour: Colour(120, 40, 160))) }
        let maxAttempt = results.map(\.attempts.count).max() ?? 1
        let plot = LinePlot(title: "\(character): identity distance per attempt", xLabel: "attempt", yLabel: "distance to the character",
                            series: series, horizontalLines: lines, band: (threshold - band, threshold + band),
                            xRange: 0.5...(Double(max(1, maxAttempt)) + 0.5), integerX: true)
        return plot.render(width: 800, height: 500)
    }
}
