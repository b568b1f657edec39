import StudioKit

/// An 8-bit RGB colour.
public struct Colour: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let black = Colour(0, 0, 0), white = Colour(255, 255, 255)
    public static let pass = Colour(46, 160, 67), fail = Colour(207, 34, 46), uncertain = Colour(210, 153, 34)
    public static let grey = Colour(110, 110, 110), panel = Colour(28, 28, 32)
}

/// Drawing on RGB images: filled and outlined rectangles, pasting, and text in a 5x7 bitmap font.
extension RGBImage {
    public mutating func fill(_ rect: Rect, _ c: Colour) {
        let r = rect.intersection(Rect(left: 0, top: 0, right: width - 1, bottom: height - 1))
        guard !r.isEmpty else { return }
        for y in r.top...r.bottom {
            for x in r.left...r.right {
                let o = (y * width + x) * 3
                pixels[o] = c.r; pixels[o + 1] = c.g; pixels[o + 2] = c.b
            }
        }
    }

    public mutating func stroke(_ rect: Rect, _ c: Colour, thickness: Int = 2) {
        for t in 0..<max(1, thickness) {
            fill(Rect(left: rect.left + t, top: rect.top + t, right: rect.right - t, bottom: rect.top + t), c)
            fill(Rect(left: rect.left + t, top: rect.bottom - t, right: rect.right - t, bottom: rect.bottom - t), c)
            fill(Rect(left: rect.left + t, top: rect.top + t, right: rect.left + t, bottom: rect.bottom - t), c)
            fill(Rect(left: rect.right - t, top: rect.top + t, right: rect.right - t, bottom: rect.bottom - t), c)
        }
    }

    /// Copies `image` with its top-left corner at (x, y), clipped to this image.
    public mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        for sy in 0..<image.height {
            let dy = y + sy
            if dy < 0 || dy >= height { continue }
            for sx in 0..<image.width {
                let dx = x + sx
                if dx < 0 || dx >= width { continue }
                let s = (sy * image.width + sx) * 3, d = (dy * width + dx) * 3
                pixels[d] = image.pixels[s]; pixels[d + 1] = image.pixels[s + 1]; pixels[d + 2] = image.pixels[s + 2]
            }
        }
    }

    /// Scaled to fit in `maxWidth` x `maxHeight`, keeping the aspect ratio: down only, unless
    /// `allowUpscale` (a small face crop enlarged).
    public func fitted(maxWidth: Int, maxHeight: Int, allowUpscale: Bool = false) -> RGBImage {
        let fit = min(Double(maxWidth) / Double(max(1, width)), Double(maxHeight) / Double(max(1, height)))
        let s = allowUpscale ? fit : min(1, fit)
        if s == 1 { return self }
        return resizedBilinear(width: max(1, Int(Double(width) * s)), height: max(1, Int(Double(height) * s)))
    }

    /// Draws `text` with its top-left corner at (x, y); each font pixel becomes `scale` x `scale`.
    /// Lower-case letters are drawn as capitals; characters outside the font as '?'.
    public mutating func draw(text: String, x: Int, y: Int, scale: Int = 2, colour: Colour = .white) {
        var cx = x
        for ch in text.uppercased() {
            let rows = BitmapFont.glyph(ch)
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<5 where bits & (1 << (4 - rx)) != 0 {
                    fill(Rect(left: cx + rx * scale, top: y + ry * scale,
                              right: cx + rx * scale + scale - 1, bottom: y + ry * scale + scale - 1), colour)
                }
            }
            cx += BitmapFont.advance * scale
        }
    }
}

/// A 5x7 pixel font for captions (digits, capitals and common punctuation).
public enum BitmapFont {
    /// Horizontal distance between character origins, in font pixels.
    public static let advance = 6
    /// Line height, in font pixels.
    public static let lineHeight = 9

    public static func width(of text: String, scale: Int) -> Int { text.count * advance * scale }

    static func glyph(_ c: Character) -> [UInt8] { glyphs[c] ?? glyphs["?"]! }

