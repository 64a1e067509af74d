public import ContactsKit
import Foundation
import GRDB
import ServiceKit

/// One `contact` row, as stored.
struct ContactRecord: Sendable, Equatable {
    var id: String
    var orgID: String
    var phone: String?
    var waUserID: String?
    var waUsername: String?
    var name: String?
    var email: String?
    var attributes: String
    var optedIn: Bool
    var optInSource: String?
    var optInProof: String?
    /// The import job that created this contact. Its creation is then not a row of `audit_entry` (a million-row
    /// import would write a million of them); the audit list derives it, and deletion writes it out.
    var createdByImport: String?
    var createdAt: Millis
    var updatedAt: Millis

    static let columns =
        "id, org_id, phone, wa_user_id, wa_username, name, email, attributes, opted_in, opt_in_source, opt_in_proof, created_at, updated_at, created_by_import"

    init(id: String, orgID: String, now: Millis) {
        self.id = id
        self.orgID = orgID
        attributes = "{}"
        optedIn = false
        createdAt = now
        updatedAt = now
    }

    init(row: Row) {
        id = row[0]
        orgID = row[1]
        phone = row[2]
        waUserID = row[3]
        waUsername = row[4]
        name = row[5]
        email = row[6]
        attributes = row[7]
        optedIn = row[8]
        optInSource = row[9]
        optInProof = row[10]
        createdAt = row[11]
        updatedAt = row[12]
        createdByImport = row[13]
    }

    /// Lower-cased text that list searches match fragments against.
    var searchText: String {
        [name?.lowercased(), phone, email?.lowercased(), waUsername?.lowercased(), waUserID?.lowercased()]
            .compactMap { $0 }.joined(separator: " ")
    }

    func contact(tags: [String]) -> Contact {
        Contact(
            id: id, orgID: orgID, phone: phone, whatsappUserID: waUserID, whatsappUsername: waUsername, name: name,
            email: email, tags: tags, attributesJSON: attributes, optedIn: optedIn, optInSource: optInSource,
            optInProof: optInProof.flatMap { JSONCoding.decode(ConsentProof.self, $0) },
            createdAt: createdAt, updatedAt: updatedAt)
    }

    // MARK: statements (cached per connection: the import runs them a million times)

    static func find(_ db: Database, orgID: String, id: String) throws -> ContactRecord? {
        let statement = try db.cachedStatement(sql: "SELECT \(columns) FROM contact WHERE id = ? AND org_id = ?")
        return try Row.fetchOne(statement, arguments: [id, orgID]).map(ContactRecord.init(row:))
    }

    static func find(_ db: Database, orgID: String, phone: String) throws -> ContactRecord? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(columns) FROM contact WHERE org_id = ? AND phone = ?")
        return try Row.fetchOne(statement, arguments: [orgID, phone]).map(ContactRecord.init(row:))
    }

    static func find(_ db: Database, orgID: String, waUserID: String) throws -> ContactRecord? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(columns) FROM contact WHERE org_id = ? AND wa_user_id = ?")
        return try Row.fetchOne(statement, arguments: [orgID, waUserID]).map(ContactRecord.init(row:))
    }

    func insert(_ db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO contact (\(Self.columns), search) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        try statement.execute(arguments: [
            id, orgID, phone, waUserID, waUsername, name, email, attributes, optedIn, optInSource, optInProof,
            createdAt, updatedAt, createdByImport, searchText,
        ])
    }

    func update(_ db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE contact SET phone = ?, wa_user_id = ?, wa_username = ?, name = ?, email = ?, attributes = ?,
                opted_in = ?, opt_in_source = ?, opt_in_proof = ?, updated_at = ?, search = ? WHERE org_id = ? AND id = ?
                """)
        try statement.execute(arguments: [
            phone, waUserID, waUsername, name, email, attributes, optedIn, optInSource, optInProof, updatedAt,
            searchText, orgID, id,
        ])
    }

    static func tags(_ db: Database, contactID: String) throws -> [String] {
        let statement = try db.cachedStatement(sql: "SELECT tag FROM contact_tag WHERE contact_id = ? ORDER BY tag")
        return try String.fetchAll(statement, arguments: [contactID])
    }

    static func tags(_ db: Database, contactIDs: [String]) throws -> [String: [String]] {
        guard !contactIDs.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: contactIDs.count).joined(separator: ",")
        var result: [String: [String]] = [:]
        let rows = try Row.fetchCursor(
            db, sql: "SELECT contact_id, tag FROM contact_tag WHERE contact_id IN (\(marks)) ORDER BY tag",
            arguments: StatementArguments(contactIDs))
        while let row = try rows.next() { result[row[0], default: []].append(row[1]) }
        return result
    }

    func addTags(_ db: Database, _ tags: [String]) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO contact_tag (contact_id, org_id, tag) VALUES (?, ?, ?)")
        for tag in tags { try statement.execute(arguments: [id, orgID, tag]) }
    }

    func removeTags(_ db: Database, _ tags: [String]) throws {
        let statement = try db.cachedStatement(sql: "DELETE FROM contact_tag WHERE contact_id = ? AND tag = ?")
        for tag in tags { try statement.execute(arguments: [id, tag]) }
    }

    /// Appends to the consent ledger and refreshes the derived columns (the caller saves the record).
    mutating func appendConsent(
        _ db: Database, optedIn: Bool, source: String, proof: ConsentProof, now: Millis
    ) throws {
        let proofJSON = JSONCoding.encode(proof)
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO consent_entry (id, org_id, contact_id, opted_in, source, proof, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        try statement.execute(arguments: [Identifier.make(), orgID, id, optedIn, source, proofJSON, now])
        self.optedIn = optedIn
        self.optInSource = source
        self.optInProof = proofJSON
        try ContactEvents.consent(db, orgID: orgID, contactID: id, optedIn: optedIn, source: source, proofJSON: proofJSON, at: now)
    }

    func appendAudit(
        _ db: Database, id entryID: String = Identifier.make(), action: String, actor: String, changes: String,
        now: Millis
    ) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO audit_entry (id, org_id, contact_id, action, actor, at, changes) VALUES (?,?,?,?,?,?,?)")
        try statement.execute(arguments: [entryID, orgID, id, action, actor, now, changes])
        try ContactEvents.audit(db, self, action: action, actorJSON: actor, changesJSON: changes, at: now)
    }
}

/// JSON for the small objects stored in text columns (actors, proofs, previews).
enum JSONCoding {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
