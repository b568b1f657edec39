import XCTest
import Foundation
import StudioKit
@testable import StudioImage

final class PlotTests: XCTestCase {
    /// Not the fail marker's red, so the line's pixels can be told from markers.
    let threshold = Colour(200, 60, 140)
    let blue = PlotSeries.palette[0]

    /// "Identity distance per attempt": five attempts, one without a face (NaN), the threshold and
    /// an uncertain band around it.
    func runPlot() -> LinePlot {
        LinePlot(title: "Identity distance per attempt", xLabel: "attempt", yLabel: "distance",
                 series: [PlotSeries(label: "ada", points: [
                    PlotPoint(x: 1, y: 0.71, marker: .fail), PlotPoint(x: 2, y: 0.60, marker: .fail),
                    PlotPoint(x: 3, y: .nan, marker: .fail), PlotPoint(x: 4, y: 0.52, marker: .uncertain),
                    PlotPoint(x: 5, y: 0.44, marker: .pass), PlotPoint(x: 6, y: 0.38, marker: .pass)], colour: blue)],
                 horizontalLines: [PlotLine(y: 0.508, label: "threshold 0.508", colour: threshold)],
                 band: (low: 0.48, high: 0.54), integerX: true)
    }

    func colour(_ img: RGBImage, _ x: Int, _ y: Int) -> Colour { Colour(img[x, y, 0], img[x, y, 1], img[x, y, 2]) }

    func count(_ img: RGBImage, _ c: Colour, xs: ClosedRange<Int>, ys: ClosedRange<Int>) -> Int {
        var n = 0
        for y in ys where y >= 0 && y < img.height { for x in xs where x >= 0 && x < img.width { if colour(img, x, y) == c { n += 1 } } }
        return n
    }

    func testSameInputSameBytes() throws {
        let a = try ImageIO.encodePNG(runPlot().render())
        let b = try ImageIO.encodePNG(runPlot().render())
        XCTAssertEqual(a, b)
        let img = runPlot().render(width: 800, height: 500)
        XCTAssertEqual(img.width, 800); XCTAssertEqual(img.height, 500)
        XCTAssertNotEqual(try ImageIO.encodePNG(runPlot().render(width: 640, height: 400)), a)
    }

    func testThresholdLineIsDrawnAtItsRow() {
        let plot = runPlot()
        let img = plot.render()
        let L = plot.layout()
        let row = L.pixel(x: 1, y: 0.508).y
        XCTAssertTrue(L.plot.top < row && row < L.plot.bottom)
        // The line crosses the plot area: at least 90 % of that row is the threshold colour (the data
        // line and markers may cross it).
        let onRow = count(img, threshold, xs: L.plot.left...L.plot.right, ys: row...row)
        XCTAssertGreaterThan(Double(onRow) / Double(L.plot.width), 0.9)
        // Rows away from it are not.
        let away = Int(L.row(0.45).rounded())
        XCTAssertEqual(count(img, threshold, xs: L.plot.left...L.plot.right, ys: away...away), 0)
        // The band is shaded behind: its colour appears between its rows, not outside.
        let inBand = Int(L.row(0.525).rounded())
        XCTAssertGreaterThan(count(img, plot.bandColour, xs: L.plot.left...L.plot.right, ys: inBand...inBand), L.plot.width / 2)
        XCTAssertEqual(count(img, plot.bandColour, xs: L.plot.left...L.plot.right, ys: away...away), 0)
    }

