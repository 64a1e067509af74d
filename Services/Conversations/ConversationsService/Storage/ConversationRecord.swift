import GRPCCore
import ConversationsKit
import GRDB
import ServiceKit

/// One `conversation` row, as stored.
struct ConversationRecord: Sendable, Equatable {
    var id: String
    var orgID: String
    var contact: ContactSnapshot
    var channelID: String
    var medium: Medium
    var status: ConversationStatus
    var assigneeID: String?
    var lastActivityAt: Millis
    var lastInboundAt: Millis?
    var unreadCount: Int
    var starred: Bool
    var archived: Bool
    var lastMessage: MessagePreview?
    var createdAt: Millis
    var resolvedAt: Millis?
    var deletedAt: Millis?
    var replyChannelID: String?
    var replyMedium: Medium?
    var waitingSince: Millis?

    static let columns = """
        id, org_id, contact_id, contact_name, contact_phone, contact_wa_username, channel_id, medium, status, \
        assignee_id, last_activity_at, last_inbound_at, unread_count, starred, archived, last_message_id, \
        last_message_direction, last_message_type, last_message_text, last_message_at, created_at, resolved_at, \
        deleted_at, reply_channel_id, reply_medium, waiting_since
        """

    init(row: Row) {
        id = row[0]
        orgID = row[1]
        contact = ContactSnapshot(id: row[2], name: row[3], phone: row[4], whatsappUsername: row[5])
        channelID = row[6]
        medium = Medium(rawValue: row[7]) ?? .whatsapp
        status = ConversationStatus(rawValue: row[8]) ?? .open
        assigneeID = row[9]
        lastActivityAt = row[10]
        lastInboundAt = row[11]
        unreadCount = row[12]
        starred = row[13]
        archived = row[14]
        if let messageID: String = row[15] {
            lastMessage = MessagePreview(
                id: messageID, direction: MessageDirection(rawValue: row[16]) ?? .inbound, type: row[17],
                text: row[18], at: row[19])
        }
        createdAt = row[20]
        resolvedAt = row[21]
        deletedAt = row[22]
        replyChannelID = row[23]
        replyMedium = (row[24] as String?).flatMap(Medium.init(rawValue:))
        waitingSince = row[25]
    }

    func conversation(now: Millis) -> Conversation {
        var conversation = Conversation(
            id: id, orgID: orgID, contact: contact, channelID: channelID, medium: medium, status: status,
            assigneeID: assigneeID, lastActivityAt: lastActivityAt, lastInboundAt: lastInboundAt,
            unreadCount: unreadCount, starred: starred, archived: archived, hasWindow: medium == .whatsapp,
            window: Window.of(medium: medium, lastInboundAt: lastInboundAt, now: now), lastMessage: lastMessage,
            createdAt: createdAt, resolvedAt: resolvedAt, deletedAt: deletedAt)
        conversation.replyChannelID = replyChannelID
        conversation.replyMedium = replyMedium
        conversation.waitingSince = waitingSince
        return conversation
    }

    /// Lower-cased text that inbox searches match fragments against: name, phone, phone digits, username.
    static func searchText(_ contact: ContactSnapshot) -> String {
        var parts = [contact.name?.lowercased(), contact.phone?.lowercased(), contact.whatsappUsername?.lowercased()]
        if let digits = contact.phone?.filter(\.isASCII).filter(\.isNumber), !digits.isEmpty { parts.append(digits) }
        return parts.compactMap { $0 }.joined(separator: " ")
    }

    // MARK: statements

    static func find(_ db: Database, orgID: String, id: String) throws -> ConversationRecord? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(columns) FROM conversation WHERE id = ? AND org_id = ?")
        return try Row.fetchOne(statement, arguments: [id, orgID]).map(ConversationRecord.init(row:))
    }

    static func load(_ db: Database, orgID: String, id: String) throws -> ConversationRecord {
        guard let record = try find(db, orgID: orgID, id: id) else { throw ConversationsFailure.conversationNotFound }
        return record
    }

    /// The open conversation of a contact on a channel, if any (the trash does not count).
    static func findOpen(
        _ db: Database, orgID: String, contactID: String, channelID: String
    ) throws -> ConversationRecord? {
        let statement = try db.cachedStatement(
            sql: """
                SELECT \(columns) FROM conversation
                WHERE org_id = ? AND contact_id = ? AND channel_id = ? AND status <> 'RESOLVED' AND deleted_at IS NULL
                """)
        return try Row.fetchOne(statement, arguments: [orgID, contactID, channelID]).map(ConversationRecord.init(row:))
    }

    /// Inserts a new open conversation with no message yet.
    static func insertOpen(
        _ db: Database, orgID: String, contact: ContactSnapshot, channelID: String, medium: Medium, now: Millis
    ) throws -> String {
        let id = Identifier.make()
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO conversation (id, org_id, contact_id, contact_name, contact_phone, contact_wa_username,
                    channel_id, medium, status, last_activity_at, search, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, ?, ?)
                """)
        try statement.execute(arguments: [
            id, orgID, contact.id, contact.name, contact.phone, contact.whatsappUsername, channelID, medium.rawValue,
            now, searchText(contact), now,
        ])
        return id
    }

    /// Sets the contact snapshot (and its search text) of one conversation. Writes only when something changed, so
    /// the search index is not rewritten for every message of an unchanged contact.
    static func setContact(_ db: Database, id: String, contact: ContactSnapshot) throws {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE conversation SET contact_id = ?, contact_name = ?, contact_phone = ?, contact_wa_username = ?,
                    search = ? WHERE id = ? AND (contact_id IS NOT ? OR contact_name IS NOT ? OR contact_phone IS NOT ?
                    OR contact_wa_username IS NOT ?)
                """)
        try statement.execute(arguments: [
            contact.id, contact.name, contact.phone, contact.whatsappUsername, searchText(contact), id,
            contact.id, contact.name, contact.phone, contact.whatsappUsername,
        ])
    }

    /// Records a new last message: activity, preview, and for an inbound one the window (from when the customer
    /// wrote: the provider's timestamp, never later than its arrival), unread count and the start of the wait (kept
    /// across further inbound messages); an outbound one ends the wait.
    static func touch(_ db: Database, id: String, message: Message, now: Millis) throws {
        let inbound = message.direction == .inbound
        let statement = try db.cachedStatement(
            sql: """
                UPDATE conversation SET last_activity_at = ?,
                    last_inbound_at = CASE WHEN ? THEN max(COALESCE(last_inbound_at, 0), ?) ELSE last_inbound_at END,
                    waiting_since = CASE WHEN ? THEN COALESCE(waiting_since, ?) ELSE NULL END,
                    unread_count = unread_count + ?,
                    archived = CASE WHEN ? THEN 0 ELSE archived END,
                    last_message_id = ?, last_message_direction = ?, last_message_type = ?, last_message_text = ?,
                    last_message_at = ?
                WHERE id = ?
                """)
        try statement.execute(arguments: [
            now, inbound, min(now, message.sentAt ?? now), inbound, min(now, message.sentAt ?? now), inbound ? 1 : 0,
            inbound, message.id, message.direction.rawValue, message.type,
            message.text, now, id,
        ])
    }

    static func resolve(_ db: Database, id: String, now: Millis) throws {
        let statement = try db.cachedStatement(
            sql: "UPDATE conversation SET status = 'RESOLVED', resolved_at = ? WHERE id = ?")
        try statement.execute(arguments: [now, id])
    }
}
