import GRPCCore
import ConversationsKit
import GRDB
import ServiceKit

/// `message` rows: reads and writes of messages.
enum MessageRecord {
    static let columns = """
        id, org_id, conversation_id, contact_id, channel_id, direction, type, text, content_json, \
        provider_message_id, status, error_code, error_text, reply_to_provider_id, forwarded, sent_at, recorded_at, \
        status_at, sender_agent_id, failure_reason
        """

    static func message(row: Row) -> Message {
        Message(
            id: row[0], orgID: row[1], conversationID: row[2], contactID: row[3], channelID: row[4],
            direction: MessageDirection(rawValue: row[5]) ?? .inbound, type: row[6], text: row[7],
            contentJSON: row[8], providerMessageID: row[9], status: DeliveryStatus(rawValue: row[10]) ?? .received,
            errorCode: row[11], errorText: row[12], replyToProviderID: row[13], forwarded: row[14], sentAt: row[15],
            recordedAt: row[16], statusAt: row[17], senderAgentID: row[18], failureReason: row[19])
    }

    static func find(_ db: Database, orgID: String, id: String) throws -> Message? {
        let statement = try db.cachedStatement(sql: "SELECT \(columns) FROM message WHERE id = ? AND org_id = ?")
        return try Row.fetchOne(statement, arguments: [id, orgID]).map(message(row:))
    }

    static func find(_ db: Database, orgID: String, providerMessageID: String) throws -> Message? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(columns) FROM message WHERE org_id = ? AND provider_message_id = ?")
        return try Row.fetchOne(statement, arguments: [orgID, providerMessageID]).map(message(row:))
    }

    static func insert(_ db: Database, _ message: Message) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO message (\(columns)) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        try statement.execute(arguments: [
            message.id, message.orgID, message.conversationID, message.contactID, message.channelID,
            message.direction.rawValue, message.type, message.text, message.contentJSON, message.providerMessageID,
            message.status.rawValue, message.errorCode, message.errorText, message.replyToProviderID,
            message.forwarded, message.sentAt, message.recordedAt, message.statusAt, message.senderAgentID,
            message.failureReason,
        ])
    }

    static func setStatus(_ db: Database, _ message: Message) throws {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE message SET status = ?, status_at = ?, error_code = ?, error_text = ?, failure_reason = ?,
                    provider_message_id = ?
                WHERE id = ?
                """)
        try statement.execute(arguments: [
            message.status.rawValue, message.statusAt, message.errorCode, message.errorText, message.failureReason,
            message.providerMessageID, message.id,
        ])
    }
}
