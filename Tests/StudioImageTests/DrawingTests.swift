import XCTest
import StudioKit
import StudioImage

final class DrawingTests: XCTestCase {
    func testTextRendersGlyphPixels() {
        var img = RGBImage(width: 40, height: 12)
        img.draw(text: "1", x: 0, y: 0, scale: 1, colour: .white)
        // '1' is 00100/01100/00100/...: column 2 lit on every row, column 0 never.
        for y in 0..<7 { XCTAssertEqual(img[2, y, 0], 255, "row \(y)") ; XCTAssertEqual(img[0, y, 0], 0) }
        XCTAssertEqual(img[1, 1, 0], 255)
        XCTAssertEqual(BitmapFont.width(of: "abc", scale: 2), 36)
        var q = RGBImage(width: 10, height: 10)
        q.draw(text: "~", x: 0, y: 0, scale: 1)   // not in the font -> '?'
        XCTAssertEqual(q[1, 0, 0], 255)
    }

    func testContactSheetLayout() {
        let a = RGBImage(width: 300, height: 150), b = RGBImage(width: 50, height: 80)
        let sheet = ContactSheet.render(rows: [
            (title: "REFERENCES", tiles: [.init(image: a, captions: ["REF 1"], colour: .pass)]),
            (title: "CANDIDATES", tiles: [.init(image: b, box: Rect(left: 5, top: 5, right: 40, bottom: 60), captions: ["D 0.41", "PASS"], colour: .pass),
                                          .init(image: a, captions: ["D 0.83", "FAIL"], colour: .fail)]),
        ], tile: 100, scale: 1)
        XCTAssertEqual(sheet.width, 12 + 2 * 112)
        // The failing tile's border is drawn in the fail colour.
        var found = false
        for i in stride(from: 0, to: sheet.pixels.count, by: 3) where sheet.pixels[i] == Colour.fail.r && sheet.pixels[i + 1] == Colour.fail.g {
            found = true; break
        }
        XCTAssertTrue(found)
        XCTAssertNoThrow(try ImageIO.encodePNG(sheet))
    }

    /// A face small in its photo is shown enlarged in the tile's corner; one that fills the frame is not.
    func testSmallFacesGetAnEnlargedInset() {
        var photo = RGBImage(width: 400, height: 300)
        let face = Rect(left: 200, top: 100, right: 239, bottom: 139)   // 40 px in a 400 px photo
        photo.fill(face, Colour(250, 10, 200))
        let inset = ContactSheet.faceInset(photo, box: face, tile: 200)
        XCTAssertEqual(inset.map { max($0.width, $0.height) }, 90, "fitted into 0.45 of the tile, enlarged")
        XCTAssertNil(ContactSheet.faceInset(photo, box: Rect(left: 0, top: 0, right: 299, bottom: 299), tile: 200), "a face filling the frame")
        XCTAssertNil(ContactSheet.faceInset(photo, box: Rect(left: 5, top: 5, right: 4, bottom: 4), tile: 200), "an empty box")
        let sheet = ContactSheet.render(rows: [(title: "X", tiles: [.init(image: photo, box: face, captions: ["PASS"], colour: .pass)])], tile: 200, scale: 1)
        // The inset sits in the tile's lower right corner: the face's colour fills its centre there.
        let tileLeft = 12, tileTop = 12 + BitmapFont.lineHeight + 6
        let cx = tileLeft + 200 - 2 - 45, cy = tileTop + 200 - 2 - 45
        XCTAssertEqual([sheet[cx, cy, 0], sheet[cx, cy, 1], sheet[cx, cy, 2]], [250, 10, 200])
    }
}
