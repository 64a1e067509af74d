public import ContactsKit
import Foundation
import GRPCCore
public import GRDB
public import ServiceKit

/// The contacts database: every read and write of contacts, tags, consent, audit, rules and imports.
public final class ContactsStore: Sendable {
    let writer: any DatabaseWriter
    /// The blocking point reads' own connections. A blocking read waits for a free reader on the calling thread (an
    /// event loop); if the async reads, which hold a reader until their task resumes on an event loop, could take
    /// every reader of the same pool, both would wait for each other. Blocking reads alone always finish.
    let pointReader: any DatabaseReader

    /// - Parameter writer: a `DatabasePool` in production, an in-memory `DatabaseQueue` in tests; migrated here.
    public init(_ writer: any DatabaseWriter, pointReader: (any DatabaseReader)? = nil) throws {
        self.writer = writer
        self.pointReader = pointReader ?? writer
        try ContactsMigrations.migrator.migrate(writer)
    }

    public static func open(path: String) throws -> ContactsStore {
        let writer = try SQLiteDatabase.openPool(path: path, migrator: ContactsMigrations.migrator)
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 4
        return try ContactsStore(writer, pointReader: try DatabasePool(path: path, configuration: configuration))
    }

    public static func inMemory() throws -> ContactsStore {
        try ContactsStore(DatabaseQueue())
    }

    // MARK: reads

    /// One contact. A point read takes tens of microseconds, so it runs on the caller's thread: GRDB's async
    /// read would hop to its own queue and back, which costs more than the query.
    public func contact(orgID: String, id: String) throws -> Contact {
        try pointReader.read { db in try Self.loadContact(db, orgID: orgID, id: id) }
    }

    /// Many point reads in one read transaction; nil where the org has no such contact.
    public func contacts(_ keys: [(orgID: String, id: String)]) throws -> [Contact?] {
        try pointReader.read { db in
            try keys.map { key in
                guard let record = try ContactRecord.find(db, orgID: key.orgID, id: key.id) else { return nil }
                return record.contact(tags: try ContactRecord.tags(db, contactID: key.id))
            }
        }
    }

    static func loadContact(_ db: Database, orgID: String, id: String) throws -> Contact {
        guard let record = try ContactRecord.find(db, orgID: orgID, id: id) else { throw ContactsFailure.contactNotFound }
        return record.contact(tags: try ContactRecord.tags(db, contactID: id))
    }