    private static func g(_ rows: String...) -> [UInt8] { rows.map { UInt8($0, radix: 2)! } }

    static let glyphs: [Character: [UInt8]] = [
        " ": g("00000", "00000", "00000", "00000", "00000", "00000", "00000"),
        "0": g("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
        "1": g("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
        "2": g("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
        "3": g("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
        "4": g("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
        "5": g("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
        "6": g("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
        "7": g("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
        "8": g("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
        "9": g("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
        "A": g("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
        "B": g("11110", "10001", "10001", "11110", "10001", "10001", "11110"),
        "C": g("01110", "10001", "10000", "10000", "10000", "10001", "01110"),
        "D": g("11100", "10010", "10001", "10001", "10001", "10010", "11100"),
        "E": g("11111", "10000", "10000", "11110", "10000", "10000", "11111"),
        "F": g("11111", "10000", "10000", "11110", "10000", "10000", "10000"),
        "G": g("01110", "10001", "10000", "10111", "10001", "10001", "01111"),
        "H": g("10001", "10001", "10001", "11111", "10001", "10001", "10001"),
        "I": g("01110", "00100", "00100", "00100", "00100", "00100", "01110"),
        "J": g("00111", "00010", "00010", "00010", "00010", "10010", "01100"),
        "K": g("10001", "10010", "10100", "11000", "10100", "10010", "10001"),
        "L": g("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
        "M": g("10001", "11011", "10101", "10101", "10001", "10001", "10001"),
        "N": g("10001", "10001", "11001", "10101", "10011", "10001", "10001"),
        "O": g("01110", "10001", "10001", "10001", "10001", "10001", "01110"),
        "P": g("11110", "10001", "10001", "11110", "10000", "10000", "10000"),
        "Q": g("01110", "10001", "10001", "10001", "10101", "10010", "01101"),
        "R": g("11110", "10001", "10001", "11110", "10100", "10010", "10001"),
        "S": g("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
        "T": g("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
        "U": g("10001", "10001", "10001", "10001", "10001", "10001", "01110"),
        "V": g("10001", "10001", "10001", "10001", "10001", "01010", "00100"),
        "W": g("10001", "10001", "10001", "10101", "10101", "10101", "01010"),
        "X": g("10001", "10001", "01010", "00100", "01010", "10001", "10001"),
        "Y": g("10001", "10001", "10001", "01010", "00100", "00100", "00100"),
        "Z": g("11111", "00001", "00010", "00100", "01000", "10000", "11111"),
        ".": g("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
        ",": g("00000", "00000", "00000", "00000", "01100", "00100", "01000"),
        ":": g("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
        "-": g("00000", "00000", "00000", "11111", "00000", "00000", "00000"),
        "_": g("00000", "00000", "00000", "00000", "00000", "00000", "11111"),
        "/": g("00000", "00001", "00010", "00100", "01000", "10000", "00000"),
        "%": g("11000", "11001", "00010", "00100", "01000", "10011", "00011"),
        "(": g("00010", "00100", "01000", "01000", "01000", "00100", "00010"),
        ")": g("01000", "00100", "00010", "00010", "00010", "00100", "01000"),
        "<": g("00010", "00100", "01000", "10000", "01000", "00100", "00010"),
        ">": g("01000", "00100", "00010", "00001", "00010", "00100", "01000"),
        "=": g("00000", "00000", "11111", "00000", "11111", "00000", "00000"),
        "+": g("00000", "00100", "00100", "11111", "00100", "00100", "00000"),
        "#": g("01010", "01010", "11111", "01010", "11111", "01010", "01010"),
        "?": g("01110", "10001", "00001", "00010", "00100", "00000", "00100"),
        "!": g("00100", "00100", "00100", "00100", "00100", "00000", "00100"),
        "*": g("00000", "00100", "10101", "01110", "10101", "00100", "00000"),
    ]
}

/// A grid of captioned images (references and candidates side by side), written as one PNG.
public enum ContactSheet {
    public struct Tile: Sendable {
        public var image: RGBImage
        /// A box to outline on the image (in the image's own coordinates), e.g. the face used.
        public var box: Rect?
        public var captions: [String]
        public var colour: Colour
        public init(image: RGBImage, box: Rect? = nil, captions: [String], colour: Colour) {
            self.image = image; self.box = box; self.captions = captions; self.colour = colour
        }
    }

    /// The face in `box` with a margin of half its size, fitted into `tile` x 0.45 when the box is
    /// small in the frame (its longer side under 40 % of the image's): a whole photo shows the face too
    /// small to compare by eye. Nil when the face already fills the frame or the box is empty.
    public static func faceInset(_ image: RGBImage, box: Rect, tile: Int) -> RGBImage? {
        let side = max(box.right - box.left + 1, box.bottom - box.top + 1)
        guard side > 0, Double(side) < 0.4 * Double(max(image.width, image.height)) else { return nil }
        let m = side / 2
        let r = Rect(left: max(0, box.left - m), top: max(0, box.top - m),
                     right: min(image.width - 1, box.right + m), bottom: min(image.height - 1, box.bottom + m))
        guard r.right > r.left, r.bottom > r.top else { return nil }
        let size = Int(Double(tile) * 0.45)
        return image.cropped(r).fitted(maxWidth: size, maxHeight: size, allowUpscale: true)
    }

    /// Lays out rows of tiles (each row is one list), every image fitted into `tile` x `tile`; a tile
    /// whose box is small in its image also shows the face enlarged in its corner (`faceInset`).
    public static func render(rows: [(title: String, tiles: [Tile])], tile: Int = 220, scale: Int = 2) -> RGBImage {
        let pad = 12
        let lineH = BitmapFont.lineHeight * scale
        let captionLines = rows.flatMap { $0.tiles.map(\.captions.count) }.max() ?? 0
        let cellW = tile + pad, cellH = tile + pad + captionLines * lineH + 6
        let cols = max(1, rows.map(\.tiles.count).max() ?? 1)
        let width = pad + cols * cellW
        let height = pad + rows.count * (lineH + 6 + cellH)
        var sheet = RGBImage(width: width, height: height)
        sheet.fill(Rect(left: 0, top: 0, right: width - 1, bottom: height - 1), .panel)
        var y = pad
        for row in rows {
            sheet.draw(text: row.title, x: pad, y: y, scale: scale, colour: .white)
            y += lineH + 6
            for (i, t) in row.tiles.enumerated() {
                let x = pad + i * cellW
                let fitted = t.image.fitted(maxWidth: tile, maxHeight: tile)
                let ox = x + (tile - fitted.width) / 2, oy = y + (tile - fitted.height) / 2
                sheet.paste(fitted, x: ox, y: oy)
                if let b = t.box, t.image.width > 0 {
                    let s = Double(fitted.width) / Double(t.image.width)
                    sheet.stroke(Rect(left: ox + Int(Double(b.left) * s), top: oy + Int(Double(b.top) * s),
                                      right: ox + Int(Double(b.right) * s), bottom: oy + Int(Double(b.bottom) * s)), t.colour, thickness: 2)
                    if let crop = faceInset(t.image, box: b, tile: tile) {
                        // The face enlarged in the tile's lower right corner, framed in the tile's colour.
                        let ix = x + tile - crop.width - 2, iy = y + tile - crop.height - 2
                        sheet.paste(crop, x: ix, y: iy)
                        sheet.stroke(Rect(left: ix - 2, top: iy - 2, right: ix + crop.width + 1, bottom: iy + crop.height + 1), t.colour, thickness: 2)
                    }
                }
                sheet.stroke(Rect(left: x - 3, top: y - 3, right: x + tile + 2, bottom: y + tile + 2), t.colour, thickness: 3)
                for (k, line) in t.captions.enumerated() {
                    let maxChars = max(1, tile / (BitmapFont.advance * scale))
                    sheet.draw(text: String(line.prefix(maxChars)), x: x, y: y + tile + 6 + k * lineH, scale: scale,
                               colour: k == 0 ? t.colour : .white)
                }
            }
            y += cellH
        }
        return sheet
    }
}