    func testSeriesColourAndMarkersAtTheirPoints() {
        let plot = runPlot()
        let img = plot.render()
        let L = plot.layout()
        for p in plot.series[0].points where p.y.isFinite {
            let c = L.pixel(x: p.x, y: p.y)
            XCTAssertGreaterThan(count(img, blue, xs: (c.x - 8)...(c.x + 8), ys: (c.y - 8)...(c.y + 8)), 0, "series colour near (\(p.x), \(p.y))")
        }
        // Verdicts are told by shape, every marker in the series colour (so shots stay apart): a filled
        // circle (pass) covers the pixel straight above its centre, a cross (fail) does not, and a
        // hollow diamond (uncertain) leaves its centre the background.
        let pass = L.pixel(x: 5, y: 0.44), fail = L.pixel(x: 1, y: 0.71), unsure = L.pixel(x: 4, y: 0.52)
        let r = 3 * L.textScale
        XCTAssertEqual(colour(img, pass.x, pass.y), blue)
        XCTAssertEqual(colour(img, pass.x, pass.y - r), blue, "a filled circle")
        XCTAssertEqual(colour(img, fail.x, fail.y), blue)
        XCTAssertNotEqual(colour(img, fail.x, fail.y - r), blue, "a cross, open above its centre")
        XCTAssertEqual(colour(img, fail.x + r, fail.y - r), blue, "on the cross's arm")
        XCTAssertEqual(colour(img, unsure.x, unsure.y), plot.background, "a hollow diamond")
        XCTAssertEqual(colour(img, unsure.x + r + 1, unsure.y), blue, "its outline")
        for verdict in [Colour.pass, Colour.fail, Colour.uncertain] {
            XCTAssertEqual(count(img, verdict, xs: L.plot.left...L.plot.right, ys: L.plot.top...L.plot.bottom), 0, "no verdict colour hides the series'")
        }
        // Data is drawn over the threshold line, not under it: where the segment from attempt 4 (0.52)
        // to 5 (0.44) crosses 0.508 the pixel is the series colour.
        let cross = L.pixel(x: 4 + (0.52 - 0.508) / (0.52 - 0.44), y: 0.508)
        XCTAssertGreaterThan(count(img, blue, xs: (cross.x - 1)...(cross.x + 1), ys: cross.y...cross.y), 0)
        // Text: the title above the plot, tick labels left of it, in the foreground colour.
        XCTAssertGreaterThan(count(img, plot.foreground, xs: 0...(img.width - 1), ys: 0...(L.legendTop - 1)), 50)
        XCTAssertGreaterThan(count(img, plot.foreground, xs: 0...(L.plot.left - 4), ys: L.plot.top...L.plot.bottom), 50)
    }

    func testMissingValueIsSkippedAndBreaksTheLine() {
        let plot = runPlot()
        let img = plot.render()
        let L = plot.layout()
        // Attempt 3 has no distance: no line from attempt 2 to attempt 4 passes x = 3.
        let x3 = Int(L.column(3).rounded())
        XCTAssertEqual(count(img, blue, xs: (x3 - 1)...(x3 + 1), ys: L.plot.top...L.plot.bottom), 0)
        // Infinite and NaN everywhere: still renders, ranges from what is finite.
        var odd = plot
        odd.series.append(PlotSeries(label: "odd", points: [PlotPoint(x: .infinity, y: 1), PlotPoint(x: 2, y: -.infinity), PlotPoint(x: .nan, y: .nan)]))
        odd.horizontalLines.append(PlotLine(y: .nan, label: "nan", colour: .black))
        var huge = plot
        huge.xRange = 0...10; huge.yRange = 0...1
        huge.series.append(PlotSeries(label: "far", points: [PlotPoint(x: 1e300, y: -1e300), PlotPoint(x: 2, y: 0.5), PlotPoint(x: -1e300, y: 1e300)]))
        huge.horizontalLines.append(PlotLine(y: 1e300, label: "far", colour: .black))
        huge.band = (low: -1e300, high: 1e300)
        XCTAssertEqual(huge.render(width: 300, height: 200).width, 300, "far-away values are clipped, not converted")
        let r = odd.render()
        XCTAssertEqual(r.width, 800)
        XCTAssertEqual(odd.layout().yRange, plot.layout().yRange)
    }

