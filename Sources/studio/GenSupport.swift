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
