import CSQLite
import StudioKit

/// A thin wrapper over one system SQLite (libsqlite3) connection.
///
/// studio uses the system `sqlite3` library through this wrapper rather than a full SQLite library
/// (GRDB, SQLite.swift): the store needs a handful of statements, explicit transactions and file-level
/// control (WAL, `synchronous=FULL`, integrity checks, `user_version` migrations), and the wrapper adds
/// no build time.
///
/// ### Threads
/// The connection is opened with `SQLITE_OPEN_FULLMUTEX`, so single calls are safe from any thread. A
/// *sequence* of calls (a transaction, a prepared statement stepped row by row, `errmsg` after a failed
/// call) is not: the owner must run each sequence on one thread at a time. `SQLiteCharacterStore` does so
/// with its own lock.
///
/// ### Errors
/// Every failure is a `StoreError`: `SQLITE_CORRUPT` / `SQLITE_NOTADB` become `.corruptStore` with a
/// message naming the file and saying to restore from an export; `SQLITE_BUSY` / `SQLITE_LOCKED`,
/// I/O, permission and disk-full errors become `.io`; everything else `.io` with SQLite's message.
public final class Database: @unchecked Sendable {
    /// The database file.
    public let path: String
    private var handle: OpaquePointer?
    private var cache: [String: Statement] = [:]
    /// Depth of `transaction` nesting: 0 outside, 1 inside `BEGIN IMMEDIATE`, more inside savepoints.
    public private(set) var transactionDepth = 0

