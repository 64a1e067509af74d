import GRPCCore
public import ConversationsKit
import GRDB
public import ServiceKit

extension ConversationsStore {
    /// Assigns to an agent (status `ASSIGNED`) or, with a nil or empty agent id, unassigns (status `OPEN`).
    public func assign(orgID: String, id: String, agentID: String?, now: Millis = .now()) async throws -> Conversation {
        let agentID = agentID.flatMap { $0.isEmpty ? nil : $0 }
        let target: ConversationStatus = agentID == nil ? .open : .assigned
        return try await writer.write { db in
            let record = try ConversationRecord.load(db, orgID: orgID, id: id)
            guard record.status.canMove(to: target) else {
                throw ConversationsFailure.invalidTransition(from: record.status, to: target)
            }
            try db.execute(
                sql: "UPDATE conversation SET status = ?, assignee_id = ? WHERE id = ?",
                arguments: [target.rawValue, agentID, id])
            let updated = try ConversationRecord.load(db, orgID: orgID, id: id)
            try ConversationEvents.conversation(
                db, agentID == nil ? "conversation.unassigned" : "conversation.assigned", updated, at: now
            ) { payload in payload.set("agentId", agentID ?? record.assigneeID) }
            return updated.conversation(now: now)
        }
    }

    /// Changes the status: `RESOLVED` (resolve), `OPEN` (reopen, or hand back: clears the assignee), `BOT_ACTIVE`,
    /// `AI_ACTIVE`. `ASSIGNED` only through `assign`.
    ///
    /// Resolving records who resolved (`agentID`, else the assignee) and opens a CSAT survey when the org's
    /// settings call for one (see `Csat.open`).
    public func setStatus(
        orgID: String, id: String, status: ConversationStatus, agentID: String? = nil, now: Millis = .now()
    ) async throws -> Conversation {
        try await writer.write { db in
            let record = try ConversationRecord.load(db, orgID: orgID, id: id)
            guard status != .assigned, status != record.status, record.status.canMove(to: status) else {
                throw ConversationsFailure.invalidTransition(from: record.status, to: status)
            }
            if record.status == .resolved, record.deletedAt == nil,
                let other = try ConversationRecord.findOpen(
                    db, orgID: orgID, contactID: record.contact.id, channelID: record.channelID)
            {
                throw ConversationsFailure.openExists(other.id)
            }
            switch status {
            case .resolved:
                try ConversationRecord.resolve(db, id: id, now: now)
            case .open:
                try db.execute(
                    sql: "UPDATE conversation SET status = 'OPEN', assignee_id = NULL, resolved_at = NULL WHERE id = ?",
                    arguments: [id])
            case .botActive, .aiActive, .assigned:
                try db.execute(
                    sql: "UPDATE conversation SET status = ?, resolved_at = NULL WHERE id = ?",
                    arguments: [status.rawValue, id])
            }
            let updated = try ConversationRecord.load(db, orgID: orgID, id: id)
            switch status {
            case .resolved:
                let resolver = agentID ?? record.assigneeID
                try ConversationEvents.conversation(db, "conversation.resolved", updated, at: now) { payload in
                    payload.set("agentId", resolver)
                    payload.set("openedAt", record.createdAt)
                }
                try Csat.open(db, updated, agentID: resolver, now: now)
            case .open where record.status == .resolved:
                try ConversationEvents.conversation(db, "conversation.reopened", updated, at: now)
            case .open where record.status == .assigned:
                try ConversationEvents.conversation(db, "conversation.unassigned", updated, at: now) { payload in
                    payload.set("agentId", record.assigneeID)
                }
            default:
                try ConversationEvents.conversation(db, "conversation.status_changed", updated, at: now) { payload in
                    payload.set("previousStatus", record.status.rawValue)
                }
            }
            return updated.conversation(now: now)
        }
    }

    /// Applies a bulk action in one UPDATE to the listed ids (at most 1000; ids of another org are skipped) or to
    /// every conversation the inbox lists for `filter`. Answers how many conversations changed.
    public func bulk(
        orgID: String, action: BulkAction, ids: [String]?, filter: InboxFilter?, now: Millis = .now()
    ) async throws -> Int {
        var conditions: [String]
        var arguments: [(any DatabaseValueConvertible)?]
        if let ids {
            guard ids.count <= 1000 else { throw ConversationsFailure.tooManyIDs }
            guard !ids.isEmpty else { return 0 }
            conditions = ["org_id = ?", "id IN (" + ids.map { _ in "?" }.joined(separator: ",") + ")"]
            arguments = [orgID] + ids
        } else if let filter {
            let query = InboxQuery(orgID: orgID, filter: filter, now: now)
            conditions = query.conditions
            arguments = query.arguments
        } else {
            return 0
        }
        var verb = "UPDATE"
        let assignment: String
        switch action {
        case .markRead:
            assignment = "unread_count = 0"
            conditions.append("unread_count > 0")
        case .star:
            assignment = "starred = 1"
            conditions.append("starred = 0")
        case .unstar:
            assignment = "starred = 0"
            conditions.append("starred = 1")
        case .archive:
            assignment = "archived = 1"
            conditions.append("archived = 0")
        case .unarchive:
            assignment = "archived = 0"
            conditions.append("archived = 1")
        case .delete:
            assignment = "deleted_at = ?"
            arguments.insert(now, at: 0)
            conditions.append("deleted_at IS NULL")
        case .restore:
            // OR IGNORE skips a conversation whose contact already has another open one on the channel: restoring
            // it would break the one-open-conversation index.
            verb = "UPDATE OR IGNORE"
            assignment = "deleted_at = NULL"
            conditions.append("deleted_at >= ?")
            arguments.append(now - Self.restoreWindow)
        }
        let sql = "\(verb) conversation SET \(assignment) WHERE \(conditions.joined(separator: " AND ")) RETURNING id"
        let statementArguments = StatementArguments(arguments)
        return try await writer.write { db in
            let changed = try String.fetchAll(db, sql: sql, arguments: statementArguments)
            for id in changed {
                try ConversationEvents.conversation(db, "conversation.updated", id: id, at: now) { payload in
                    payload.set("change", action.eventChange)
                }
            }
            return changed.count
        }
    }

    /// Deletes for good the conversations (and their messages) soft-deleted before `cutoff` — pass
    /// `now - ConversationsStore.restoreWindow`. Answers how many conversations were deleted.
    public func purgeDeleted(olderThan cutoff: Millis) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: """
                    DELETE FROM message WHERE conversation_id IN
                        (SELECT id FROM conversation WHERE deleted_at IS NOT NULL AND deleted_at < ?)
                    """, arguments: [cutoff])
            try db.execute(
                sql: "DELETE FROM conversation WHERE deleted_at IS NOT NULL AND deleted_at < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    /// Forgets delivery statuses kept for messages that were never recorded (a status for a message sent by
    /// another system, or one whose send failed before it was recorded) once they are older than `cutoff`.
    public func purgePendingDeliveries(olderThan cutoff: Millis) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM pending_delivery WHERE at < ?", arguments: [cutoff])
            return db.changesCount
        }
    }
}

extension BulkAction {
    /// The `change` of the `conversation.updated` event a bulk action records.
    var eventChange: String {
        switch self {
        case .markRead: "read"
        case .star: "star"
        case .unstar: "unstar"
        case .archive: "archive"
        case .unarchive: "unarchive"
        case .delete: "delete"
        case .restore: "restore"
        }
    }
}
