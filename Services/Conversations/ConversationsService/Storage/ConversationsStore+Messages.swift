import GRPCCore
public import ConversationsKit
import GRDB
public import ServiceKit

extension ConversationsStore {
    /// Records a parsed inbound message in one transaction: deduplicated on (org, provider message id); the
    /// conversations of `mergedContactIDs` move to `contact`; the contact's open conversation on the channel is
    /// reused or a new one opened; activity, window, unread count, preview and contact snapshot are refreshed, and an
    /// archived conversation comes back to the inbox.
    public func recordInbound(
        orgID: String, channelID: String, medium: Medium, contact: ContactSnapshot, mergedContactIDs: [String],
        message inbound: InboundMessage, now: Millis = .now()
    ) async throws -> (message: Message, conversation: Conversation, duplicate: Bool, opened: Bool) {
        let item = InboundRecord(
            orgID: orgID, channelID: channelID, medium: medium, contact: contact, mergedContactIDs: mergedContactIDs,
            message: inbound)
        return try await writer.write { db in try Self.record(db, item, now: now) }
    }

    /// Records many inbound messages, in order, in one transaction (the journal processor's batches). Each has its
    /// own savepoint: one that cannot be recorded is rolled back alone and answered as a failure.
    public func recordInbound(_ items: [InboundRecord], now: Millis = .now()) async throws
        -> [Result<(message: Message, conversation: Conversation, duplicate: Bool, opened: Bool), ServiceFailure>]
    {
        try await writer.write { db in
            items.map { item in
                var recorded: (message: Message, conversation: Conversation, duplicate: Bool, opened: Bool)?
                do {
                    try db.inSavepoint {
                        recorded = try Self.record(db, item, now: now)
                        return .commit
                    }
                } catch let failure as ServiceFailure {
                    return .failure(failure)
                } catch {
                    return .failure(ServiceFailure(.internalError, "internal_error", "\(error)"))
                }
                guard let recorded else { return .failure(ServiceFailure(.internalError, "internal_error", "no result")) }
                return .success(recorded)
            }
        }
    }

    static func record(_ db: Database, _ item: InboundRecord, now: Millis) throws
        -> (message: Message, conversation: Conversation, duplicate: Bool, opened: Bool)
    {
        let (orgID, channelID, contact, inbound) = (item.orgID, item.channelID, item.contact, item.message)
        let providerID = inbound.providerMessageID.isEmpty ? nil : inbound.providerMessageID
        if let providerID, let stored = try MessageRecord.find(db, orgID: orgID, providerMessageID: providerID) {
            let conversation = try ConversationRecord.load(db, orgID: orgID, id: stored.conversationID)
            return (stored, conversation.conversation(now: now), true, false)
        }
        for mergedID in item.mergedContactIDs where mergedID != contact.id {
            try moveConversations(db, orgID: orgID, from: mergedID, to: contact, now: now)
        }
        var conversationID: String
        var opened = false
        if let open = try ConversationRecord.findOpen(db, orgID: orgID, contactID: contact.id, channelID: channelID) {
            conversationID = open.id
            try ConversationRecord.setContact(db, id: open.id, contact: contact)
        } else {
            conversationID = try ConversationRecord.insertOpen(
                db, orgID: orgID, contact: contact, channelID: channelID, medium: item.medium, now: now)
            opened = true
        }
        let message = Message(
            id: Identifier.make(), orgID: orgID, conversationID: conversationID, contactID: contact.id,
            channelID: channelID, direction: .inbound, type: inbound.type, text: inbound.text,
            contentJSON: inbound.contentJSON, providerMessageID: providerID, status: .received, errorCode: nil,
            errorText: nil, replyToProviderID: inbound.replyToProviderID, forwarded: inbound.forwarded,
            sentAt: inbound.sentAt, recordedAt: now, statusAt: now, senderAgentID: nil)
        try MessageRecord.insert(db, message)
        try ConversationRecord.touch(db, id: conversationID, message: message, now: now)
        let conversation = try ConversationRecord.load(db, orgID: orgID, id: conversationID)
        return (message, conversation.conversation(now: now), false, opened)
    }

    /// Moves every conversation of a merged contact to the surviving one. Where both have an open conversation on
    /// one channel, the older of the two is resolved first, so one stays open.
    static func moveConversations(
        _ db: Database, orgID: String, from mergedID: String, to contact: ContactSnapshot, now: Millis
    ) throws {
        let moving = try Row.fetchAll(
            db, sql: "SELECT \(ConversationRecord.columns) FROM conversation WHERE org_id = ? AND contact_id = ?",
            arguments: [orgID, mergedID]
        ).map(ConversationRecord.init(row:))
        for record in moving {
            if record.status != .resolved, record.deletedAt == nil,
                let other = try ConversationRecord.findOpen(
                    db, orgID: orgID, contactID: contact.id, channelID: record.channelID)
            {
                let older = (record.lastActivityAt, record.id) < (other.lastActivityAt, other.id) ? record : other
                try ConversationRecord.resolve(db, id: older.id, now: now)
            }
            try ConversationRecord.setContact(db, id: record.id, contact: contact)
            try db.execute(
                sql: "UPDATE message SET contact_id = ? WHERE conversation_id = ?", arguments: [contact.id, record.id])
        }
    }

