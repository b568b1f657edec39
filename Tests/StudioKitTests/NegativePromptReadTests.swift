import XCTest
@testable import StudioKit

final class NegativePromptReadTests: XCTestCase {
    func testAReceivedNegativePromptIsReadBackIntoModes() {
        let c = CharacterRecord(id: "c", tenant: "t", name: "c", createdAt: 0, identity: FaceDescriptor([Float](repeating: 0, count: 128)),
                                references: [], attributes: FaceAttributes())
        let sent = NegativePrompt.synthesize(character: c, request: ["a red balloon"], strictness: 2, diagnosed: [])
        XCTAssertFalse(sent.modeIds.isEmpty)
        let plain = NegativePrompt.read(text: sent.text, reference: c.attributes)
        XCTAssertEqual(plain.modeIds, sent.modeIds, "every mode survives the plain text")
        XCTAssertEqual(plain.fragments.first?.source, .user)
        let weighted = NegativePrompt.read(text: sent.weightedText(style: .parenthesized), reference: c.attributes)
        XCTAssertEqual(weighted.modeIds, sent.modeIds)
        XCTAssertEqual(weighted.fragments.map(\.weight), sent.fragments.map(\.weight), "weights read back from (text:w)")
        XCTAssertEqual(NegativePrompt.read(text: " , ,", reference: c.attributes).fragments, [])
    }
}
