public import ConversationsKit
import Foundation
import GRDB
import GRPCCore
public import ServiceKit

extension ConversationsStore {
    private static let quickReplyColumns = "id, org_id, shortcut, content, created_at, updated_at"

    private static func quickReply(_ row: Row) -> QuickReply {
        let content: String = row[3]
        return QuickReply(
            id: row[0], orgID: row[1], shortcut: row[2], content: content,
            variables: (try? QuickReplyText(content).variableNames) ?? [], createdAt: row[4], updatedAt: row[5])
    }

    private static func findQuickReply(_ db: Database, orgID: String, id: String) throws -> QuickReply {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(quickReplyColumns) FROM quick_reply WHERE org_id = ? AND id = ?",
                arguments: [orgID, id])
        else { throw ServiceFailure.notFound("quick_reply_not_found", "no such quick reply") }
        return quickReply(row)
    }

    private static func save(_ db: Database, _ reply: QuickReply, insert: Bool) throws {
        do {
            try db.execute(
                sql: insert
                    ? "INSERT INTO quick_reply (\(quickReplyColumns)) VALUES (?, ?, ?, ?, ?, ?)"
                    : "UPDATE quick_reply SET shortcut = ?, content = ?, updated_at = ? WHERE org_id = ? AND id = ?",
                arguments: insert
                    ? [reply.id, reply.orgID, reply.shortcut, reply.content, reply.createdAt, reply.updatedAt]
                    : [reply.shortcut, reply.content, reply.updatedAt, reply.orgID, reply.id])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw ServiceFailure(
                .alreadyExists, "quick_reply_exists", "another quick reply already has the shortcut \(reply.shortcut)",
                field: "shortcut")
        }
    }

    public func createQuickReply(orgID: String, shortcut: String, content: String) async throws -> QuickReply {
        let text = try QuickReplyText(content)
        let now = Millis.now()
        let reply = QuickReply(
            id: Identifier.make(), orgID: orgID, shortcut: try QuickReplyText.shortcut(shortcut), content: content,
            variables: text.variableNames, createdAt: now, updatedAt: now)
        try await writer.write { db in try Self.save(db, reply, insert: true) }
        return reply
    }

    public func quickReply(orgID: String, id: String) async throws -> QuickReply {
        try await writer.read { db in try Self.findQuickReply(db, orgID: orgID, id: id) }
    }

    /// By shortcut; `prefix` ("/gr") narrows to the shortcuts that start with it.
    public func quickReplies(orgID: String, prefix: String?) async throws -> [QuickReply] {
        let prefix = prefix?.trimmingWhitespace.lowercased() ?? ""
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.quickReplyColumns) FROM quick_reply WHERE org_id = ? AND substr(shortcut, 1, ?) = ?
                    ORDER BY shortcut LIMIT 500
                    """, arguments: [orgID, prefix.count, prefix]
            ).map(Self.quickReply)
        }
    }

    public func updateQuickReply(orgID: String, id: String, shortcut: String?, content: String?) async throws
        -> QuickReply
    {
        let newShortcut = try shortcut.map { value throws(ServiceFailure) in try QuickReplyText.shortcut(value) }
        let newText = try content.map { value throws(ServiceFailure) in try QuickReplyText(value) }
        return try await writer.write { db in
            var reply = try Self.findQuickReply(db, orgID: orgID, id: id)
            if let newShortcut { reply.shortcut = newShortcut }
            if let content, let newText {
                reply.content = content
                reply.variables = newText.variableNames
            }
            reply.updatedAt = Millis.now()
            try Self.save(db, reply, insert: false)
            return reply
        }
    }

    public func deleteQuickReply(orgID: String, id: String) async throws {
        try await writer.write { db in
            _ = try Self.findQuickReply(db, orgID: orgID, id: id)
            try db.execute(sql: "DELETE FROM quick_reply WHERE org_id = ? AND id = ?", arguments: [orgID, id])
        }
    }

    public func renderQuickReply(orgID: String, id: String, values: [String: String]) async throws -> String {
        let reply = try await quickReply(orgID: orgID, id: id)
        return try QuickReplyText(reply.content).render(values)
    }
}
