import Foundation

/// `Tests/Fixtures/diffusion/` (written by tools/diffusion-oracle/make-fixtures.sh).
enum DiffusionFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/diffusion").path

    /// A JSON fixture's top-level object.
    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))) as! [String: Any]
    }
}
