import StudioKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One data point of a plot.
public struct PlotPoint: Sendable, Equatable {
    /// How a point is marked. Every marker is drawn in its series' colour, so series stay apart; the
    /// verdict is told by the shape.
    public enum Marker: Sendable, Equatable, CaseIterable {
        /// Filled circle.
        case pass
        /// Diagonal cross (×).
        case fail
        /// Hollow diamond (filled with the background).
        case uncertain
        /// Filled square.
        case plain
    }
    public var x: Double
    public var y: Double
    public var marker: Marker
    public init(x: Double, y: Double, marker: Marker = .plain) { self.x = x; self.y = y; self.marker = marker }
}

/// A named sequence of points joined by lines in `colour`.
public struct PlotSeries: Sendable {
    public var label: String
    public var points: [PlotPoint]
    public var colour: Colour
    public init(label: String, points: [PlotPoint], colour: Colour = PlotSeries.palette[0]) {
        self.label = label; self.points = points; self.colour = colour
    }
    /// Distinct line colours (blue, purple, teal, brown, pink, olive) that stay apart from the marker colours.
    public static let palette: [Colour] = [Colour(31, 119, 180), Colour(148, 103, 189), Colour(23, 190, 207),
                                           Colour(140, 86, 75), Colour(227, 119, 194), Colour(188, 189, 34)]
}

/// A horizontal reference line across the plot, e.g. the same-person threshold.
public struct PlotLine: Sendable, Equatable {
    public var y: Double
    public var label: String
    public var colour: Colour
    public init(y: Double, label: String, colour: Colour) { self.y = y; self.label = label; self.colour = colour }
}

