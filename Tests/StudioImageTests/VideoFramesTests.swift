import XCTest
import StudioKit
@testable import StudioImage

/// Video through ffmpeg: frames survive an MP4 round trip; garbage and empty input are typed errors.
final class VideoFramesTests: XCTestCase {
    func testFramesSurviveAnMP4RoundTrip() throws {
        let frames = [40, 120, 200].map { level -> RGBImage in
            var f = RGBImage(width: 64, height: 48)
            for i in f.pixels.indices { f.pixels[i] = UInt8(level) }
            return f
        }
        let mp4 = try VideoFrames.encodeMP4(frames, fps: 1)
        XCTAssertEqual(Array(mp4[4..<8]), Array("ftyp".utf8))
        let back = try VideoFrames.sample(video: mp4, fps: 1)
        XCTAssertEqual(back.count, 3)
        XCTAssertEqual(back.map(\.seconds), [0, 1, 2])
        for (b, level) in zip(back, [40.0, 120, 200]) {
            XCTAssertEqual(b.image.width, 64)
            XCTAssertEqual(Double(b.image.pixels.reduce(0) { $0 + Int($1) }) / Double(b.image.pixels.count), level, accuracy: 4)
        }
        XCTAssertEqual(try VideoFrames.sample(video: mp4, fps: 2, maxFrames: 2).count, 2, "thinned evenly to maxFrames")
    }

    func testBadInputIsATypedError() {
        XCTAssertThrowsError(try VideoFrames.sample(video: [])) { XCTAssertTrue($0 is VideoFramesError, "\($0)") }
        XCTAssertThrowsError(try VideoFrames.sample(video: Array("not a video at all".utf8))) { e in
            XCTAssertTrue("\(e)".contains("ffmpeg"), "\(e)")
        }
        XCTAssertThrowsError(try VideoFrames.sample(video: [1, 2, 3], fps: 0))
        XCTAssertThrowsError(try VideoFrames.encodeMP4([]))
        XCTAssertThrowsError(try VideoFrames.encodeMP4([RGBImage(width: 8, height: 8), RGBImage(width: 16, height: 8)]))
    }
}
