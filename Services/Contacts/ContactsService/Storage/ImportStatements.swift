import GRDB
import GRDBSQLite

/// The statements a CSV import runs once per row, prepared once per batch and bound through SQLite's C API.
///
/// A million-row import runs each of these a million times; GRDB's `StatementArguments` (an array of
/// existentials) and its cache lookup by SQL text cost more than SQLite's own work, so this path binds directly.
struct ImportStatements {
    private let db: Database
    private let findByPhone: Statement
    private let findByUserID: Statement
    private let insertContact: Statement
    private let insertTag: Statement
    private let insertConsent: Statement

    init(_ db: Database) throws {
        self.db = db
        findByPhone = try db.makeStatement(sql: "SELECT id FROM contact WHERE org_id = ? AND phone = ?")
        findByUserID = try db.makeStatement(sql: "SELECT id FROM contact WHERE org_id = ? AND wa_user_id = ?")
        insertContact = try db.makeStatement(
            sql: "INSERT INTO contact (\(ContactRecord.columns), search) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        insertTag = try db.makeStatement(
            sql: "INSERT OR IGNORE INTO contact_tag (contact_id, org_id, tag) VALUES (?, ?, ?)")
        insertConsent = try db.makeStatement(
            sql: """
                INSERT INTO consent_entry (id, org_id, contact_id, opted_in, source, proof, recorded_at)
                VALUES (?, ?, ?, 1, 'csv_import', ?, ?)
                """)
    }

    /// The id of the org's contact with this phone (or WhatsApp user id), if any.
    func contactID(orgID: String, phone: String?, waUserID: String?) throws -> String? {
        if let phone, let id = try firstText(findByPhone, [orgID, phone]) { return id }
        if let waUserID, let id = try firstText(findByUserID, [orgID, waUserID]) { return id }
        return nil
    }

    func insert(_ record: ContactRecord) throws {
        try run(insertContact) { handle in
            bind(handle, 1, record.id)
            bind(handle, 2, record.orgID)
            bind(handle, 3, record.phone)
            bind(handle, 4, record.waUserID)
            bind(handle, 5, record.waUsername)
            bind(handle, 6, record.name)
            bind(handle, 7, record.email)
            bind(handle, 8, record.attributes)
            sqlite3_bind_int64(handle, 9, record.optedIn ? 1 : 0)
            bind(handle, 10, record.optInSource)
            bind(handle, 11, record.optInProof)
            sqlite3_bind_int64(handle, 12, record.createdAt)
            sqlite3_bind_int64(handle, 13, record.updatedAt)
            bind(handle, 14, record.createdByImport)
            bind(handle, 15, record.searchText)
        }
    }

    func insertTags(_ tags: [String], contactID: String, orgID: String) throws {
        for tag in tags {
            try run(insertTag) { handle in
                bind(handle, 1, contactID)
                bind(handle, 2, orgID)
                bind(handle, 3, tag)
            }
        }
    }

    func optIn(id: String, orgID: String, contactID: String, proof: String, at: Int64) throws {
        try run(insertConsent) { handle in
            bind(handle, 1, id)
            bind(handle, 2, orgID)
            bind(handle, 3, contactID)
            bind(handle, 4, proof)
            sqlite3_bind_int64(handle, 5, at)
        }
    }

    // MARK: C API plumbing

    private func run(_ statement: Statement, bindings: (OpaquePointer) -> Void) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        bindings(handle)
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else { throw error(code) }
    }

    private func firstText(_ statement: Statement, _ values: [String]) throws -> String? {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        for (index, value) in values.enumerated() { bind(handle, Int32(index + 1), value) }
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            guard let text = sqlite3_column_text(handle, 0) else { return nil }
            return String(cString: text)
        case SQLITE_DONE:
            return nil
        case let code:
            throw error(code)
        }
    }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }
}

/// SQLite copies the bytes (SQLITE_TRANSIENT), so the Swift string only has to live for the call.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

private func bind(_ handle: OpaquePointer, _ index: Int32, _ value: String?) {
    guard var value else {
        sqlite3_bind_null(handle, index)
        return
    }
    value.withUTF8 { bytes in
        _ = sqlite3_bind_text(
            handle, index, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(bytes.count),
            transient)
    }
}
