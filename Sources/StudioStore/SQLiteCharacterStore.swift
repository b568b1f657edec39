import Crypto
import Foundation
import StudioKit

/// The default `CharacterStore`: one SQLite file under `$STUDIO_HOME`, biometric data sealed with a
/// per-tenant AES-256-GCM key, reference images as content-addressed files.
///
/// ### Layout
/// ```
/// $STUDIO_HOME/studio.sqlite            the database (WAL mode: also studio.sqlite-wal, -shm)
/// $STUDIO_HOME/images/<sha[0..2]>/<sha> reference images, original bytes, named by SHA-256; not
///                                       encrypted (the user's own photos, see `ImageFiles`)
/// $STUDIO_HOME/keys/<tenant>.key        32-byte tenant keys (0600 in a 0700 directory), unless
///                                       STUDIO_KEY_<TENANT> is set (see `TenantKeys`)
/// ```
///
/// ### Schema (version 1; `PRAGMA user_version`)
/// ```
/// tenants(name TEXT PK, key_check BLOB, created_at INTEGER)
/// characters(row_id INTEGER PK, id TEXT, tenant TEXT -> tenants, name TEXT, created_at INTEGER,
///            reference_count INTEGER, identity BLOB, payload BLOB)
///     UNIQUE INDEX characters_tenant_name (tenant, name); UNIQUE INDEX characters_tenant_id (tenant, id)
/// character_references(character_row INTEGER -> characters ON DELETE CASCADE, ordinal INTEGER,
///            sha256 TEXT, file_name TEXT, payload BLOB, PK (character_row, ordinal))
///     INDEX character_references_sha256 (sha256)
/// ```
/// Plaintext: tenant and character names, ids, timestamps, reference counts, image SHA-256s and file
/// names. Sealed (AES-GCM, random nonce, associated data = row kind + tenant + character id [+ ordinal],
/// see `SealContext`):
/// - `tenants.key_check`: a constant, to tell a wrong key from damage;
/// - `characters.identity`: the fused identity as little-endian Float32 (its own small blob so the search
///   index loads without decoding whole records);
/// - `characters.payload`: JSON `{attributes, metadata}`;
/// - `character_references.payload`: the whole `ReferenceRecord` as JSON (descriptor, box, landmarks,
///   quality, attributes).
/// No embedding, landmark, box or attribute value is ever written in the clear, so neither
/// `studio.sqlite` nor its `-wal` / `-shm` files hold them (a test searches the raw files).
///
/// ### Atomicity
/// `add` runs in one transaction. Its image files are written and fsynced *before* the transaction
/// commits: a crash leaves the character fully present or absent, plus at most some unreferenced image
/// files, which `collectGarbage()` removes. `remove` deletes rows in a transaction, then, in a second
/// short write-locked section, the image files no other reference uses (a crash between the two again
/// leaves only unreferenced files). Image files are touched only while holding SQLite's write lock, so
/// concurrent studio processes cannot delete each other's images.
///
/// ### Keys
/// A tenant's key is checked against its key check value before any of its data is read or changed:
/// a different key is `.wrongKey` and nothing is modified; a tenant with data and no key is `.missingKey`
/// (a new key is created only for a tenant that does not exist yet). `list` reads only plaintext columns
/// and needs no key.
///
/// ### Search
/// `nearest` is a brute force over an in-memory matrix of each tenant's decrypted fused identities
/// (`IdentityIndex`). The matrix is loaded on a tenant's first search: one query over the `identity`
/// column and one AES-GCM open per character: about 0.3 s for 100,000 characters in a release build
/// on 2 cores, 0.03 s for 10,000 (`StoreBenchmarkTests`; a search then takes about 2 ms at 100,000).
/// This instance keeps the matrix up to date on its own adds and removes (applied when the transaction
/// commits) and drops it when another process commits (`PRAGMA data_version`).
///
/// ### Threads
/// Every public method takes one recursive lock, so an instance may be shared between threads;
/// `batch { }` holds it for the whole batch.
public final class SQLiteCharacterStore: CharacterStore, @unchecked Sendable {
    /// `$STUDIO_HOME`.
    public let home: String
    /// `$STUDIO_HOME/studio.sqlite`.
    public let databasePath: String
    let db: Database
    let images: ImageFiles
    public let keys: TenantKeys

