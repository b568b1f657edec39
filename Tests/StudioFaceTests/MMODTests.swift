import Foundation
import XCTest
import StudioImage
import StudioKit
import StudioTensor
@testable import StudioFace

// Reference numbers below come from dlib 19.24 (Debian libdlib-dev) through a small C++ program,
// compiled with `g++ -O2 -std=c++17 ref.cpp -ldlib -lopenblas` (x86-64 baseline, so no FMA
// contraction in dlib's header code). Each test names the dlib calls that produced its numbers.
// The synthetic image used throughout is
//   pixel(x, y) = rgb_pixel((x*37 + y*11) % 256, (x*x + 3*y) % 256, (x*y*5 + 7) % 256)
// and image hashes are FNV-1a 64 over the interleaved R, G, B bytes, row by row.
final class MMODTests: XCTestCase {

    // MARK: Helpers

    private static func synth(_ w: Int, _ h: Int) -> RGBImage {
        var img = RGBImage(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                img[x, y, 0] = UInt8((x * 37 + y * 11) % 256)
                img[x, y, 1] = UInt8((x * x + 3 * y) % 256)
                img[x, y, 2] = UInt8((x * y * 5 + 7) % 256)
            }
        }
        return img
    }

    private static func fnv(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 1469598103934665603
        for b in bytes { h ^= UInt64(b); h = h &* 1099511628211 }
        return h
    }

    private static func px(_ img: RGBImage, _ x: Int, _ y: Int) -> [Int] {
        [Int(img[x, y, 0]), Int(img[x, y, 1]), Int(img[x, y, 2])]
    }

    private static func rect(_ a: [Int]) -> Rect { Rect(left: a[0], top: a[1], right: a[2], bottom: a[3]) }

    /// The detector, loaded once (fails with a set-up hint when the model is missing, as TestData does).
    private static func detector() throws -> MMODDetector {
        if let d = loaded { return d }
        let d = try MMODDetector(contentsOf: try TestData.model(ModelCatalog.detector))
        loaded = d
        return d
    }
    nonisolated(unsafe) private static var loaded: MMODDetector?

    // MARK: pyramid_down<6>

    /// `pyramid_down<6> pyr; pyr(synth(23,17), down)` (dlib's RGB `resize_image` path), and the same
    /// for 640x480 and 7x6.
    func testPyramidDown6MatchesDlib() {
        let pyr = PyramidDown(6)
        let d = pyr(Self.synth(23, 17))
        XCTAssertEqual(d.width, 19); XCTAssertEqual(d.height, 14)
        let row0: [[Int]] = [[0,0,7],[45,1,7],[90,6,7],[135,13,7],[180,24,7],[197,37,7],[15,53,7],[60,73,7],[105,95,7],
                             [151,121,7],[196,149,7],[127,181,7],[30,215,7],[75,24,7],[121,36,7],[166,80,7],[211,126,7],
                             [57,175,7],[46,228,7]]
        let row7: [[Int]] = [[94,25,7],[139,27,59],[185,32,112],[230,39,164],[48,49,217],[64,63,101],[110,79,66],
                             [155,99,119],[200,121,172],[245,146,224],[34,175,98],[80,206,74],[125,241,126],[170,50,179],
                             [215,62,74],[175,106,127],[50,152,125],[95,201,134],[140,253,186]]
        XCTAssertEqual((0..<19).map { Self.px(d, $0, 0) }, row0)
        XCTAssertEqual((0..<19).map { Self.px(d, $0, 7) }, row7)
        XCTAssertEqual(Self.fnv(d.pixels), 0xe525c4e16214189c)

        let big = pyr(Self.synth(640, 480))
        XCTAssertEqual(big.width, 533); XCTAssertEqual(big.height, 400)
        XCTAssertEqual(Self.fnv(big.pixels), 0xe9fd7e6459dcc7fc)

        let small = pyr(Self.synth(7, 6))
        XCTAssertEqual(small.width, 5); XCTAssertEqual(small.height, 5)
        let all: [[Int]] = [[0,0,7],[55,2,7],[111,9,7],[166,20,7],[222,36,7],[13,3,7],[69,6,16],[124,12,25],[180,24,35],
                            [235,39,44],[27,7,7],[83,10,25],[138,16,44],[194,28,63],[249,43,82],[41,11,7],[96,13,35],
                            [152,20,63],[207,31,91],[71,47,119],[55,15,7],[110,17,44],[166,24,82],[221,35,119],[21,51,157]]
        XCTAssertEqual((0..<25).map { Self.px(small, $0 % 5, $0 / 5) }, all)
        XCTAssertEqual(Self.fnv(small.pixels), 0xe934b2e87940e837)
    }

    // MARK: pyramid_up

    /// `pyramid_up(synth(w,h), up, pyramid_down<2>())` for 9x5, 150x150 and 1x1.
    func testPyramidUpMatchesDlib() {
        let up = DlibResize.pyramidUp(Self.synth(9, 5))
        XCTAssertEqual(up.width, 20); XCTAssertEqual(up.height, 11)
        let row3: [[Int]] = [[13,3,7],[28,4,9],[44,4,12],[59,5,14],[75,6,17],[91,8,19],[106,10,22],[122,12,24],[137,15,27],
                             [153,18,29],[168,21,32],[184,25,34],[200,29,37],[215,33,39],[231,38,42],[166,43,44],[73,49,47],
                             [22,54,49],[37,61,52],[53,67,54]]
        XCTAssertEqual((0..<20).map { Self.px(up, $0, 3) }, row3)
        XCTAssertEqual(Self.fnv(up.pixels), 0xf02c302177985d19)

        let chip = DlibResize.pyramidUp(Self.synth(150, 150))
        XCTAssertEqual(chip.width, 302); XCTAssertEqual(chip.height, 301)
        XCTAssertEqual(Self.fnv(chip.pixels), 0x66d46e342acfba06)

        let dot = DlibResize.pyramidUp(Self.synth(1, 1))
        XCTAssertEqual(dot.width, 4); XCTAssertEqual(dot.height, 3)
        XCTAssertEqual(Self.fnv(dot.pixels), 0x6cb226d3c0171df7)

        XCTAssertEqual(DlibResize.pyramidUp(RGBImage(width: 0, height: 0)).pixels.count, 0)
    }

    // MARK: Point and rectangle mappings

    /// `pyramid_down<2>` / `pyramid_down<6>` `point_down`, `point_up` (with levels) and `rect_down`.
    func testPointMappingsMatchDlib() {
        let p = Point(x: 10.25, y: -3.5)
        let p2 = PyramidDown(2), p6 = PyramidDown(6)
        XCTAssertEqual(p2.pointDown(p), Point(x: 3.875, y: -2.5))
        XCTAssertEqual(p2.pointUp(p), Point(x: 23, y: -5.5))
        XCTAssertEqual(p2.pointDown(p, levels: 3), Point(x: -0.90625, y: -1.75))
        XCTAssertEqual(p6.pointDown(p), Point(x: 8.2916666666666661, y: -3.1666666666666665))
        XCTAssertEqual(p6.pointUp(p), Point(x: 12.6, y: -3.9000000000000004))
        XCTAssertEqual(p6.pointUp(p, levels: 4), Point(x: 22.864799999999999, y: -5.6472000000000016))

        let r = DRectangle(Rect(left: 14, top: 9, right: 132, bottom: 127))
        XCTAssertEqual(p2.rectDown(r, levels: 1).rounded, Rect(left: 6, top: 4, right: 65, bottom: 63))
        XCTAssertEqual(p2.rectDown(r, levels: 2).rounded, Rect(left: 2, top: 1, right: 31, bottom: 31))
        XCTAssertEqual(p2.rectDown(r, levels: 0).rounded, r.rounded)
    }

    /// Up then down (and down then up) returns to the start, up to rounding, for both pyramids.
    func testMappingRoundTrips() {
        for pyr in [PyramidDown(2), PyramidDown(6)] {
            for (x, y) in [(0.0, 0.0), (17.5, -3.25), (1234.0, 987.0), (-40.0, 2000.5)] {
                let p = Point(x: x, y: y)
                for levels in 0...4 {
                    let a = pyr.pointDown(pyr.pointUp(p, levels: levels), levels: levels)
                    let b = pyr.pointUp(pyr.pointDown(p, levels: levels), levels: levels)
                    XCTAssertEqual(a.x, x, accuracy: 1e-9); XCTAssertEqual(a.y, y, accuracy: 1e-9)
                    XCTAssertEqual(b.x, x, accuracy: 1e-9); XCTAssertEqual(b.y, y, accuracy: 1e-9)
                }
            }
        }
        // Image -> tiled tensor -> image, at each level's own scale.
        let layout = TiledPyramid(imageWidth: 640, imageHeight: 480)
        let box = DRectangle(left: 100, top: 80, right: 300, bottom: 280)
        for level in 0..<6 {
            let scale = pow(PyramidDown(6).rate, Double(level))
            XCTAssertEqual(layout.level(forScale: scale), level)
            let t = layout.imageSpaceToTensorSpace(scale: scale, box)
            let back = layout.tensorSpaceToImageSpace(t)
            XCTAssertEqual(back.left, box.left, accuracy: 1e-9); XCTAssertEqual(back.top, box.top, accuracy: 1e-9)
            XCTAssertEqual(back.right, box.right, accuracy: 1e-9); XCTAssertEqual(back.bottom, box.bottom, accuracy: 1e-9)
        }
    }

    // MARK: Tiled pyramid

    /// `impl::compute_tiled_image_pyramid_details(pyramid_down<6>(), rows, cols, 10, 11, rects, nr, nc)`.
    func testTiledPyramidLayoutMatchesDlib() {
        struct Case { var w: Int, h: Int, rows: Int, cols: Int, rects: [[Int]] }
        let cases: [Case] = [
            Case(w: 640, h: 480, rows: 1782, cols: 662, rects: [[11,11,650,490],[11,501,543,900],[11,911,454,1243],[11,1254,380,1530],
                [11,1541,318,1770],[395,1580,650,1770],[438,1411,650,1569],[474,1269,650,1400],[504,1149,650,1258],[529,1048,650,1138],
                [550,963,650,1037],[567,891,650,952],[581,830,650,880],[593,778,650,819],[603,733,650,767],[611,694,650,722],
                [618,660,650,683],[624,630,650,649],[629,604,650,619],[633,581,650,593],[636,561,650,570],[639,543,650,550],
                [641,527,650,532],[643,512,650,516]]),
            Case(w: 150, h: 150, rows: 598, cols: 172, rects: [[11,11,160,160],[11,171,135,295],[11,306,114,409],[11,420,96,505],
                [11,516,81,586],[102,528,160,586],[112,469,160,517],[121,419,160,458],[128,376,160,408],[134,339,160,365],
                [139,307,160,328],[143,279,160,296],[146,254,160,268],[149,232,160,243],[151,212,160,221],[153,194,160,201],
                [155,178,160,183],[156,163,160,167]]),
            Case(w: 23, h: 17, rows: 84, cols: 45, rects: [[11,11,33,27],[11,38,29,51],[11,62,25,72],[22,64,33,72],[24,47,33,53],
                [26,32,33,36]]),
            Case(w: 1000, h: 100, rows: 418, cols: 1022, rects: [[11,11,1010,110],[11,121,843,203],[11,214,704,282],[11,293,588,349],
                [11,360,491,406],[611,368,1010,406],[678,326,1010,357],[734,290,1010,315],[781,259,1010,279],[820,232,1010,248],
                [852,208,1010,221],[879,187,1010,197],[901,168,1010,176],[920,151,1010,157],[936,136,1010,140]]),
            Case(w: 100, h: 1000, rows: 3648, cols: 122, rects: [[11,11,110,1010],[11,1021,93,1853],[11,1864,79,2557],
                [11,2568,67,3145],[11,3156,57,3636],[72,3237,110,3636],[79,2894,110,3226],[85,2607,110,2883],[90,2367,110,2596],
                [94,2166,110,2356],[97,1997,110,2155],[100,1855,110,1986],[102,1735,110,1844],[104,1634,110,1724],
                [106,1549,110,1623],[107,1477,110,1538],[108,1416,110,1466],[109,1364,110,1405],[110,1319,110,1353]]),
            Case(w: 40, h: 9, rows: 48, cols: 62, rects: [[11,11,50,19],[11,30,43,36],[24,32,50,36]]),
            Case(w: 12, h: 30, rows: 143, cols: 34, rects: [[11,11,22,40],[11,51,20,75],[11,86,18,105],[11,116,16,131],
                [18,119,22,131],[19,99,22,108],[20,81,22,88],[21,65,22,70],[22,50,22,54]]),
            Case(w: 1, h: 1, rows: 12, cols: 23, rects: [[11,0,11,0]]),
            // Narrower than the padding: dlib's unsigned arithmetic wraps and tiles land outside the canvas.
            Case(w: 9, h: 40, rows: 12, cols: 31, rects: [[11,-39,19,0],[13,-82,19,-50],[15,-119,19,-93],[16,-151,19,-130],
                [17,-179,19,-162],[18,-204,19,-190],[19,-226,19,-215]]),
            Case(w: 5, h: 5, rows: 12, cols: 27, rects: [[11,-4,15,0]]),
        ]
        for c in cases {
            let t = TiledPyramid(imageWidth: c.w, imageHeight: c.h)
            XCTAssertEqual(t.rows, c.rows, "\(c.w)x\(c.h)")
            XCTAssertEqual(t.cols, c.cols, "\(c.w)x\(c.h)")
            XCTAssertEqual(t.rects, c.rects.map(Self.rect), "\(c.w)x\(c.h)")
            XCTAssertEqual(t.isValid, c.w >= 10 || c.w == 1, "\(c.w)x\(c.h)")
        }
        XCTAssertEqual(TiledPyramid(imageWidth: 0, imageHeight: 7).rects, [])
    }

    /// `net.to_tensor(&img, &img+1, x)` on synth(37,29) and synth(150,150) (input_rgb_image_pyramid with
    /// the default means): the sum of all values in double (linear order), values inside levels 1-4, and
    /// `tensor_space_to_image_space` / `image_space_to_tensor_space` with that tensor's layout.
    func testInputTensorMatchesDlib() {
        struct Case {
            var w: Int, h: Int, shape: [Int], sum: Double
            var samples: [(Int, Int, Int, String)]
            var t2i: [([Double], [Double], [Int])]
            var i2t: [(Double, [Double])]
        }
        let cases: [Case] = [
            Case(w: 37, h: 29, shape: [1, 3, 184, 59], sum: 105.2349884306459,
                 samples: [(0,62,26,"-0.160628274"),(1,62,26,"0.0694945157"),(2,62,26,"0.0813240334"),(2,73,40,"0.307429701"),
                           (0,94,23,"-0.244830981"),(1,94,23,"-0.0162882116"),(2,94,23,"0.042309016"),(2,103,35,"0.307429701"),
                           (0,122,21,"-0.0994637683"),(1,122,21,"0.124420337"),(2,122,21,"0.14820911"),(2,129,30,"0.307429701"),
                           (0,146,19,"-0.093500793"),(1,146,19,"0.141124606"),(2,146,19,"0.106099665"),(2,152,26,"0.307429701")],
                 t2i: [([100.5,40.5,179.5,119.5], [107.69999999999999,-11.1,202.5,83.699999999999989], [108,-11,203,84]),
                       ([20.5,300.5,99.5,379.5], [-49.275743999999996,407.57980799999996,186.61699199999998,643.47254399999963], [-49,408,187,643])],
                 i2t: [(1, [21,23,41,46]), (0.8, [19.083333333333336,59.75,35.75,78.916666666666671]),
                       (0.5, [15.045910493827162,145.01041666666666,24.690972222222221,156.10223765432099]),
                       (0.3, [41.709438943187017,151.26760223765433,47.291071887860085,157.68648012402835])]),
            Case(w: 150, h: 150, shape: [1, 3, 598, 172], sum: 10001.318402048739,
                 samples: [(0,233,73,"-0.0108606517"),(1,233,73,"0.0976479053"),(2,233,73,"0.273250341"),(2,295,135,"0.233210951"),
                           (0,358,63,"-0.176215947"),(1,358,63,"0.108083278"),(2,358,63,"0.233211815"),(2,409,114,"0.233210951"),
                           (0,463,54,"-0.182285711"),(1,463,54,"0.0685685948"),(2,463,54,"0.215632141"),(2,505,96,"0.233210951"),
                           (0,551,46,"0.041437"),(1,551,46,"0.0640548393"),(2,551,46,"0.211567402"),(2,586,81,"0.233210951")],
                 t2i: [([100.5,40.5,179.5,119.5], [89.5,29.5,168.5,108.5], [90,30,169,109]),
                       ([20.5,300.5,99.5,379.5], [14.340000000000002,-7.2599999999999998,128.09999999999999,106.5], [14,-7,128,107])],
                 i2t: [(1, [21,23,41,46]), (0.8, [19.083333333333336,180.75,35.75,199.91666666666669]),
                       (0.5, [15.045910493827162,521.01041666666663,24.690972222222221,532.10223765432102]),
                       (0.3, [122.70943894318701,421.26760223765433,128.29107188786008,427.68648012402838])]),
        ]
        for c in cases {
            let layout = TiledPyramid(imageWidth: c.w, imageHeight: c.h)
            let t = layout.inputTensor(Self.synth(c.w, c.h), means: (122.782, 117.001, 104.298))
            XCTAssertEqual(t.shape, c.shape)
            var sum = 0.0
            for v in t.data { sum += Double(v) }
            XCTAssertEqual(sum, c.sum, "\(c.w)x\(c.h): tensor sum (bit-identical tensors give the identical sum)")
            for (k, y, x, s) in c.samples { XCTAssertEqual(t[0, k, y, x], Float(s)!, "\(c.w)x\(c.h) [\(k),\(y),\(x)]") }
            for (tr, im, rounded) in c.t2i {
                let m = layout.tensorSpaceToImageSpace(DRectangle(left: tr[0], top: tr[1], right: tr[2], bottom: tr[3]))
                XCTAssertEqual([m.left, m.top, m.right, m.bottom], im)
                XCTAssertEqual(m.rounded, Self.rect(rounded))
            }
            for (scale, expect) in c.i2t {
                let m = layout.imageSpaceToTensorSpace(scale: scale, DRectangle(left: 10, top: 12, right: 30, bottom: 35))
                XCTAssertEqual([m.left, m.top, m.right, m.bottom], expect, "scale \(scale)")
            }
        }
    }

    // MARK: Overlap test and suppression

    /// `test_box_overlap(0.3382761351109955, 1.0)(a, b)` and `(b, a)` with a = [0,0,99,99].
    func testBoxOverlapMatchesDlib() {
        let iou = 0.3382761351109955
        let a = Rect(left: 0, top: 0, right: 99, bottom: 99)
        let cases: [([Int], Bool)] = [
            ([50,0,149,99], false), ([60,0,159,99], false), ([40,40,139,139], false),
            ([10,10,20,20], false),          // fully inside, but coverage must *exceed* 1.0: never suppressed this way
            ([0,0,99,99], true), ([100,0,199,99], false), ([99,99,150,150], false), ([30,-200,69,300], false),
            ([-10,20,109,79], true),
            ([20,-60,79,159], false),        // true IoU 0.349 > 0.338, but dlib divides by the bounding box (0.273)
            ([20,-30,79,129], true), ([5,5,94,94], true),
        ]
        for (b, expect) in cases {
            let rb = Self.rect(b)
            XCTAssertEqual(MMODDetector.boxesOverlap(a, rb, iouThreshold: iou, percentCoveredThreshold: 1), expect, "\(b)")
            XCTAssertEqual(MMODDetector.boxesOverlap(rb, a, iouThreshold: iou, percentCoveredThreshold: 1), expect, "\(b) swapped")
        }
        XCTAssertGreaterThan(a.iou(Self.rect([20,-60,79,159])), iou)   // StudioKit's true IoU would suppress it
    }

    /// Greedy suppression keeps candidates in order and tests each only against boxes already kept.
    func testNonMaxSuppressionIsGreedyInOrder() {
        func d(_ r: [Int], _ c: Double) -> MMODDetection { MMODDetection(rect: Self.rect(r), confidence: c) }
        let cands = [
            d([0,0,99,99], 2.0),
            d([10,5,109,104], 1.5),      // overlaps #0 -> dropped
            d([80,0,179,99], 1.2),       // overlaps #1 only (dropped), not #0 (iou 20/180) -> kept
            d([10,10,20,20], 1.1),       // nested in #0 but small -> kept
            d([300,300,379,379], 0.5),   // far away -> kept
            d([305,300,384,379], 0.4),   // overlaps #4 -> dropped
        ]
        let kept = MMODDetector.nonMaxSuppression(cands, iouThreshold: 0.3382761351109955, percentCoveredThreshold: 1)
        XCTAssertEqual(kept, [cands[0], cands[2], cands[3], cands[4]])
        XCTAssertEqual(MMODDetector.nonMaxSuppression([], iouThreshold: 0.3, percentCoveredThreshold: 1), [])
    }

    /// `std::sort(v.rbegin(), v.rend())` and `std::partial_sort(w.begin(), w.end(), w.end())` (GCC 12
    /// libstdc++) on items {score = next() % 7, idx = i}, next() = the PCG-style LCG below: the order of
    /// equal scores must come out as libstdc++ leaves it (dlib sorts detections this way).
    func testLibstdcxxSortTieOrder() {
        struct Item { var score: Double; var idx: Int }
        let expect: [(Int, UInt64, [Int], UInt64, [Int])] = [
            (10, 0x9f6a6e52e3c667d4, [0,3,8,1,6,7,2,5,4,9], 0xc704f0e97718682c, [9,4,2,5,7,6,1,0,3,8]),
            (17, 0x2a3bce54c4cdb777, [12,9,5,1,2,4,13,7,8,10,16,0], 0x97bc634abfced405, [14,3,11,6,15,16,0,7,8,10,13,1]),
            (40, 0x998b66a2142a36cf, [25,2,10,30,18,15,24,33,35,7,32,5], 0xf97e3dd3de2d77af, [27,28,19,39,22,21,34,8,9,26,29,6]),
            (300, 0xa7aa3f325f01e4c7, [222,216,214,203,185,35,174,171,168,153,149,225], 0xda36c2cfd6fe3163,
             [219,75,252,45,230,184,281,272,121,268,107,48]),
            (2000, 0x65bae605e5249b09, [633,1614,276,275,642,1168,270,1167,1787,1163,1933,263], 0xc573157aecc023eb,
             [585,1839,1565,1628,1365,1204,1953,1001,867,425,1726,1333]),
        ]
        var st: UInt64 = 12345
        func next() -> UInt32 { st = st &* 6364136223846793005 &+ 1442695040888963407; return UInt32(truncatingIfNeeded: st >> 33) }
        func hash(_ v: [Item]) -> UInt64 {
            var h: UInt64 = 1469598103934665603
            for it in v { h ^= UInt64(UInt32(it.idx)); h = h &* 1099511628211 }
            return h
        }
        for (n, sortHash, sortFirst, heapHash, heapFirst) in expect {
            var v = (0..<n).map { Item(score: Double(next() % 7), idx: $0) }
            var w = v
            v.reverse()
            LibstdcxxSort.sort(&v) { $0.score < $1.score }
            v.reverse()
            XCTAssertEqual(v.prefix(12).map(\.idx), sortFirst, "sort n=\(n)")
            XCTAssertEqual(hash(v), sortHash, "sort n=\(n)")
            LibstdcxxSort.heapSelectAndSort(&w, 0, n) { $0.score < $1.score }
            XCTAssertEqual(w.prefix(12).map(\.idx), heapFirst, "heap n=\(n)")
            XCTAssertEqual(hash(w), heapHash, "heap n=\(n)")
        }
    }

    // MARK: With the model

    /// `output_tensor_to_input_tensor(net, point(c, r))` for the face detector: (0,0) -> (14,14), (1,1) -> (22,22).
    func testOutputToInputMapping() throws {
        let det = try Self.detector()
        XCTAssertEqual(det.outputToInput(column: 0, row: 0), Point(x: 14, y: 14))
        XCTAssertEqual(det.outputToInput(column: 1, row: 1), Point(x: 22, y: 22))
        XCTAssertEqual(det.outputToInput(column: 3, row: 10), Point(x: 38, y: 94))
        XCTAssertEqual(det.options.detectorWindows.map { [$0.width, $0.height] }, [[80, 80]])
    }

    /// Degenerate inputs give no detections and do not crash (dlib's layout is undefined below 10 px wide).
    func testTinyImagesGiveNoDetections() throws {
        let det = try Self.detector()
        for (w, h) in [(0, 0), (1, 1), (5, 5), (9, 40), (40, 9), (12, 30), (30, 3)] {
            XCTAssertEqual(det.detect(Self.synth(w, h)), [], "\(w)x\(h)")
        }
        XCTAssertEqual(det.detect(RGBImage(width: 64, height: 64)), [])
    }

    /// dlib's python `cnn_face_detection_model_v1(img, N)` (tools/oracle `faces --upsample N`, built with
    /// -ffp-contract=off) on johns chips at upsample 0 and 1: boxes identical, confidences within 1e-6.
    func testDetectMatchesDlibOnJohns() throws {
        let det = try Self.detector()
        let expected: [(String, [Int], Double, [Int], Double)] = [
            // image, upsample 0 box, confidence, upsample 1 box, confidence
            ("John_Salley/000179_02159509.jpg", [6,7,119,121], 1.06682801, [14,9,132,127], 1.05012262),
            ("John_Savage/000264_01099001.jpg", [-7,-8,130,128], 1.0554167, [14,9,132,127], 1.0591495),
            ("John_Schneider/000288_00925786.jpg", [17,7,131,121], 1.05283868, [14,9,132,127], 1.04637563),
            ("John_Shimkus/000373_03228153.jpg", [17,7,131,121], 1.05559134, [14,9,132,127], 1.05922902),
            ("John_Simm/000288_00470387.jpg", [-7,-8,130,128], 1.10163915, [2,9,120,127], 1.08898032),
        ]
        for (file, box0, conf0, box1, conf1) in expected {
            let img = try ImageIO.load(path: try TestData.testImage("johns/" + file), applyOrientation: false)
            let d0 = det.detect(img, upsample: 0)
            XCTAssertEqual(d0.map(\.rect), [Self.rect(box0)], file)
            XCTAssertEqual(d0.first?.confidence ?? 0, conf0, accuracy: 1e-5, file)
            let d1 = det.detect(img, upsample: 1)
            XCTAssertEqual(d1.map(\.rect), [Self.rect(box1)], file)
            XCTAssertEqual(d1.first?.confidence ?? 0, conf1, accuracy: 1e-5, file)
        }
    }
    // Fixture-wide box parity runs in ParityTests (detector, landmarks, chips and descriptors together).
}
