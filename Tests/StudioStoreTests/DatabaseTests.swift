import Foundation
import StudioKit
import StudioStore
import XCTest

final class DatabaseTests: XCTestCase {
    func openDatabase() throws -> Database {
        let home = makeTemporaryHome(self, name)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        return try Database(path: home + "/test.sqlite")
    }

    func testSettingsAndTypedValues() throws {
        let db = try openDatabase()
        XCTAssertEqual(try db.scalarText("PRAGMA journal_mode"), "wal")
        XCTAssertEqual(try db.scalarInt("PRAGMA synchronous"), 2) // FULL
        XCTAssertEqual(try db.scalarInt("PRAGMA foreign_keys"), 1)
        try db.execute("CREATE TABLE t (i INTEGER, s TEXT, b BLOB)")
        try db.run("INSERT INTO t VALUES (?, ?, ?)", [.int(-7), .text("é ☃"), .blob([0, 1, 255])])
        try db.run("INSERT INTO t VALUES (?, ?, ?)", [.null, .text(""), .blob([])])
        var rows: [String] = []
        try db.query("SELECT i, s, b FROM t ORDER BY rowid") { r in
            rows.append("\(r.isNull(0) ? "null" : String(r.int64(0)))|\(r.text(1) ?? "nil")|\(r.blob(2))")
        }
        XCTAssertEqual(rows, ["-7|é ☃|[0, 1, 255]", "null||[]"])
        let e = assertStoreError(.io) { try db.execute("SELECT * FROM missing_table") }
        XCTAssertTrue(e?.message.contains("no such table") == true, e?.message ?? "")
    }

    func testTransactionsRollBackAndNestAsSavepoints() throws {
        let db = try openDatabase()
        try db.execute("CREATE TABLE t (v INTEGER)")
        struct Boom: Error {}
        XCTAssertThrowsError(try db.transaction { try db.run("INSERT INTO t VALUES (1)"); throw Boom() })
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM t"), 0)
        try db.transaction {
            try db.run("INSERT INTO t VALUES (2)")
            XCTAssertThrowsError(try db.transaction { try db.run("INSERT INTO t VALUES (3)"); throw Boom() })
            try db.transaction { try db.run("INSERT INTO t VALUES (4)") }
            XCTAssertEqual(db.transactionDepth, 1)
        }
        XCTAssertEqual(db.transactionDepth, 0)
        var values: [Int64] = []
        try db.query("SELECT v FROM t ORDER BY v") { values.append($0.int64(0)) }
        XCTAssertEqual(values, [2, 4])
    }

    func testMigrationsRunOnceInOrder() throws {
        let db = try openDatabase()
        let steps = [
            Migration(version: 1, summary: "a", sql: "CREATE TABLE a (x INTEGER)"),
            Migration(version: 2, summary: "b", sql: "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1)"),
        ]
        try db.migrate(Array(steps.prefix(1)))
        XCTAssertEqual(try db.schemaVersion(), 1)
        try db.migrate(steps)
        try db.migrate(steps)
        XCTAssertEqual(try db.schemaVersion(), 2)
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM a"), 1)
        // A failing step leaves the previous version and none of its changes.
        let failing = steps + [Migration(version: 3, summary: "c", sql: "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1)")]
        assertStoreError(.io) { try db.migrate(failing) }
        XCTAssertEqual(try db.schemaVersion(), 2)
        XCTAssertNil(try db.scalarInt("SELECT 1 FROM sqlite_master WHERE name = 'c'"))
    }
}
