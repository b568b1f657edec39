import StudioKit
import StudioImage
import StudioLocal


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