    /// Opens (creating when absent) the database at `path` and applies studio's connection settings:
    /// `journal_mode=WAL`, `synchronous=FULL`, `foreign_keys=ON`, a 5 s busy timeout.
    ///
    /// A file that is not a SQLite database is reported here (`.corruptStore`), because switching to WAL
    /// reads the header.
    public init(path: String) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw Database.error(code: rc, message: message, path: path, context: "open")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
        do {
            // journal_mode answers a row with the mode it ended in; anything but "wal" is an error.
            let mode = try scalarText("PRAGMA journal_mode=WAL")
            guard mode?.lowercased() == "wal" else {
                throw StoreError(.io, "could not switch \(path) to write-ahead logging (journal mode is \(mode ?? "unknown"))")
            }
            try execute("PRAGMA synchronous=FULL")
            try execute("PRAGMA foreign_keys=ON")
            // Schema text is ours; never run functions a tampered schema might name.
            try execute("PRAGMA trusted_schema=OFF")
            // Cheap extra checks on every b-tree cell read: corruption is reported, not followed.
            try execute("PRAGMA cell_size_check=ON")
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Finalizes cached statements and closes the connection (idempotent). In WAL mode the last
    /// connection to close checkpoints and removes the `-wal` and `-shm` files.
    public func close() {
        for (_, s) in cache { s.finalize() }
        cache.removeAll()
        if let h = handle { sqlite3_close_v2(h) }
        handle = nil
    }

    var connection: OpaquePointer {
        guard let h = handle else { preconditionFailure("Database \(path) used after close()") }
        return h
    }

    // MARK: - Statements

    /// Runs one or more SQL statements that take no parameters and return no rows.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(connection, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(connection))
            sqlite3_free(err)
            throw Database.error(code: rc, message: message, path: path, context: Database.summary(sql))
        }
    }

    /// A new prepared statement (the caller owns it; it is finalized when released).
    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw failure(rc, Database.summary(sql))
        }
        return Statement(handle: stmt, database: self, sql: sql)
    }

    /// Runs `body` with a prepared statement cached by its SQL text; the statement is reset and its
    /// bindings cleared afterwards, also when `body` throws.
    public func withStatement<T>(_ sql: String, _ body: (Statement) throws -> T) throws -> T {
        let stmt: Statement
        if let s = cache[sql] { stmt = s } else { stmt = try prepare(sql); cache[sql] = stmt }
        defer { stmt.reset() }
        return try body(stmt)
    }

    /// Runs a cached statement with `bindings` to completion (for INSERT / UPDATE / DELETE).
    public func run(_ sql: String, _ bindings: [SQLValue] = []) throws {
        try withStatement(sql) { s in
            try s.bind(bindings)
            while try s.step() {}
        }
    }

    /// Rows of a cached query, each handed to `row` while the statement is positioned on it.
    public func query(_ sql: String, _ bindings: [SQLValue] = [], row: (Statement) throws -> Void) throws {
        try withStatement(sql) { s in
            try s.bind(bindings)
            while try s.step() { try row(s) }
        }
    }

    /// The first column of the first row, as text (nil when there is no row or it is NULL).
    public func scalarText(_ sql: String, _ bindings: [SQLValue] = []) throws -> String? {
        try withStatement(sql) { s in
            try s.bind(bindings)
            return try s.step() ? s.text(0) : nil
        }
    }

    /// The first column of the first row, as an integer (nil when there is no row or it is NULL).
    public func scalarInt(_ sql: String, _ bindings: [SQLValue] = []) throws -> Int64? {
        try withStatement(sql) { s in
            try s.bind(bindings)
            return try s.step() && !s.isNull(0) ? s.int64(0) : nil
        }
    }

    /// Rows changed by the last INSERT / UPDATE / DELETE on this connection.
    public var changes: Int { Int(sqlite3_changes(connection)) }

    /// The rowid of the last row this connection inserted.
    public var lastInsertRowid: Int64 { sqlite3_last_insert_rowid(connection) }

    // MARK: - Transactions

    /// Runs `body` in a transaction: `BEGIN IMMEDIATE` (takes the write lock at once, so two writers
    /// never deadlock upgrading read locks) then `COMMIT`, or `ROLLBACK` when `body` throws.
    ///
    /// Inside another `transaction` it nests as a `SAVEPOINT`: a throwing inner body undoes only its own
    /// changes and the outer transaction goes on.
    ///
    /// - Parameter kind: `.immediate` (the default) for writers; `.deferred` for readers that only
    ///   want one consistent snapshot across several statements and must not block writers.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        let depth = transactionDepth
        try execute(depth == 0 ? (kind == .immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED") : "SAVEPOINT studio_\(depth)")
        transactionDepth += 1
        let result: T
        do {
            result = try body()
        } catch {
            transactionDepth -= 1
            if depth == 0 {
                try? execute("ROLLBACK")
            } else {
                try? execute("ROLLBACK TO studio_\(depth)")
                try? execute("RELEASE studio_\(depth)")
            }
            throw error
        }
        transactionDepth -= 1
        do {
            try execute(depth == 0 ? "COMMIT" : "RELEASE studio_\(depth)")
        } catch {
            if depth == 0 { try? execute("ROLLBACK") }
            throw error
        }
        return result
    }

    // MARK: - Migrations

    /// The schema version recorded in the file header (`PRAGMA user_version`).
    public func schemaVersion() throws -> Int {
        Int(try scalarInt("PRAGMA user_version") ?? 0)
    }

    /// Brings the schema up to the last of `migrations` (ordered by version, starting at 1), each step in
    /// its own transaction together with the new `user_version`, so a crash leaves a whole step or none.
    ///
    /// A file with a newer version than the list knows is refused (`.io`): this build cannot read it.
    public func migrate(_ migrations: [Migration]) throws {
        for (i, m) in migrations.enumerated() {
            precondition(m.version == i + 1, "migrations must be numbered 1, 2, 3, ... in order")
        }
        let current = try schemaVersion()
        guard current <= migrations.count else {
            throw StoreError(.io, "\(path) has schema version \(current), newer than this studio understands (\(migrations.count)); use a newer studio")
        }
        for m in migrations where m.version > current {
            try transaction {
                try m.apply(self)
                try execute("PRAGMA user_version = \(m.version)")
            }
        }
    }

    // MARK: - File-level checks

    /// `PRAGMA integrity_check`: an empty array when the file is sound, else SQLite's findings.
    public func integrityCheck() throws -> [String] {
        var lines: [String] = []
        try query("PRAGMA integrity_check") { lines.append($0.text(0) ?? "") }
        return lines == ["ok"] ? [] : lines
    }

    /// Copies the write-ahead log into the database file and truncates the log.
    public func checkpoint() throws {
        try execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Changes whenever *another* connection commits (`PRAGMA data_version`); used to drop caches.
    public func dataVersion() throws -> Int64 {
        try scalarInt("PRAGMA data_version") ?? 0
    }

    // MARK: - Errors

    func failure(_ code: Int32, _ context: String) -> StoreError {
        Database.error(code: code, message: String(cString: sqlite3_errmsg(connection)), path: path, context: context)
    }

    static func error(code: Int32, message: String, path: String, context: String) -> StoreError {
        switch code & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return StoreError(.corruptStore,
                              "the studio store \(path) is damaged or is not a studio database (sqlite: \(message)); "
                              + "move it aside and restore the characters from their exports")
        case SQLITE_BUSY, SQLITE_LOCKED:
            return StoreError(.io, "the studio store \(path) is locked by another process (sqlite: \(message)); try again")
        case SQLITE_FULL:
            return StoreError(.io, "no space left for the studio store \(path) (sqlite: \(message))")
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY:
            return StoreError(.io, "cannot open or write the studio store \(path) (sqlite: \(message))")
        default:
            return StoreError(.io, "studio store \(path): \(context) failed (sqlite \(code): \(message))")
        }
    }

    static func summary(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.joined(separator: " ")
        return oneLine.count > 60 ? String(oneLine.prefix(57)) + "..." : oneLine
    }
}