    private let lock = NSRecursiveLock()
    /// Keys already checked, with the check value they were checked against.
    private var checkedKeys: [String: (check: [UInt8], key: SymmetricKey)] = [:]
    private var indexes: [String: IdentityIndex] = [:]
    private var seenDataVersion: Int64 = 0
    /// Index and file changes of the open store transactions, innermost last; applied at the outermost commit.
    private var pending: [[PendingChange]] = []
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()
    private let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }()

    private enum PendingChange {
        case indexAdd(tenant: String, name: String, identity: [Float])
        case indexRemove(tenant: String, name: String)
        case deleteImageIfUnused(String)
    }

    /// The schema's history. Append steps; never edit a released one.
    static let migrations: [Migration] = [
        Migration(version: 1, summary: "tenants, characters, references", sql: """
            CREATE TABLE tenants (
                name TEXT PRIMARY KEY NOT NULL,
                key_check BLOB NOT NULL,
                created_at INTEGER NOT NULL
            ) STRICT;
            CREATE TABLE characters (
                row_id INTEGER PRIMARY KEY,
                id TEXT NOT NULL,
                tenant TEXT NOT NULL REFERENCES tenants(name),
                name TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                reference_count INTEGER NOT NULL,
                identity BLOB NOT NULL,
                payload BLOB NOT NULL
            ) STRICT;
            CREATE UNIQUE INDEX characters_tenant_name ON characters(tenant, name);
            CREATE UNIQUE INDEX characters_tenant_id ON characters(tenant, id);
            CREATE TABLE character_references (
                character_row INTEGER NOT NULL REFERENCES characters(row_id) ON DELETE CASCADE,
                ordinal INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                file_name TEXT NOT NULL,
                payload BLOB NOT NULL,
                PRIMARY KEY (character_row, ordinal)
            ) STRICT;
            CREATE INDEX character_references_sha256 ON character_references(sha256);
            """),
    ]

    /// Opens (creating when absent) the store in `home`.
    ///
    /// - Parameters:
    ///   - home: `$STUDIO_HOME`; created with mode 0700 when absent.
    ///   - environment: where `STUDIO_KEY_<TENANT>` variables are read (the process environment by default).
    /// - Throws: `.corruptStore` when `studio.sqlite` is not a sound SQLite file, `.io` otherwise.
    public init(home: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.home = home
        databasePath = home + "/studio.sqlite"
        images = ImageFiles(root: home + "/images")
        keys = TenantKeys(directory: home + "/keys", environment: environment)
        try makeDirectory(home, mode: 0o700)
        // Names and counts are plaintext: keep the file (and SQLite's -wal/-shm, which copy its mode)
        // private to the user.
        if !FileManager.default.fileExists(atPath: databasePath) {
            let fd = open(databasePath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { _ = posixClose(fd) }
        }
        db = try Database(path: databasePath)
        try db.migrate(SQLiteCharacterStore.migrations)
        // Reads the schema and the first pages: a damaged header or truncated file is reported now.
        _ = try db.scalarInt("SELECT count(*) FROM tenants")
        seenDataVersion = try db.dataVersion()
    }

    /// Opens the store of `paths.home`.
    public convenience init(paths: StudioPaths) throws { try self.init(home: paths.home) }

    // MARK: - CharacterStore

    public func add(_ character: CharacterRecord, images imageBytes: [String: [UInt8]]) throws {
        try locked {
            try Validate.record(character)
            // Every reference's bytes: given (and checked against its digest) or already stored.
            var toWrite: [(String, [UInt8])] = []
            var alreadyStored: [ReferenceRecord] = []
            var seen = Set<String>()
            for ref in character.references where seen.insert(ref.sha256).inserted {
                if let bytes = imageBytes[ref.sha256] {
                    guard ImageFiles.digest(bytes) == ref.sha256 else {
                        throw StoreError(.invalidInput, "the image bytes given for reference '\(ref.fileName)' do not have SHA-256 \(ref.sha256)")
                    }
                    toWrite.append((ref.sha256, bytes))
                } else {
                    alreadyStored.append(ref)
                }
            }
            try refreshIfChangedElsewhere()
            try writeTransaction {
                // Under the write lock, so no collectGarbage() elsewhere removes the file before commit.
                for ref in alreadyStored where !images.exists(ref.sha256) {
                    throw StoreError(.invalidInput, "no image bytes for reference '\(ref.fileName)' (SHA-256 \(ref.sha256))")
                }
                try insert(character, writing: toWrite)
            }
        }
    }

    public func character(named name: String, tenant: String) throws -> CharacterRecord {
        try locked {
            try Validate.tenant(tenant)
            try refreshIfChangedElsewhere()
            return try db.transaction(.deferred) {
                guard let key = try key(for: tenant, create: false) else { throw unknown(name, tenant) }
                return try load(named: name, tenant: tenant, key: key)
            }
        }
    }

    public func list(tenant: String?) throws -> [CharacterSummary] {
        try locked {
            if let tenant { try Validate.tenant(tenant) }
            var out: [CharacterSummary] = []
            let sql = "SELECT id, tenant, name, created_at, reference_count FROM characters"
                + (tenant == nil ? " ORDER BY tenant, name" : " WHERE tenant = ? ORDER BY name")
            try db.query(sql, tenant.map { [.text($0)] } ?? []) { r in
                out.append(CharacterSummary(id: r.text(0) ?? "", tenant: r.text(1) ?? "", name: r.text(2) ?? "",
                                            createdAt: r.int64(3), referenceCount: Int(r.int64(4))))
            }
            return out
        }
    }

    public func remove(named name: String, tenant: String) throws {
        try locked {
            try Validate.tenant(tenant)
            try refreshIfChangedElsewhere()
            try writeTransaction {
                guard try key(for: tenant, create: false) != nil else { throw unknown(name, tenant) }
                guard let row = try db.scalarInt("SELECT row_id FROM characters WHERE tenant = ? AND name = ?",
                                                 [.text(tenant), .text(name)]) else { throw unknown(name, tenant) }
                var shas: [String] = []
                try db.query("SELECT DISTINCT sha256 FROM character_references WHERE character_row = ?", [.int(row)]) {
                    shas.append($0.text(0) ?? "")
                }
                try db.run("DELETE FROM characters WHERE row_id = ?", [.int(row)])
                pending[pending.count - 1].append(.indexRemove(tenant: tenant, name: name))
                for sha in shas where ImageFiles.isDigest(sha) {
                    pending[pending.count - 1].append(.deleteImageIfUnused(sha))
                }
            }
        }
    }

    public func image(sha256: String) throws -> [UInt8] {
        try locked {
            guard ImageFiles.isDigest(sha256) else {
                throw StoreError(.invalidInput, "'\(sha256)' is not a SHA-256 (64 lowercase hexadecimal characters)")
            }
            guard try db.scalarInt("SELECT 1 FROM character_references WHERE sha256 = ? LIMIT 1", [.text(sha256)]) != nil else {
                throw StoreError(.invalidInput, "no reference image with SHA-256 \(sha256) in this store")
            }
            return try images.read(sha256)
        }
    }

    /// The `top` characters nearest to `descriptor` by Euclidean distance on fused identities, nearest
    /// first (ties by name), in `tenant` or, when nil, in every tenant (each tenant's key is needed).
    public func nearest(to descriptor: FaceDescriptor, tenant: String?, top: Int) throws -> [CharacterMatch] {
        try locked {
            guard top >= 0 else { throw StoreError(.invalidInput, "top must be 0 or more (got \(top))") }
            guard !descriptor.values.isEmpty, descriptor.values.allSatisfy(\.isFinite) else {
                throw StoreError(.invalidInput, "the query descriptor is empty or has values that are not finite")
            }
            if let tenant { try Validate.tenant(tenant) }
            try refreshIfChangedElsewhere()
            let tenants = try tenant.map { [$0] } ?? tenantNames()
            var hits: [CharacterMatch] = []
            for t in tenants {
                guard let index = try searchIndex(tenant: t), index.count > 0 else { continue }
                guard index.dimension == descriptor.values.count else {
                    throw StoreError(.invalidInput, "the query descriptor has \(descriptor.values.count) values; the identities of tenant '\(t)' have \(index.dimension)")
                }
                hits += index.nearest(to: descriptor.values, top: top)
            }
            if tenants.count > 1 { hits.sort { ($0.distance, $0.tenant, $0.name) < ($1.distance, $1.tenant, $1.name) } }
            return Array(hits.prefix(top))
        }
    }

    // MARK: - Beyond the protocol

    /// Runs `body` (typically many `add`s) in one transaction: one commit, one fsync. Each `add` inside
    /// is still all-or-nothing on its own (a savepoint), so a failing `add` can be caught and the batch
    /// goes on; a `body` that throws undoes the whole batch.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        try locked {
            try refreshIfChangedElsewhere()
            return try writeTransaction(body)
        }
    }

    /// Adds `count` synthetic characters (random 128-value identities, no references) named
    /// `SyntheticCharacters.name(index:seed:)` for `index` in `start ..< start + count`, in one batch.
    public func addSynthetic(count: Int, tenant: String, seed: UInt64, start: Int = 0) throws {
        try batch {
            for i in start..<(start + count) {
                try add(SyntheticCharacters.record(index: i, tenant: tenant, seed: seed), images: [:])
            }
        }
    }

    /// Removes image files no reference uses (left by a crash during `add` or between `remove`'s two
    /// steps) and leftover temporary files, holding the write lock so no other process is mid-`add`.
    /// Returns how many files were removed.
    @discardableResult
    public func collectGarbage() throws -> Int {
        try locked {
            return try db.transaction(.immediate) {
                var used = Set<String>()
                try db.query("SELECT DISTINCT sha256 FROM character_references") { used.insert($0.text(0) ?? "") }
                let (digests, temporaries) = images.inventory()
                var removed = 0
                for sha in digests where !used.contains(sha) { images.remove(sha); removed += 1 }
                for path in temporaries { unlink(path); removed += 1 }
                return removed
            }
        }
    }

    /// `PRAGMA integrity_check` of the database file: empty when sound, else SQLite's findings.
    public func integrityCheck() throws -> [String] {
        try locked { try db.integrityCheck() }
    }

    /// Copies the write-ahead log into `studio.sqlite` and truncates the log.
    public func checkpoint() throws {
        try locked { try db.checkpoint() }
    }

    /// Loads the search index of `tenant` (every tenant when nil) now rather than on the first search.
    /// Returns the number of identities loaded.
    @discardableResult
    public func preloadIndex(tenant: String?) throws -> Int {
        try locked {
            if let tenant { try Validate.tenant(tenant) }
            try refreshIfChangedElsewhere()
            return try (tenant.map { [$0] } ?? tenantNames()).reduce(0) { $0 + (try searchIndex(tenant: $1)?.count ?? 0) }
        }
    }

    /// Drops the in-memory search indexes (the next search reloads them).
    public func dropIndexes() {
        locked { indexes.removeAll() }
    }

    // MARK: - Export / import

    /// A self-contained file holding one character: a one-line JSON header
    /// `{"created_at","format":"studio-character","key_check","name","tenant","version":1}`, a newline,
    /// then an AES-GCM box (tenant key; associated data = the header line) of the JSON
    /// `{"record": CharacterRecord, "images": {sha256: base64}}`. Without the tenant's key the file tells
    /// only the tenant, the name and the creation time.
    public func export(named name: String, tenant: String) throws -> [UInt8] {
        try locked {
            let record = try character(named: name, tenant: tenant)
            guard let key = try key(for: tenant, create: false) else { throw unknown(name, tenant) }
            var pictures: [String: String] = [:]
            for ref in record.references where pictures[ref.sha256] == nil {
                pictures[ref.sha256] = Data(try images.read(ref.sha256)).base64EncodedString()
            }
            let check = try Sealing.seal(keyCheckPlaintext, key: key, context: .exportKeyCheck(tenant: tenant))
            let header = ExportHeader(format: ExportHeader.formatName, version: ExportHeader.currentVersion, tenant: tenant,
                                      name: name, createdAt: record.createdAt, keyCheck: Data(check).base64EncodedString())
            let headerEncoder = JSONEncoder()
            headerEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let headerBytes = [UInt8](try headerEncoder.encode(header))
            let body = [UInt8](try encode(ExportBody(record: record, images: pictures)))
            let sealed = try Sealing.seal(body, key: key, context: .exportBody(header: headerBytes))
            return headerBytes + [0x0A] + sealed
        }
    }

    /// Reads an export (see `export(named:tenant:)`), checks everything, and adds the character
    /// atomically to `tenant` (the export's own tenant when nil). The export is opened with the key of
    /// the tenant named in its header.
    ///
    /// - Throws: `.invalidInput` for a file that is not an export, a malformed header, an unsupported
    ///   version, or a body that fails authentication or decoding (damaged or modified file);
    ///   `.wrongKey` when the available key is not the one the export was sealed with; `.missingKey`
    ///   when there is none; `.duplicateName` when the target tenant already has that name.
    @discardableResult
    public func importCharacter(_ bytes: [UInt8], tenant: String?) throws -> CharacterRecord {
        try locked {
            guard let newline = bytes.prefix(65_536).firstIndex(of: 0x0A) else {
                throw StoreError(.invalidInput, "not a studio character export (no header line)")
            }
            let headerBytes = Array(bytes[..<newline])
            guard let header = try? JSONDecoder().decode(ExportHeader.self, from: Data(headerBytes)) else {
                throw StoreError(.invalidInput, "not a studio character export (the header is not the expected JSON)")
            }
            guard header.format == ExportHeader.formatName else {
                throw StoreError(.invalidInput, "not a studio character export (format '\(header.format)')")
            }
            guard header.version == ExportHeader.currentVersion else {
                throw StoreError(.invalidInput, "studio character export version \(header.version) is not supported (this studio reads version \(ExportHeader.currentVersion))")
            }
            try Validate.tenant(header.tenant)
            let target = tenant ?? header.tenant
            try Validate.tenant(target)
            try refreshIfChangedElsewhere()
            let resolved: (key: SymmetricKey, source: String)
            if let k = try key(for: header.tenant, create: false) {
                resolved = (k, keySource(header.tenant))
            } else if let r = try keys.existingKey(for: header.tenant) {
                resolved = (r.key, r.source)
            } else {
                throw StoreError(.missingKey, "no key for tenant '\(header.tenant)' to open this export: set \(TenantKeys.environmentVariable(for: header.tenant)) or provide \(keys.keyFile(for: header.tenant))")
            }
            guard let check = Data(base64Encoded: header.keyCheck),
                  Sealing.open([UInt8](check), key: resolved.key, context: .exportKeyCheck(tenant: header.tenant)) == keyCheckPlaintext else {
                throw StoreError(.wrongKey, "the key for tenant '\(header.tenant)' (from \(resolved.source)) is not the key this export was sealed with")
            }
            guard let plain = Sealing.open(Array(bytes[(newline + 1)...]), key: resolved.key, context: .exportBody(header: headerBytes)) else {
                throw StoreError(.invalidInput, "the export of '\(header.name)' is damaged or was modified (its sealed body does not authenticate)")
            }
            guard let body = try? decoder.decode(ExportBody.self, from: Data(plain)) else {
                throw StoreError(.invalidInput, "the export of '\(header.name)' has a body studio cannot read")
            }
            var record = body.record
            guard record.tenant == header.tenant, record.name == header.name, record.createdAt == header.createdAt else {
                throw StoreError(.invalidInput, "the export's header and body disagree about the character")
            }
            var pictures: [String: [UInt8]] = [:]
            for (sha, b64) in body.images {
                guard let d = Data(base64Encoded: b64) else { throw StoreError(.invalidInput, "the export holds an image that is not base64") }
                pictures[sha] = [UInt8](d)
            }
            for ref in record.references where pictures[ref.sha256] == nil {
                throw StoreError(.invalidInput, "the export lacks the image of reference '\(ref.fileName)'")
            }
            record.tenant = target
            try add(record, images: pictures)
            return record
        }
    }

    // MARK: - Internals

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func unknown(_ name: String, _ tenant: String) -> StoreError {
        StoreError(.unknownCharacter, "no character named '\(name)' in tenant '\(tenant)'")
    }

    private func tenantNames() throws -> [String] {
        var names: [String] = []
        try db.query("SELECT name FROM tenants ORDER BY name") { names.append($0.text(0) ?? "") }
        return names
    }

    private func keySource(_ tenant: String) -> String {
        (try? keys.existingKey(for: tenant))?.source ?? keys.describeSources(for: tenant)
    }

    /// The checked key of `tenant`. For a tenant not in the store: nil, or with `create` a key from the
    /// environment / key file / a new key file, recorded with its key check value (inside the caller's
    /// transaction).
    private func key(for tenant: String, create: Bool) throws -> SymmetricKey? {
        let check = try db.withStatement("SELECT key_check FROM tenants WHERE name = ?") { s -> [UInt8]? in
            try s.bind([.text(tenant)])
            return try s.step() ? s.blob(0) : nil
        }
        if let check {
            if let cached = checkedKeys[tenant], cached.check == check { return cached.key }
            guard let resolved = try keys.existingKey(for: tenant) else {
                throw StoreError(.missingKey, "no key for tenant '\(tenant)', which has data in this store: set \(TenantKeys.environmentVariable(for: tenant)) or restore the key file \(keys.keyFile(for: tenant)) (studio never makes a new key for a tenant that has data)")
            }
            guard Sealing.open(check, key: resolved.key, context: .keyCheck(tenant: tenant)) == keyCheckPlaintext else {
                throw StoreError(.wrongKey, "the key for tenant '\(tenant)' does not match this store (from \(resolved.source))")
            }
            checkedKeys[tenant] = (check, resolved.key)
            return resolved.key
        }
        guard create else { return nil }
        precondition(db.transactionDepth > 0, "a tenant is created inside a write transaction")
        let resolved = try keys.existingKey(for: tenant) ?? keys.createKey(for: tenant)
        let newCheck = try Sealing.seal(keyCheckPlaintext, key: resolved.key, context: .keyCheck(tenant: tenant))
        try db.run("INSERT INTO tenants (name, key_check, created_at) VALUES (?, ?, ?)",
                   [.text(tenant), .blob(newCheck), .int(Int64(Date().timeIntervalSince1970))])
        checkedKeys[tenant] = (newCheck, resolved.key)
        return resolved.key
    }

    /// A store transaction: the database transaction plus the index and file changes to apply when the
    /// outermost one commits (dropped when it rolls back).
    private func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        pending.append([])
        let result: T
        do {
            result = try db.transaction(.immediate, body)
        } catch {
            pending.removeLast()
            throw error
        }
        let changes = pending.removeLast()
        if pending.isEmpty { apply(changes) } else { pending[pending.count - 1] += changes }
        return result
    }

    /// After the outermost commit. Deleting unused image files is best effort: one left behind (say the
    /// store is busy) is only an unreferenced file for `collectGarbage()`.
    private func apply(_ changes: [PendingChange]) {
        var unused: [String] = []
        for change in changes {
            switch change {
            case .indexAdd(let tenant, let name, let identity):
                if indexes[tenant] != nil { indexes[tenant]!.append(name: name, values: identity) }
            case .indexRemove(let tenant, let name):
                indexes[tenant]?.remove(name: name)
            case .deleteImageIfUnused(let sha):
                unused.append(sha)
            }
        }
        guard !unused.isEmpty else { return }
        // Under the write lock: no other process is between writing an image and committing its rows.
        try? db.transaction(.immediate) {
            for sha in Set(unused) {
                if try db.scalarInt("SELECT 1 FROM character_references WHERE sha256 = ? LIMIT 1", [.text(sha)]) == nil {
                    images.remove(sha)
                }
            }
        }
    }

    private func refreshIfChangedElsewhere() throws {
        let v = try db.dataVersion()
        if v != seenDataVersion {
            indexes.removeAll()
            seenDataVersion = v
        }
    }

    private func insert(_ c: CharacterRecord, writing files: [(String, [UInt8])]) throws {
        let key = try key(for: c.tenant, create: true)!
        if try db.scalarInt("SELECT 1 FROM characters WHERE tenant = ? AND name = ?", [.text(c.tenant), .text(c.name)]) != nil {
            throw StoreError(.duplicateName, "a character named '\(c.name)' already exists in tenant '\(c.tenant)'")
        }
        if let other = try db.scalarText("SELECT name FROM characters WHERE tenant = ? AND id = ?", [.text(c.tenant), .text(c.id)]) {
            throw StoreError(.invalidInput, "character id \(c.id) is already used by '\(other)' in tenant '\(c.tenant)'")
        }
        if let dim = try identityDimension(tenant: c.tenant, key: key), dim != c.identity.values.count {
            throw StoreError(.invalidInput, "the identity of '\(c.name)' has \(c.identity.values.count) values; tenant '\(c.tenant)' holds identities of \(dim)")
        }
        for (sha, bytes) in files { try images.write(bytes, sha: sha) }
        let identity = try Sealing.seal(floatBytes(c.identity.values), key: key, context: .identity(tenant: c.tenant, id: c.id))
        let payload = try Sealing.seal([UInt8](try encode(CharacterPayload(attributes: c.attributes, metadata: c.metadata))),
                                       key: key, context: .record(tenant: c.tenant, id: c.id))
        try db.run("""
            INSERT INTO characters (id, tenant, name, created_at, reference_count, identity, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(c.id), .text(c.tenant), .text(c.name), .int(c.createdAt), .int(Int64(c.references.count)),
                  .blob(identity), .blob(payload)])
        let row = db.lastInsertRowid
        for (ordinal, ref) in c.references.enumerated() {
            let sealed = try Sealing.seal([UInt8](try encode(ref)), key: key,
                                          context: .reference(tenant: c.tenant, id: c.id, ordinal: ordinal))
            try db.run("""
                INSERT INTO character_references (character_row, ordinal, sha256, file_name, payload)
                VALUES (?, ?, ?, ?, ?)
                """, [.int(row), .int(Int64(ordinal)), .text(ref.sha256), .text(ref.fileName), .blob(sealed)])
        }
        pending[pending.count - 1].append(.indexAdd(tenant: c.tenant, name: c.name, identity: c.identity.values))
    }

    /// The identity size of the tenant's characters (from one stored row), nil when it has none.
    private func identityDimension(tenant: String, key: SymmetricKey) throws -> Int? {
        if let index = indexes[tenant], index.count > 0, db.transactionDepth == 0 { return index.dimension }
        return try db.withStatement("SELECT id, name, identity FROM characters WHERE tenant = ? LIMIT 1") { s -> Int? in
            try s.bind([.text(tenant)])
            guard try s.step() else { return nil }
            let values = try openIdentity(s.blob(2), tenant: tenant, id: s.text(0) ?? "", name: s.text(1) ?? "", key: key)
            return values.count
        }
    }

    private func load(named name: String, tenant: String, key: SymmetricKey) throws -> CharacterRecord {
        let head = try db.withStatement("""
            SELECT row_id, id, created_at, reference_count, identity, payload FROM characters WHERE tenant = ? AND name = ?
            """) { s -> (row: Int64, id: String, created: Int64, count: Int64, identity: [UInt8], payload: [UInt8])? in
            try s.bind([.text(tenant), .text(name)])
            guard try s.step() else { return nil }
            return (s.int64(0), s.text(1) ?? "", s.int64(2), s.int64(3), s.blob(4), s.blob(5))
        }
        guard let head else { throw unknown(name, tenant) }
        let identity = try openIdentity(head.identity, tenant: tenant, id: head.id, name: name, key: key)
        guard let payloadPlain = Sealing.open(head.payload, key: key, context: .record(tenant: tenant, id: head.id)),
              let payload = try? decoder.decode(CharacterPayload.self, from: Data(payloadPlain)) else {
            throw damaged(name, tenant, "record")
        }
        var references: [ReferenceRecord] = []
        try db.query("SELECT ordinal, sha256, payload FROM character_references WHERE character_row = ? ORDER BY ordinal",
                     [.int(head.row)]) { s in
            let ordinal = Int(s.int64(0))
            guard ordinal == references.count,
                  let plain = Sealing.open(s.blob(2), key: key, context: .reference(tenant: tenant, id: head.id, ordinal: ordinal)),
                  let ref = try? decoder.decode(ReferenceRecord.self, from: Data(plain)),
                  ref.sha256 == s.text(1) else {
                throw damaged(name, tenant, "reference \(ordinal)")
            }
            references.append(ref)
        }
        guard references.count == head.count else { throw damaged(name, tenant, "reference count") }
        return CharacterRecord(id: head.id, tenant: tenant, name: name, createdAt: head.created, identity: FaceDescriptor(identity),
                               references: references, attributes: payload.attributes, metadata: payload.metadata)
    }

    private func openIdentity(_ sealed: [UInt8], tenant: String, id: String, name: String, key: SymmetricKey) throws -> [Float] {
        guard let plain = Sealing.open(sealed, key: key, context: .identity(tenant: tenant, id: id)),
              !plain.isEmpty, plain.count % 4 == 0 else { throw damaged(name, tenant, "identity") }
        return floats(plain)
    }

    private func damaged(_ name: String, _ tenant: String, _ part: String) -> StoreError {
        StoreError(.corruptStore, "the sealed \(part) of character '\(name)' in tenant '\(tenant)' in \(databasePath) does not authenticate or decode: the store is damaged or was changed outside studio; restore the character from its export")
    }

    /// The tenant's search index: cached, or loaded (one `identity` column read and one AES-GCM open per
    /// character). Inside an open batch the loaded index reflects uncommitted rows, so it is used for
    /// this query only and not kept. Nil for a tenant not in the store.
    private func searchIndex(tenant: String) throws -> IdentityIndex? {
        if let cached = indexes[tenant] { return cached }
        let built: IdentityIndex? = try db.transaction(.deferred) {
            guard let key = try key(for: tenant, create: false) else { return nil }
            var index = IdentityIndex(tenant: tenant, dimension: 0)
            try db.query("SELECT id, name, identity FROM characters WHERE tenant = ?", [.text(tenant)]) { s in
                let name = s.text(1) ?? ""
                let id = s.text(0) ?? ""
                guard let plain = s.withBlob(2, { Sealing.openData($0, key: key, context: .identity(tenant: tenant, id: id)) }),
                      !plain.isEmpty, plain.count % 4 == 0 else { throw damaged(name, tenant, "identity") }
                guard index.count == 0 || plain.count == index.dimension * 4 else {
                    throw StoreError(.invalidInput, "tenant '\(tenant)' mixes identities of \(index.dimension) and \(plain.count / 4) values ('\(name)')")
                }
                plain.withUnsafeBytes { index.append(name: name, values: $0) }
            }
            return index
        }
        if let built, db.transactionDepth == 0 { indexes[tenant] = built }
        return built
    }

    private func encode<T: Encodable>(_ value: T) throws -> Data {
        do { return try encoder.encode(value) } catch {
            throw StoreError(.invalidInput, "cannot encode \(T.self) as JSON: \(error)")
        }
    }
}

// MARK: - Stored shapes

/// `characters.payload`, sealed.
struct CharacterPayload: Codable {
    var attributes: FaceAttributes
    var metadata: [String: String]
}

/// The clear first line of an export.
struct ExportHeader: Codable {
    static let formatName = "studio-character"
    static let currentVersion = 1
    var format: String
    var version: Int
    var tenant: String
    var name: String
    var createdAt: Int64
    /// Base64 of an AES-GCM seal of a constant under the tenant key: tells a wrong key from a damaged body.
    var keyCheck: String

    enum CodingKeys: String, CodingKey {
        case format, version, tenant, name
        case createdAt = "created_at"
        case keyCheck = "key_check"
    }
}

/// The sealed body of an export.
struct ExportBody: Codable {
    var record: CharacterRecord
    /// SHA-256 -> base64 of the image's original bytes.
    var images: [String: String]
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count * 4)
    out.withUnsafeMutableBytes { p in
        for (i, v) in values.enumerated() { p.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
    }
    return out
}

func floats(_ bytes: [UInt8]) -> [Float] {
    bytes.withUnsafeBytes { p in
        (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }
}

// MARK: - Validation

enum Validate {
    /// 1–64 ASCII letters, digits, `.`, `_`, `-`, starting with a letter or digit (a tenant names a key file).
    static func tenant(_ t: String) throws {
        let u = Array(t.utf8)
        func ok(_ c: UInt8) -> Bool {
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        guard (1...64).contains(u.count), u.allSatisfy(ok), u[0] != 0x2E, u[0] != 0x2D, u[0] != 0x5F else {
            throw StoreError(.invalidInput, "tenant '\(t)' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    static func text(_ s: String, _ what: String, max: Int) throws {
        guard !s.isEmpty, s.utf8.count <= max, !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw StoreError(.invalidInput, "\(what) must be 1-\(max) bytes of text without control characters")
        }
    }

    static func record(_ c: CharacterRecord) throws {
        try tenant(c.tenant)
        try text(c.name, "a character name", max: 256)
        try text(c.id, "a character id", max: 128)
        guard !c.identity.values.isEmpty, c.identity.values.allSatisfy(\.isFinite) else {
            throw StoreError(.invalidInput, "the identity of '\(c.name)' is empty or has values that are not finite")
        }
        for ref in c.references where !ImageFiles.isDigest(ref.sha256) {
            throw StoreError(.invalidInput, "reference '\(ref.fileName)' of '\(c.name)' has '\(ref.sha256)' as SHA-256 (expected 64 lowercase hexadecimal characters)")
        }
    }
}
