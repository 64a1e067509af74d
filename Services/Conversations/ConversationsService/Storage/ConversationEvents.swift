import ConversationsKit
import GRDB
import ServiceKit

/// The conversations event log's payloads (docs/events.md), appended in the transaction of the change.
enum ConversationEvents {
    static func conversation(
        _ db: Database, _ type: String, _ record: ConversationRecord, at: Millis,
        _ extra: (inout EventPayload) -> Void = { _ in }
    ) throws {
        var payload = EventPayload()
        payload.set("conversationId", record.id)
        payload.set("contactId", record.contact.id)
        payload.set("channelId", record.channelID)
        payload.set("medium", record.medium.rawValue)
        payload.set("status", record.status.rawValue)
        extra(&payload)
        try EventLog.append(
            db, orgID: record.orgID, type: type, subjectID: record.id, contactID: record.contact.id, payload: payload,
            at: at)
    }

    /// `conversation.*` for the conversation as stored now.
    static func conversation(
        _ db: Database, _ type: String, id: String, at: Millis, _ extra: (inout EventPayload) -> Void = { _ in }
    ) throws {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT \(ConversationRecord.columns) FROM conversation WHERE id = ?", arguments: [id])
        else { return }
        try conversation(db, type, ConversationRecord(row: row), at: at, extra)
    }

    static func message(
        _ db: Database, _ type: String, _ message: Message, medium: Medium, at: Millis,
        _ extra: (inout EventPayload) -> Void = { _ in }
    ) throws {
        var payload = EventPayload()
        payload.set("messageId", message.id)
        payload.set("conversationId", message.conversationID)
        payload.set("contactId", message.contactID)
        payload.set("channelId", message.channelID)
        payload.set("medium", medium.rawValue)
        extra(&payload)
        try EventLog.append(
            db, orgID: message.orgID, type: type, subjectID: message.id, contactID: message.contactID, payload: payload,
            at: at)
    }

    static func received(_ db: Database, _ message: Message, medium: Medium, at: Millis) throws {
        try Self.message(db, "message.received", message, medium: medium, at: at) { payload in
            payload.set("messageType", message.type)
            payload.set("text", String(message.text.prefix(1000)))
            payload.set("providerMessageId", message.providerMessageID)
            payload.set("sentAt", message.sentAt)
        }
    }

    static func sent(_ db: Database, _ message: Message, medium: Medium, at: Millis) throws {
        try Self.message(db, "message.sent", message, medium: medium, at: at) { payload in
            payload.set("messageType", message.type)
            payload.set("text", String(message.text.prefix(1000)))
            payload.set("status", message.status.rawValue)
            payload.set("agentId", message.senderAgentID)
        }
    }

    static func status(_ db: Database, _ message: Message, at: Millis) throws {
        let medium = try String.fetchOne(
            db, sql: "SELECT medium FROM conversation WHERE id = ?", arguments: [message.conversationID]
        ).flatMap(Medium.init(rawValue:)) ?? .whatsapp
        try Self.message(db, "message.status", message, medium: medium, at: at) { payload in
            payload.set("status", message.status.rawValue)
            payload.set("errorCode", message.errorCode)
            payload.set("reason", message.failureReason)
        }
    }
}