    /// Records an outbound message (status `queued` or `sent`), then applies a delivery status that arrived
    /// before it for the same provider message id.
    public func recordOutbound(
        orgID: String, conversationID: String, type: String, text: String, contentJSON: String,
        providerMessageID: String?, status: DeliveryStatus, senderAgentID: String?, now: Millis = .now()
    ) async throws -> Message {
        guard status == .queued || status == .sent else { throw ConversationsFailure.invalidOutboundStatus }
        let providerID = providerMessageID.flatMap { $0.isEmpty ? nil : $0 }
        let agentID = senderAgentID.flatMap { $0.isEmpty ? nil : $0 }
        return try await writer.write { db in
            let conversation = try ConversationRecord.load(db, orgID: orgID, id: conversationID)
            if let providerID, let stored = try MessageRecord.find(db, orgID: orgID, providerMessageID: providerID) {
                throw ConversationsFailure.messageExists(stored.id)
            }
            var message = Message(
                id: Identifier.make(), orgID: orgID, conversationID: conversationID,
                contactID: conversation.contact.id, channelID: conversation.channelID, direction: .outbound,
                type: type, text: text, contentJSON: contentJSON.isEmpty ? "{}" : contentJSON,
                providerMessageID: providerID, status: status, errorCode: nil, errorText: nil, replyToProviderID: nil,
                forwarded: false, sentAt: nil, recordedAt: now, statusAt: now, senderAgentID: agentID)
            try MessageRecord.insert(db, message)
            try ConversationRecord.touch(db, id: conversationID, message: message, now: now)
            if let providerID, let pending = try Self.takePending(db, orgID: orgID, providerMessageID: providerID),
                message.status.canAdvance(to: pending.status)
            {
                message.status = pending.status
                message.statusAt = pending.at
                message.errorCode = pending.errorCode
                message.errorText = pending.errorText
                try MessageRecord.setStatus(db, message)
            }
            return message
        }
    }

    /// Applies a provider delivery status. Statuses only move forward; one for a message not (yet) recorded is
    /// kept (the most advanced one) until `recordOutbound` records that provider id.
    public func updateDelivery(
        orgID: String, channelID: String, providerMessageID: String, status: DeliveryStatus, at: Millis,
        errorCode: String?, errorText: String?
    ) async throws -> (found: Bool, changed: Bool, message: Message?) {
        try await writer.write { db in
            guard var message = try MessageRecord.find(db, orgID: orgID, providerMessageID: providerMessageID) else {
                try Self.keepPending(
                    db, orgID: orgID, channelID: channelID, providerMessageID: providerMessageID, status: status,
                    at: at, errorCode: errorCode, errorText: errorText)
                return (false, false, nil)
            }
            guard message.status.canAdvance(to: status) else { return (true, false, message) }
            message.status = status
            message.statusAt = at
            if status == .failed {
                message.errorCode = errorCode
                message.errorText = errorText
            }
            try MessageRecord.setStatus(db, message)
            return (true, true, message)
        }
    }

    struct PendingDelivery {
        var status: DeliveryStatus
        var at: Millis
        var errorCode: String?
        var errorText: String?
    }

    static func keepPending(
        _ db: Database, orgID: String, channelID: String, providerMessageID: String, status: DeliveryStatus,
        at: Millis, errorCode: String?, errorText: String?
    ) throws {
        let kept = try Row.fetchOne(
            db, sql: "SELECT status FROM pending_delivery WHERE org_id = ? AND provider_message_id = ?",
            arguments: [orgID, providerMessageID])
        // An outbound message starts queued: keep a status only if it could ever apply, and only the most advanced.
        let base = kept.flatMap { DeliveryStatus(rawValue: $0[0]) } ?? .queued
        guard base.canAdvance(to: status) else { return }
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO pending_delivery
                    (org_id, provider_message_id, channel_id, status, at, error_code, error_text)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                orgID, providerMessageID, channelID, status.rawValue, at, status == .failed ? errorCode : nil,
                status == .failed ? errorText : nil,
            ])
    }

    static func takePending(_ db: Database, orgID: String, providerMessageID: String) throws -> PendingDelivery? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT status, at, error_code, error_text FROM pending_delivery
                    WHERE org_id = ? AND provider_message_id = ?
                    """, arguments: [orgID, providerMessageID]),
            let status = DeliveryStatus(rawValue: row[0])
        else { return nil }
        try db.execute(
            sql: "DELETE FROM pending_delivery WHERE org_id = ? AND provider_message_id = ?",
            arguments: [orgID, providerMessageID])
        return PendingDelivery(status: status, at: row[1], errorCode: row[2], errorText: row[3])
    }
}

/// One inbound message to record, with where it came from and whose it is.
public struct InboundRecord: Sendable {
    public var orgID: String
    public var channelID: String
    public var medium: Medium
    public var contact: ContactSnapshot
    public var mergedContactIDs: [String]
    public var message: InboundMessage

    public init(
        orgID: String, channelID: String, medium: Medium, contact: ContactSnapshot, mergedContactIDs: [String],
        message: InboundMessage
    ) {
        self.orgID = orgID
        self.channelID = channelID
        self.medium = medium
        self.contact = contact
        self.mergedContactIDs = mergedContactIDs
        self.message = message
    }
}