    public func contacts(orgID: String, query: ContactQuery) async throws -> Page<Contact> {
        var conditions = ["org_id = ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [orgID]
        if let after = try Self.cursorID(query.cursor) {
            conditions.append("id < ?")
            arguments.append(after)
        }
        if let optedIn = query.optedIn {
            conditions.append("opted_in = ?")
            arguments.append(optedIn)
        }
        if let text = query.text?.trimmed.lowercased(), !text.isEmpty {
            var patterns = [likePattern(containing: text)]
            let phoneChars = Set("+0123456789 -.()")
            let digits = text.filter(\.isNumber)
            if digits.count >= 3, text.allSatisfy({ phoneChars.contains($0) }), digits != text {
                patterns.append(likePattern(containing: digits))
            }
            conditions.append("(" + patterns.map { _ in "search LIKE ? ESCAPE '\\'" }.joined(separator: " OR ") + ")")
            arguments.append(contentsOf: patterns.map { $0 })
        }
        for tag in query.tags {
            conditions.append("id IN (SELECT contact_id FROM contact_tag WHERE org_id = ? AND tag = ?)")
            arguments.append(orgID)
            arguments.append(tag)
        }
        let sql = """
            SELECT \(ContactRecord.columns) FROM contact WHERE \(conditions.joined(separator: " AND "))
            ORDER BY id DESC LIMIT \(query.limit + 1)
            """
        let statementArguments = StatementArguments(arguments)
        return try await writer.read { db in
            var records = try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(ContactRecord.init(row:))
            var next: String?
            if records.count > query.limit {
                records.removeLast()
                next = records.last.map { PageCursor.encode([$0.id]) }
            }
            let tags = try ContactRecord.tags(db, contactIDs: records.map(\.id))
            return Page(items: records.map { $0.contact(tags: tags[$0.id] ?? []) }, nextCursor: next)
        }
    }

    /// The `imported` audit entry of a contact an import created: the job's actor, the contact's creation time,
    /// and the contact's own id as the entry id, so it sorts before every later entry.
    static func importCreation(_ db: Database, _ contact: ContactRecord) throws -> AuditEntry? {
        guard let jobID = contact.createdByImport else { return nil }
        let actor = try String.fetchOne(db, sql: "SELECT actor FROM import_job WHERE id = ?", arguments: [jobID])
        return AuditEntry(
            id: contact.id, contactID: contact.id, action: "imported",
            actor: actor.flatMap { JSONCoding.decode(Actor.self, $0) } ?? .system, at: contact.createdAt,
            changesJSON: "{\"created\":true,\"importJobId\":\"\(jobID)\"}")
    }

    /// The id a single-part keyset cursor points after.
    static func cursorID(_ cursor: String?) throws(ServiceFailure) -> String? {
        guard let cursor else { return nil }
        guard let parts = PageCursor.decode(cursor, count: 1), Identifier.isValid(parts[0]) else {
            throw ContactsFailure.invalidCursor
        }
        return parts[0]
    }

    public func tagCounts(orgID: String) async throws -> [(tag: String, count: Int64)] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT tag, COUNT(*) FROM contact_tag WHERE org_id = ? GROUP BY tag ORDER BY tag",
                arguments: [orgID]
            ).map { (tag: $0[0], count: $0[1]) }
        }
    }

    public func consentLedger(orgID: String, contactID: String) async throws -> [ConsentEntry] {
        try await writer.read { db in
            guard try ContactRecord.find(db, orgID: orgID, id: contactID) != nil else {
                throw ContactsFailure.contactNotFound
            }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT id, opted_in, source, proof, recorded_at FROM consent_entry
                    WHERE org_id = ? AND contact_id = ? ORDER BY id
                    """, arguments: [orgID, contactID]
            ).map { row in
                ConsentEntry(
                    id: row[0], optedIn: row[1], source: row[2],
                    proof: JSONCoding.decode(ConsentProof.self, row[3]) ?? ConsentProof(at: row[4]), recordedAt: row[4])
            }
        }
    }

    /// The audit trail of a contact, newest first; it outlives the contact's deletion.
    public func audit(orgID: String, contactID: String, cursor: String?, limit: Int) async throws -> Page<AuditEntry> {
        let after = try Self.cursorID(cursor)
        return try await writer.read { db in
            var rows: [AuditEntry] = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, contact_id, action, actor, at, changes FROM audit_entry
                    WHERE org_id = ? AND contact_id = ? AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?
                    """, arguments: [orgID, contactID, after, after, limit + 1]
            ).map { row in
                AuditEntry(
                    id: row[0], contactID: row[1], action: row[2],
                    actor: JSONCoding.decode(Actor.self, row[3]) ?? .system, at: row[4], changesJSON: row[5])
            }
            let contact = try ContactRecord.find(db, orgID: orgID, id: contactID)
            if rows.isEmpty, after == nil, contact == nil { throw ContactsFailure.contactNotFound }
            // A contact created by an import has its creation derived (its id sorts before every later entry).
            if rows.count <= limit, let contact, after.map({ contact.id < $0 }) ?? true,
                let creation = try Self.importCreation(db, contact)
            {
                rows.append(creation)
            }
            var next: String?
            if rows.count > limit {
                rows.removeLast()
                next = rows.last.map { PageCursor.encode([$0.id]) }
            }
            return Page(items: rows, nextCursor: next)
        }
    }
}

/// The failures the contacts service reports, each with its stable reason.
enum ContactsFailure {
    static let contactNotFound = ServiceFailure.notFound("contact_not_found", "no such contact")
    static let ruleNotFound = ServiceFailure.notFound("rule_not_found", "no such auto-tag rule")
    static let importNotFound = ServiceFailure.notFound("import_not_found", "no such import job")
    static let invalidCursor = ServiceFailure.invalid("invalid_cursor", "cursor is malformed", field: "cursor")
    static let missingIdentity = ServiceFailure.invalid(
        "missing_identity", "a contact needs a phone number or a WhatsApp user id", field: "phone")

    static func exists(_ id: String, field: String) -> ServiceFailure {
        ServiceFailure(
            .alreadyExists, "contact_exists", "a contact with this \(field) already exists", field: field,
            details: ["contactId": id])
    }
}
