import StudioKit
import StudioImage
import StudioLocal


/// scores.png: identity distance per attempt, one series per shot, with the threshold and the
/// uncertain band; frames.png (video outputs): the identity distance of every sampled frame.
enum ScorePlotter {
    /// The frames of each shot's chosen attempt (else its last with frames) against their time, a curve
    /// per shot; nil when no attempt was a video.
    static func renderFrames(_ results: [ShotResult], threshold: Double, band: Double, character: String) -> RGBImage? {
        var series: [PlotSeries] = []
        for (i, r) in results.enumerated() {
            let chosen = r.chosenAttempt.flatMap { k in r.attempts.first { $0.attempt == k } }
            guard let a = chosen?.frames?.isEmpty == false ? chosen : r.attempts.last(where: { $0.frames?.isEmpty == false }),
                  let frames = a.frames else { continue }
            let points = frames.map { f in
                PlotPoint(x: f.seconds, y: f.distance ?? .nan, marker: f.verdict == .pass ? .pass : f.verdict == .uncertain ? .uncertain : .fail)
            }
            series.append(PlotSeries(label: "shot \(r.shot.index + 1) attempt \(a.attempt)", points: points,
                                     colour: PlotSeries.palette[i % PlotSeries.palette.count]))
        }
        guard !series.isEmpty else { return nil }
        let plot = LinePlot(title: "\(character): identity distance per video frame", xLabel: "seconds into the video", yLabel: "distance to the character",
                            series: series, horizontalLines: [PlotLine(y: threshold, label: "threshold \(fmt(threshold, 3))", colour: Colour(200, 40, 40))],
                            band: (threshold - band, threshold + band))
        return plot.render(width: 800, height: 500)
    }

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

/// Attribute drift per attempt: each measured drift mode's level (`Judgement.driftLevels`: its change
/// over its limit, drift above 1) across the run's attempts in order, what `drift.png` draws.
enum DriftPlotter {
    /// Modes plotted: those that came nearest their limit anywhere in the run (up to this many).
    static let maxModes = 6

    /// nil when no attempt has a judged face.
    static func render(_ results: [ShotResult], character: String) -> RGBImage? {
        let attempts = results.flatMap { r in r.attempts.map { (shot: r.shot.index, attempt: $0) } }
        var peak: [String: Double] = [:]
        for a in attempts { for (m, l) in a.attempt.judgement?.driftLevels ?? [:] { peak[m] = max(peak[m] ?? 0, l) } }
        let modes = peak.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(maxModes).map(\.key)
        guard !modes.isEmpty else { return nil }
        let series = modes.enumerated().map { i, mode in
            PlotSeries(label: mode, points: attempts.enumerated().compactMap { x, a -> PlotPoint? in
                guard let j = a.attempt.judgement, let l = j.driftLevels[mode] else { return nil }
                let drifted = j.findings.contains { $0.modeId == mode }
                return PlotPoint(x: Double(x + 1), y: min(l, 3), marker: drifted ? .fail : .pass)
            }, colour: PlotSeries.palette[i % PlotSeries.palette.count])
        }
        let order = attempts.map { "S\($0.shot + 1)A\($0.attempt.attempt)" }.joined(separator: " ")
        var plot = LinePlot(title: "\(character): attribute drift per attempt",
                            xLabel: "attempt in run order: " + String(order.prefix(64)), yLabel: "change / drift limit", series: series,
                            horizontalLines: [PlotLine(y: 1, label: "drift limit", colour: Colour(200, 40, 40))],
                            xRange: 0.5...(Double(attempts.count) + 0.5), yRange: 0...3, integerX: true)
        plot.markerLabels = [.pass: "measured", .fail: "diagnosed as drift"]
        return plot.render(width: 800, height: 500)
    }
}

/// A calibration's distance distributions as frequency curves (share of each set's pairs per 0.02-wide
/// bin), with the chosen threshold as a vertical line: what `studio bench calibrate --plot` draws.
enum DistanceHistogram {
    static let binWidth = 0.02

    /// Share of `values` in each bin starting at `lower`: one point per bin, at the bin's centre.
    static func curve(_ values: [Double], lower: Double, bins: Int) -> [PlotPoint] {
        var counts = [Int](repeating: 0, count: bins)
        for v in values where v.isFinite {
            let k = Int(((v - lower) / binWidth).rounded(.down))
            if k >= 0 && k < bins { counts[k] += 1 }
        }
        let n = Double(max(1, values.count))
        return counts.enumerated().map { PlotPoint(x: lower + (Double($0.offset) + 0.5) * binWidth, y: Double($0.element) / n) }
    }

    static func render(title: String, sets: [(label: String, distances: [Double])], threshold: Double, thresholdLabel: String) -> RGBImage {
        let all = sets.flatMap(\.distances).filter(\.isFinite) + [threshold]
        let lower = ((all.min() ?? 0) / binWidth).rounded(.down) * binWidth - binWidth
        let bins = max(1, Int((((all.max() ?? 1) - lower) / binWidth).rounded(.up)) + 1)
        var series = sets.enumerated().map { i, s in
            PlotSeries(label: "\(s.label) (\(s.distances.count))", points: curve(s.distances, lower: lower, bins: bins),
                       colour: PlotSeries.palette[i % PlotSeries.palette.count])
        }
        let top = series.flatMap(\.points).map(\.y).max() ?? 1
        // The threshold as a vertical line: a two-point series from the axis to the tallest bin.
        series.append(PlotSeries(label: thresholdLabel, points: [PlotPoint(x: threshold, y: 0), PlotPoint(x: threshold, y: top)],
                                 colour: Colour(200, 40, 40)))
        let plot = LinePlot(title: title, xLabel: "distance between the two faces", yLabel: "share of pairs per 0.02",
                            series: series, yRange: 0...(top * 1.08))
        return plot.render(width: 800, height: 500)
    }
}