/// How an outermost transaction takes its locks.
public enum TransactionKind: Sendable, Equatable {
    /// `BEGIN IMMEDIATE`: the write lock at once.
    case immediate
    /// `BEGIN DEFERRED`: a read snapshot; the write lock only on the first write.
    case deferred
}

/// A value bound to a statement parameter.
public enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// One prepared statement: typed bind (1-based, as SQLite) and column reads (0-based, as SQLite).
public final class Statement {
    private var handle: OpaquePointer?
    private unowned let database: Database
    public let sql: String

    init(handle: OpaquePointer, database: Database, sql: String) {
        self.handle = handle; self.database = database; self.sql = sql
    }

    deinit { finalize() }

    func finalize() {
        if let h = handle { sqlite3_finalize(h) }
        handle = nil
    }

    private var stmt: OpaquePointer {
        guard let h = handle else { preconditionFailure("statement used after finalize: \(sql)") }
        return h
    }

    /// Binds `values` to parameters 1, 2, ...
    public func bind(_ values: [SQLValue]) throws {
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    public func bind(_ value: SQLValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case .int(let v): rc = sqlite3_bind_int64(stmt, index, v)
        case .text(let s): rc = CSQLite_bind_text_transient(stmt, index, s, -1)
        case .blob(let b):
            rc = b.withUnsafeBytes { p in
                // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
                CSQLite_bind_blob_transient(stmt, index, p.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(b.count))
            }
        case .null: rc = sqlite3_bind_null(stmt, index)
        }
        if rc != SQLITE_OK { throw database.failure(rc, "bind parameter \(index) of \(Database.summary(sql))") }
    }

    /// Advances to the next row: true when positioned on a row, false when done.
    public func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.failure(rc, Database.summary(sql))
        }
    }

    /// Rewinds the statement and clears its bindings.
    public func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    public func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        return String(cString: p)
    }
    public func blob(_ column: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, column))
        guard n > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: p, count: n))
    }
    /// Calls `body` with the column's bytes in place (valid only during the call).
    public func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let n = Int(sqlite3_column_bytes(stmt, column))
        let p = sqlite3_column_blob(stmt, column)
        return try body(UnsafeRawBufferPointer(start: n > 0 ? p : nil, count: n > 0 ? n : 0))
    }
}

/// One step of the schema's history: applied once, in order, in a transaction.
public struct Migration: Sendable {
    public let version: Int
    public let summary: String
    public let apply: @Sendable (Database) throws -> Void

    public init(version: Int, summary: String, apply: @escaping @Sendable (Database) throws -> Void) {
        self.version = version; self.summary = summary; self.apply = apply
    }

    /// A step that is plain SQL.
    public init(version: Int, summary: String, sql: String) {
        self.init(version: version, summary: summary) { try $0.execute(sql) }
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        var s = self[...]
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