/// A small, dependency-free line-plot renderer for run reports ("identity distance per attempt").
///
/// Layout, from the top: title, a legend row (wrapped when long), the plot area framed by axes with
/// tick marks and numeric labels (5x7 `BitmapFont`), the x-axis label below and the y-axis label
/// written upwards on the left. Drawing order inside the plot area: the shaded band, grid lines,
/// the horizontal lines, then each series' lines and markers, so reference lines never hide data.
///
/// Points with a non-finite x or y are skipped, and a series' line breaks there (a missing value is
/// not interpolated). Ranges left nil come from the finite data, the horizontal lines and the band,
/// padded by 5 % of the span on each side (x with `integerX`: by half a unit); a degenerate range
/// (one value) is widened to ±1 (or ±10 % of the value when larger) so nothing divides by zero.
public struct LinePlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSeries]
    /// Reference lines drawn behind the data, e.g. the threshold.
    public var horizontalLines: [PlotLine]
    /// A shaded band (e.g. "uncertain" around the threshold), behind everything else.
    public var band: (low: Double, high: Double)?
    public var bandColour: Colour
    public var bandLabel: String
    /// Axis ranges; nil = from the data with padding, including the lines and the band.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Ticks only at integers (attempt numbers).
    public var integerX: Bool
    /// What each marker shape means, in the legend (shapes without a label are left out of it).
    public var markerLabels: [PlotPoint.Marker: String] = [.pass: "pass", .fail: "fail", .uncertain: "uncertain"]
    public var background: Colour
    public var foreground: Colour

    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [PlotSeries] = [],
                horizontalLines: [PlotLine] = [], band: (low: Double, high: Double)? = nil,
                bandColour: Colour = Colour(252, 236, 196), bandLabel: String = "uncertain",
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil, integerX: Bool = false,
                background: Colour = .white, foreground: Colour = Colour(30, 30, 30)) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.horizontalLines = horizontalLines; self.band = band; self.bandColour = bandColour; self.bandLabel = bandLabel
        self.xRange = xRange; self.yRange = yRange; self.integerX = integerX
        self.background = background; self.foreground = foreground
    }

    /// Where things go for one image size: the plot area, the axis ranges and their ticks.
    public struct Layout: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// The plot area in pixels (inclusive); data maps into it.
        public var plot: Rect
        public var xRange: ClosedRange<Double>
        public var yRange: ClosedRange<Double>
        public var xTicks: [Double]
        public var yTicks: [Double]
        /// Font scale of all text.
        public var textScale: Int
        /// Top of the legend's first row.
        public var legendTop: Int

        /// The pixel column of x (may lie outside the plot area).
        public func column(_ x: Double) -> Double {
            Double(plot.left) + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * Double(plot.width - 1)
        }
        /// The pixel row of y (may lie outside the plot area); larger y is higher up.
        public func row(_ y: Double) -> Double {
            Double(plot.bottom) - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * Double(plot.height - 1)
        }
        /// The nearest pixel of (x, y); coordinates far outside the image are clamped to ±1e9.
        public func pixel(x: Double, y: Double) -> (x: Int, y: Int) {
            (Self.whole(column(x)), Self.whole(row(y)))
        }

        static func whole(_ v: Double) -> Int { v.isNaN ? Int.min / 2 : Int(max(-1e9, min(1e9, v)).rounded()) }
    }

    // MARK: Layout

    public func layout(width: Int = 800, height: Int = 500) -> Layout {
        let s = width >= 640 && height >= 400 ? 2 : 1
        let lineH = BitmapFont.lineHeight * s, glyphH = 7 * s
        let pad = 6 * s, tick = 3 * s

        // Ranges and ticks first: the tick labels' width sets the left margin.
        let xr = resolvedRange(xRange, data: dataX, integer: integerX)
        let yr = resolvedRange(yRange, data: dataY, integer: false)
        let yTicks = Self.ticks(yr, target: max(2, height / 70), integer: false)
        let xTicks = Self.ticks(xr, target: max(2, width / 90), integer: integerX)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        let yLabelWidth = yTicks.map { BitmapFont.width(of: Self.label($0, step: yStep), scale: s) }.max() ?? 0

        let top = pad + (title.isEmpty ? 0 : lineH + pad)
        let legendRows = legendLayout(width: width, scale: s, pad: pad).rows
        let plotTop = top + legendRows * lineH + (legendRows > 0 ? pad : 0) + glyphH / 2
        let left = pad + (yLabel.isEmpty ? 0 : glyphH + pad) + yLabelWidth + tick + pad
        let bottom = height - 1 - pad - (xLabel.isEmpty ? 0 : glyphH + pad) - glyphH - tick - pad
        let right = width - 1 - pad - BitmapFont.width(of: Self.label(xTicks.last ?? 0, step: xStep), scale: s) / 2
        // Never an empty or inverted area, even for tiny images.
        let plot = Rect(left: min(left, max(0, width - 2)), top: min(plotTop, max(0, height - 2)),
                        right: max(min(left, max(0, width - 2)) + 1, right),
                        bottom: max(min(plotTop, max(0, height - 2)) + 1, bottom))
        return Layout(width: width, height: height, plot: plot, xRange: xr, yRange: yr, xTicks: xTicks, yTicks: yTicks,
                      textScale: s, legendTop: top)
    }

    var finitePoints: [PlotPoint] { series.flatMap { $0.points.filter { $0.x.isFinite && $0.y.isFinite } } }
    var dataX: [Double] { finitePoints.map(\.x) }
    var dataY: [Double] {
        var v = finitePoints.map(\.y) + horizontalLines.map(\.y).filter(\.isFinite)
        if let b = band { v += [b.low, b.high].filter(\.isFinite) }
        return v
    }

    /// The given range when finite and non-degenerate, else one from the data (see the type's notes).
    func resolvedRange(_ given: ClosedRange<Double>?, data: [Double], integer: Bool) -> ClosedRange<Double> {
        if let g = given, g.lowerBound.isFinite, g.upperBound.isFinite, g.upperBound > g.lowerBound { return g }
        var lo: Double, hi: Double
        if let g = given, g.lowerBound.isFinite, g.upperBound.isFinite { lo = g.lowerBound; hi = g.upperBound }
        else if let mn = data.min(), let mx = data.max() { lo = mn; hi = mx }
        else { lo = 0; hi = 1 }
        if hi - lo <= 0 || !(hi - lo).isFinite {
            let w = max(1, abs(lo) * 0.1)
            return integer ? (lo - 1)...(hi + 1) : (lo - w)...(hi + w)
        }
        let padding = integer ? 0.5 : (hi - lo) * 0.05
        return (lo - padding)...(hi + padding)
    }

    /// "Nice" ticks (steps of 1, 2, 2.5 or 5 times a power of ten, at least 1 with `integer`) inside the range.
    static func ticks(_ r: ClosedRange<Double>, target: Int, integer: Bool) -> [Double] {
        let span = r.upperBound - r.lowerBound
        guard span > 0, span.isFinite else { return [] }
        let raw = span / Double(max(1, target))
        let magnitude = pow(10, floor(log10(raw)))
        var step = magnitude * 10
        for m in [1.0, 2.0, 2.5, 5.0] where magnitude * m >= raw { step = magnitude * m; break }
        if integer { step = max(1, step.rounded(.up)) }
        // Snapped to a few decimals below the step, so 3 x 0.2 is 0.6, not 0.6000000000000001.
        let q = pow(10, max(0, -floor(log10(step))) + 3)
        var out: [Double] = []
        var k = (r.lowerBound / step).rounded(.up)
        while out.count < 1000 {
            let v = (k * step * q).rounded() / q
            if v > r.upperBound + step * 1e-9 { break }
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            k += 1
        }
        return out
    }

    /// A tick label with as many decimals as the step needs (no Foundation).
    static func label(_ v: Double, step: Double) -> String {
        var digits = 0
        var s = step
        while digits < 6 && abs(s - s.rounded()) > 1e-9 * max(1, abs(s)) { s *= 10; digits += 1 }
        return formatFixed(v, digits)
    }

    // MARK: Legend

    enum LegendKey { case series(Colour), line(Colour), band(Colour), marker(PlotPoint.Marker) }

    var legendEntries: [(LegendKey, String)] {
        var e: [(LegendKey, String)] = series.map { (.series($0.colour), $0.label) }
        e += horizontalLines.map { (.line($0.colour), $0.label) }
        if band != nil { e.append((.band(bandColour), bandLabel)) }
        let used = Set(series.flatMap { $0.points.filter { $0.x.isFinite && $0.y.isFinite }.map(\.marker) })
        for m in [PlotPoint.Marker.pass, .fail, .uncertain] where used.contains(m) {
            e.append((.marker(m), markerLabels[m] ?? ""))
        }
        return e.filter { !$0.1.isEmpty }
    }

    /// Entry positions (x offset, row) of the legend, wrapped to the width.
    func legendLayout(width: Int, scale s: Int, pad: Int) -> (rows: Int, slots: [(x: Int, row: Int)]) {
        let keyW = 14 * s, gap = 3 * s, space = 8 * s
        var x = pad, row = 0
        var slots: [(x: Int, row: Int)] = []
        for (_, text) in legendEntries {
            let w = keyW + gap + BitmapFont.width(of: text, scale: s)
            if x > pad && x + w > width - pad { x = pad; row += 1 }
            slots.append((x, row))
            x += w + space
        }
        return (slots.isEmpty ? 0 : row + 1, slots)
    }

    // MARK: Rendering

    public func render(width: Int = 800, height: Int = 500) -> RGBImage {
        precondition(width > 0 && height > 0, "LinePlot.render: size \(width)x\(height)")
        let L = layout(width: width, height: height)
        let s = L.textScale, p = L.plot
        let glyphH = 7 * s, tick = 3 * s, pad = 6 * s
        var img = RGBImage(width: width, height: height)
        img.fill(Rect(left: 0, top: 0, right: width - 1, bottom: height - 1), background)
        let grid = mix(background, foreground, 0.12)

        // Behind the data: band, grid, horizontal lines.
        if let b = band, b.low.isFinite, b.high.isFinite {
            let r0 = L.row(max(b.low, b.high)), r1 = L.row(min(b.low, b.high))
            if r1 >= Double(p.top) && r0 <= Double(p.bottom) {
                img.fill(Rect(left: p.left, top: max(p.top, Layout.whole(r0)), right: p.right,
                              bottom: min(p.bottom, Layout.whole(r1))), bandColour)
            }
        }
        for t in L.yTicks {
            let y = Layout.whole(L.row(t))
            if y > p.top && y < p.bottom { img.fill(Rect(left: p.left + 1, top: y, right: p.right - 1, bottom: y), grid) }
        }
        for t in L.xTicks {
            let x = Layout.whole(L.column(t))
            if x > p.left && x < p.right { img.fill(Rect(left: x, top: p.top + 1, right: x, bottom: p.bottom - 1), grid) }
        }
        for h in horizontalLines where h.y.isFinite {
            let y = Layout.whole(L.row(h.y))
            guard y >= p.top && y <= p.bottom else { continue }
            img.fill(Rect(left: p.left, top: y, right: p.right, bottom: min(p.bottom, y + s - 1)), h.colour)
            if !h.label.isEmpty {
                let w = BitmapFont.width(of: h.label, scale: s)
                let ty = y - glyphH - 2 * s >= p.top ? y - glyphH - 2 * s : y + s + 2 * s
                img.draw(text: h.label, x: max(p.left + 2, p.right - w - 2 * s), y: ty, scale: s, colour: h.colour)
            }
        }

        // Frame and ticks.
        img.stroke(p, foreground, thickness: 1)
        for t in L.yTicks {
            let y = Layout.whole(L.row(t))
            guard y >= p.top && y <= p.bottom else { continue }
            img.fill(Rect(left: p.left - tick, top: y, right: p.left - 1, bottom: y), foreground)
            let text = Self.label(t, step: L.yTicks.count > 1 ? L.yTicks[1] - L.yTicks[0] : 1)
            img.draw(text: text, x: p.left - tick - s - BitmapFont.width(of: text, scale: s) + s, y: y - glyphH / 2, scale: s, colour: foreground)
        }
        for t in L.xTicks {
            let x = Layout.whole(L.column(t))
            guard x >= p.left && x <= p.right else { continue }
            img.fill(Rect(left: x, top: p.bottom + 1, right: x, bottom: p.bottom + tick), foreground)
            let text = Self.label(t, step: L.xTicks.count > 1 ? L.xTicks[1] - L.xTicks[0] : 1)
            let w = BitmapFont.width(of: text, scale: s) - s
            img.draw(text: text, x: x - w / 2, y: p.bottom + tick + 2 * s, scale: s, colour: foreground)
        }

        // Data: lines (broken at skipped points), then markers on top.
        for sr in series {
            var previous: (Double, Double)?
            for pt in sr.points {
                guard pt.x.isFinite && pt.y.isFinite else { previous = nil; continue }
                let c = (L.column(pt.x), L.row(pt.y))
                guard c.0.isFinite && c.1.isFinite else { previous = nil; continue }
                if let a = previous { line(&img, from: a, to: c, clip: p, colour: sr.colour, thickness: s) }
                previous = c
            }
        }
        for sr in series {
            for pt in sr.points where pt.x.isFinite && pt.y.isFinite {
                let c = L.pixel(x: pt.x, y: pt.y)
                guard c.x >= p.left && c.x <= p.right && c.y >= p.top && c.y <= p.bottom else { continue }
                marker(&img, pt.marker, at: c, size: 3 * s, seriesColour: sr.colour, clip: p)
            }
        }

        // Text: title, axis labels, legend.
        if !title.isEmpty {
            let w = BitmapFont.width(of: title, scale: s)
            img.draw(text: title, x: max(pad, (width - w) / 2), y: pad, scale: s, colour: foreground)
        }
        if !xLabel.isEmpty {
            let w = BitmapFont.width(of: xLabel, scale: s)
            img.draw(text: xLabel, x: max(pad, (p.left + p.right - w) / 2), y: height - pad - glyphH, scale: s, colour: foreground)
        }
        if !yLabel.isEmpty {
            let w = BitmapFont.width(of: yLabel, scale: s)
            drawUpwards(&img, yLabel, x: pad, bottom: min(height - 1, (p.top + p.bottom + w) / 2), scale: s, colour: foreground)
        }
        let legend = legendLayout(width: width, scale: s, pad: pad)
        for ((key, text), slot) in zip(legendEntries, legend.slots) {
            let y = L.legendTop + slot.row * BitmapFont.lineHeight * s
            let keyW = 14 * s, mid = y + glyphH / 2
            switch key {
            case .series(let c):
                img.fill(Rect(left: slot.x, top: mid - s / 2, right: slot.x + keyW - 1, bottom: mid - s / 2 + s - 1), c)
                marker(&img, .plain, at: (slot.x + keyW / 2, mid), size: 2 * s, seriesColour: c, clip: nil)
            case .line(let c):
                img.fill(Rect(left: slot.x, top: mid, right: slot.x + keyW - 1, bottom: mid + s - 1), c)
            case .band(let c):
                img.fill(Rect(left: slot.x, top: y, right: slot.x + keyW - 1, bottom: y + glyphH - 1), c)
            case .marker(let m):
                marker(&img, m, at: (slot.x + keyW / 2, mid), size: 3 * s, seriesColour: foreground, clip: nil)
            }
            img.draw(text: text, x: slot.x + keyW + 3 * s, y: y, scale: s, colour: foreground)
        }
        return img
    }

    // MARK: Primitives

    func mix(_ a: Colour, _ b: Colour, _ t: Double) -> Colour {
        func m(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) * (1 - t) + Double(y) * t).rounded()) }
        return Colour(m(a.r, b.r), m(a.g, b.g), m(a.b, b.b))
    }

    /// A line of `thickness` px between two points in pixel coordinates, clipped to `clip`
    /// (Liang–Barsky in continuous coordinates first, so far-away points cost nothing).
    func line(_ img: inout RGBImage, from a: (Double, Double), to b: (Double, Double), clip: Rect, colour: Colour, thickness: Int) {
        var t0 = 0.0, t1 = 1.0
        let dx = b.0 - a.0, dy = b.1 - a.1
        guard dx.isFinite && dy.isFinite else { return }
        let checks: [(Double, Double)] = [(-dx, a.0 - Double(clip.left)), (dx, Double(clip.right) - a.0),
                                          (-dy, a.1 - Double(clip.top)), (dy, Double(clip.bottom) - a.1)]
        for (pp, q) in checks {
            if pp == 0 { if q < 0 { return } ; continue }
            let r = q / pp
            if pp < 0 { if r > t1 { return }; t0 = max(t0, r) } else { if r < t0 { return }; t1 = min(t1, r) }
        }
        var x0 = Int((a.0 + t0 * dx).rounded()), y0 = Int((a.1 + t0 * dy).rounded())
        let x1 = Int((a.0 + t1 * dx).rounded()), y1 = Int((a.1 + t1 * dy).rounded())
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        let ex = abs(x1 - x0), ey = -abs(y1 - y0)
        var err = ex + ey
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            img.fill(Rect(left: max(clip.left, x0 + lo), top: max(clip.top, y0 + lo),
                          right: min(clip.right, x0 + hi), bottom: min(clip.bottom, y0 + hi)), colour)
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * err
            if e2 >= ey { err += ey; x0 += sx }
            if e2 <= ex { err += ex; y0 += sy }
        }
    }

    /// A marker of radius `size` centred on a pixel, all in the series colour: pass a filled circle,
    /// fail a cross, uncertain a hollow diamond (its inside the background), plain a square.
    func marker(_ img: inout RGBImage, _ m: PlotPoint.Marker, at c: (x: Int, y: Int), size r: Int, seriesColour: Colour, clip: Rect?) {
        let bounds = clip ?? Rect(left: 0, top: 0, right: img.width - 1, bottom: img.height - 1)
        func dot(_ x: Int, _ y: Int, _ col: Colour) {
            if x >= bounds.left && x <= bounds.right && y >= bounds.top && y <= bounds.bottom {
                img.fill(Rect(left: x, top: y, right: x, bottom: y), col)
            }
        }
        let o = r + 1   // outer radius
        let stroke = max(1, r / 2)
        switch m {
        case .pass:
            for dy in -o...o { for dx in -o...o where dx * dx + dy * dy <= o * o { dot(c.x + dx, c.y + dy, seriesColour) } }
        case .uncertain:
            for dy in -o...o { for dx in -o...o {
                let d = abs(dx) + abs(dy)
                if d <= o - stroke { dot(c.x + dx, c.y + dy, background) } else if d <= o { dot(c.x + dx, c.y + dy, seriesColour) }
            }}
        case .fail:
            for k in -o...o { for t in 0..<stroke + 1 {
                dot(c.x + k, c.y + k + t - stroke / 2, seriesColour); dot(c.x + k, c.y - k + t - stroke / 2, seriesColour)
            }}
        case .plain:
            for dy in -r...r { for dx in -r...r { dot(c.x + dx, c.y + dy, seriesColour) } }
        }
    }

    /// Text rotated 90° anticlockwise (reading upwards), its baseline column at `x`, ending at `bottom`.
    func drawUpwards(_ img: inout RGBImage, _ text: String, x: Int, bottom: Int, scale s: Int, colour: Colour) {
        var u = 0   // distance along the text, in font pixels
        for ch in text.uppercased() {
            let rows = BitmapFont.glyph(ch)
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<5 where bits & (1 << (4 - rx)) != 0 {
                    let px = x + ry * s, py = bottom - (u + rx + 1) * s + 1
                    img.fill(Rect(left: px, top: py, right: px + s - 1, bottom: py + s - 1), colour)
                }
            }
            u += BitmapFont.advance
        }
    }
}
