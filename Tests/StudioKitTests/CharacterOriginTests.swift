import XCTest
import StudioKit

final class CharacterOriginTests: XCTestCase {
    func testEveryOriginRoundTripsThroughTheStoredKeys() {
        for o: CharacterOrigin in [.photos, .synthetic, .generated(generator: "dcgan-celeba-64", seed: 42), .other("scanned")] {
            XCTAssertEqual(CharacterOrigin(metadata: o.metadata), o)
        }
        XCTAssertEqual(CharacterOrigin.generated(generator: "g", seed: 7).seed, 7)
        XCTAssertNil(CharacterOrigin.photos.seed)
    }

    func testRecordsWithoutOrHalfOfTheKeysReadSafely() {
        XCTAssertEqual(CharacterOrigin(metadata: [:]), .photos, "records from before the origin key are photo characters")
        XCTAssertEqual(CharacterOrigin(metadata: ["origin": "generated", "seed": "x"]), .other("generated"),
                       "a generated origin without a readable generator and seed is never an anchor")
    }

    func testSettingTheOriginKeepsOtherMetadata() {
        var c = CharacterRecord(id: "i", tenant: "t", name: "n", createdAt: 0, identity: FaceDescriptor([Float](repeating: 0, count: 128)),
                                references: [], attributes: FaceAttributes(), metadata: ["origin": "photos", "note": "kept"])
        c.origin = .generated(generator: "g", seed: 3)
        XCTAssertEqual(c.metadata, ["origin": "generated", "generator": "g", "seed": "3", "note": "kept"])
        c.origin = .photos
        XCTAssertEqual(c.metadata, ["origin": "photos", "note": "kept"])
    }
}