    func testEmptyAndSinglePointPlotsRender() throws {
        let empty = LinePlot(title: "nothing yet")
        let e = empty.render()
        XCTAssertEqual(e.width, 800); XCTAssertEqual(e.height, 500)
        XCTAssertEqual(empty.layout().xRange, -0.05...1.05)
        XCTAssertNoThrow(try ImageIO.encodePNG(e))
        XCTAssertNoThrow(LinePlot(series: [PlotSeries(label: "none", points: [])]).render(width: 200, height: 120))

        let one = LinePlot(series: [PlotSeries(label: "one", points: [PlotPoint(x: 1, y: 0.4, marker: .pass)], colour: blue)], integerX: true)
        let L = one.layout()
        XCTAssertEqual(L.xRange, 0...2)
        XCTAssertTrue(L.yRange.contains(0.4) && L.yRange.upperBound > L.yRange.lowerBound)
        let img = one.render()
        let c = L.pixel(x: 1, y: 0.4)
        XCTAssertEqual(colour(img, c.x, c.y), blue, "the pass marker, in the series colour")
        XCTAssertEqual(L.xTicks, [0, 1, 2])
        // Tiny images and degenerate given ranges do not divide by zero either.
        XCTAssertNoThrow(one.render(width: 1, height: 1))
        var fixed = one
        fixed.yRange = 0.5...0.5
        fixed.xRange = 3...3
        XCTAssertNoThrow(fixed.render(width: 50, height: 30))
    }

    /// The legend names marker shapes as the plot says (the drift plot's crosses are "diagnosed as
    /// drift", not a verdict); shapes not used, or without a label, are left out.
    func testMarkerLabelsAreThePlotsOwn() {
        var plot = LinePlot(series: [PlotSeries(label: "a", points: [PlotPoint(x: 1, y: 1, marker: .pass), PlotPoint(x: 2, y: 2, marker: .fail)])])
        XCTAssertEqual(plot.legendEntries.map(\.1), ["a", "pass", "fail"])
        plot.markerLabels = [.pass: "measured", .fail: "diagnosed as drift"]
        XCTAssertEqual(plot.legendEntries.map(\.1), ["a", "measured", "diagnosed as drift"])
        plot.markerLabels = [.fail: "drift"]
        XCTAssertEqual(plot.legendEntries.map(\.1), ["a", "drift"])
    }

    func testTicksAndLabels() {
        XCTAssertEqual(LinePlot.ticks(0...1, target: 5, integer: false), [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        XCTAssertEqual(LinePlot.ticks(0.5...5.5, target: 8, integer: true), [1, 2, 3, 4, 5])
        XCTAssertEqual(LinePlot.ticks(0.5...40.5, target: 8, integer: true), [5, 10, 15, 20, 25, 30, 35, 40])
        XCTAssertEqual(LinePlot.label(0.25, step: 0.05), "0.25")
        XCTAssertEqual(LinePlot.label(3, step: 1), "3")
        XCTAssertEqual(LinePlot.label(-0.5, step: 0.25), "-0.50")
        // Explicit ranges are used as given; lines and points outside them are clipped, not wrapped.
        var p = runPlot()
        p.yRange = 0.3...0.6
        p.xRange = 0...10
        let L = p.layout()
        XCTAssertEqual(L.yRange, 0.3...0.6)
        let img = p.render()
        XCTAssertEqual(count(img, blue, xs: 0...(img.width - 1), ys: (L.plot.bottom + 1)...(img.height - 1)), 0, "nothing below the plot area")
        XCTAssertEqual(count(img, blue, xs: 0...(L.plot.left - 1), ys: L.plot.top...L.plot.bottom), 0, "nothing left of it")
    }

    /// Writes the run plot (and a small one) for looking at: /tmp/studio-plot-run.png, /tmp/studio-plot-small.png.
    func testWritePlotsForVisualCheck() throws {
        try ImageIO.writePNG(runPlot().render(), to: "/tmp/studio-plot-run.png")
        var two = runPlot()
        two.series.append(PlotSeries(label: "bea", points: (1...6).map { PlotPoint(x: Double($0), y: 0.3 + 0.05 * Double($0 % 3)) }, colour: PlotSeries.palette[1]))
        try ImageIO.writePNG(two.render(width: 400, height: 260), to: "/tmp/studio-plot-small.png")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/tmp/studio-plot-run.png"))
    }
}
