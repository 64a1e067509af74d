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
        try await writer.write { db in Self.eachInSavepoint(db, items) { item in try Self.record(db, item, now: now) } }
    }

    /// Runs `body` for each item in its own savepoint: an item that fails is rolled back alone and answered as a
    /// failure; the others commit with the transaction.
    static func eachInSavepoint<Item, Output>(
        _ db: Database, _ items: [Item], _ body: (Item) throws -> Output
    ) -> [Result<Output, ServiceFailure>] {
        items.map { item in
            var output: Output?
            do {
                try db.inSavepoint {
                    output = try body(item)
                    return .commit
                }
            } catch let failure as ServiceFailure {
                return .failure(failure)
            } catch {
                return .failure(ServiceFailure(.internalError, "internal_error", "\(error)"))
            }
            guard let output else { return .failure(ServiceFailure(.internalError, "internal_error", "no result")) }
            return .success(output)
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
        var survey: CsatCapture?
        if let open = try ConversationRecord.findOpen(db, orgID: orgID, contactID: contact.id, channelID: channelID) {
            conversationID = open.id
            try ConversationRecord.setContact(db, id: open.id, contact: contact)
        } else if let capture = try Csat.capture(
            db, orgID: orgID, contactID: contact.id, channelID: channelID, message: inbound, now: now)
        {
            // A survey answer (or its comment) lands in the resolved conversation, which stays resolved.
            conversationID = capture.conversationID
            survey = capture
        } else {
            conversationID = try ConversationRecord.insertOpen(
                db, orgID: orgID, contact: contact, channelID: channelID, medium: item.medium, now: now)
            opened = true
            try ConversationEvents.conversation(db, "conversation.opened", id: conversationID, at: now) { payload in
                payload.set("openedBy", "inbound")
                payload.set("referral", json: inbound.referralJSON)
            }
        }
        let message = Message(
            id: Identifier.make(), orgID: orgID, conversationID: conversationID, contactID: contact.id,
            channelID: channelID, direction: .inbound, type: inbound.type, text: inbound.text,
            contentJSON: inbound.contentJSON, providerMessageID: providerID, status: .received, errorCode: nil,
            errorText: nil, replyToProviderID: inbound.replyToProviderID, forwarded: inbound.forwarded,
            sentAt: inbound.sentAt, recordedAt: now, statusAt: now, senderAgentID: nil)
        try MessageRecord.insert(db, message)
        try ConversationRecord.touch(db, id: conversationID, message: message, now: now)
        try ConversationEvents.received(db, message, medium: item.medium, at: now)
        if let survey { try Csat.record(db, survey, orgID: orgID, now: now) }
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
                try ConversationEvents.conversation(db, "conversation.resolved", id: older.id, at: now) { payload in
                    payload.set("agentId", older.assigneeID)
                    payload.set("openedAt", older.createdAt)
                }
            }
            try ConversationRecord.setContact(db, id: record.id, contact: contact)
            try db.execute(
                sql: "UPDATE message SET contact_id = ? WHERE conversation_id = ?", arguments: [contact.id, record.id])
        }
    }

    /// Records an outbound message (status `queued` or `sent`), then applies a delivery status that arrived
    /// before it for the same provider message id. With `messageID` (messaging's accepted send) it is idempotent:
    /// a second call answers the stored message. Without `conversationID` the message goes to the contact's open
    /// conversation on `channelID`, opened when there is none. A `channelID` other than the conversation's own is
    /// the channel switcher: the conversation remembers it as its reply channel.
    public func recordOutbound(_ item: OutboundRecord, now: Millis = .now()) async throws -> Message {
        guard item.status == .queued || item.status == .sent else { throw ConversationsFailure.invalidOutboundStatus }
        return try await writer.write { db in try Self.recordOutbound(db, item, now: now) }
    }

    /// Many outbound messages in one transaction, each in its own savepoint (one refused is rolled back alone).
    public func recordOutbound(_ items: [OutboundRecord], now: Millis = .now()) async throws -> [Result<Message, ServiceFailure>] {
        try await writer.write { db in
            Self.eachInSavepoint(db, items) { item in
                guard item.status == .queued || item.status == .sent else { throw ConversationsFailure.invalidOutboundStatus }
                return try Self.recordOutbound(db, item, now: now)
            }
        }
    }

    static func recordOutbound(_ db: Database, _ item: OutboundRecord, now: Millis) throws -> Message {
        let providerID = item.providerMessageID.flatMap { $0.isEmpty ? nil : $0 }
        if let id = item.messageID, let stored = try MessageRecord.find(db, orgID: item.orgID, id: id) {
            return stored
        }
        let conversation: ConversationRecord
        if let conversationID = item.conversationID {
            conversation = try ConversationRecord.load(db, orgID: item.orgID, id: conversationID)
        } else {
            guard let contact = item.contact, let channelID = item.channelID, let medium = item.medium else {
                throw ServiceFailure.invalid(
                    "invalid_outbound", "a conversation id, or a contact with a channel, is required")
            }
            if let open = try ConversationRecord.findOpen(
                db, orgID: item.orgID, contactID: contact.id, channelID: channelID)
            {
                conversation = open
            } else {
                let id = try ConversationRecord.insertOpen(
                    db, orgID: item.orgID, contact: contact, channelID: channelID, medium: medium, now: now)
                conversation = try ConversationRecord.load(db, orgID: item.orgID, id: id)
                try ConversationEvents.conversation(db, "conversation.opened", conversation, at: now) { payload in
                    payload.set("openedBy", "outbound")
                    payload.set("referral", json: nil)
                }
            }
        }
        if let providerID, let stored = try MessageRecord.find(db, orgID: item.orgID, providerMessageID: providerID) {
            throw ConversationsFailure.messageExists(stored.id)
        }
        let channelID = item.channelID ?? conversation.channelID
        var message = Message(
            id: item.messageID ?? Identifier.make(), orgID: item.orgID, conversationID: conversation.id,
            contactID: conversation.contact.id, channelID: channelID, direction: .outbound,
            type: item.type, text: item.text, contentJSON: item.contentJSON.isEmpty ? "{}" : item.contentJSON,
            providerMessageID: providerID, status: item.status, errorCode: nil, errorText: nil,
            replyToProviderID: nil, forwarded: false, sentAt: nil, recordedAt: now, statusAt: now,
            senderAgentID: item.senderAgentID.flatMap { $0.isEmpty ? nil : $0 })
        try MessageRecord.insert(db, message)
        try ConversationRecord.touch(db, id: conversation.id, message: message, now: now)
        let switched = channelID != conversation.channelID
        try db.cachedStatement(sql: "UPDATE conversation SET reply_channel_id = ?, reply_medium = ? WHERE id = ?").execute(
            arguments: [
                switched ? channelID : nil, switched ? (item.medium ?? conversation.medium).rawValue : nil,
                conversation.id,
            ])
        if let providerID, let pending = try Self.takePending(db, orgID: item.orgID, providerMessageID: providerID),
            message.status.canAdvance(to: pending.status)
        {
            message.status = pending.status
            message.statusAt = pending.at
            message.errorCode = pending.errorCode
            message.errorText = pending.errorText
            message.failureReason = pending.failureReason
            try MessageRecord.setStatus(db, message)
        }
        try ConversationEvents.sent(db, message, medium: switched ? (item.medium ?? conversation.medium) : conversation.medium, at: now)
        if message.status != item.status { try ConversationEvents.status(db, message, at: now) }
        return message
    }

    /// An outbound message in a known conversation (tests and tools).
    public func recordOutbound(
        orgID: String, conversationID: String, type: String, text: String, contentJSON: String,
        providerMessageID: String?, status: DeliveryStatus, senderAgentID: String?, now: Millis = .now()
    ) async throws -> Message {
        try await recordOutbound(
            OutboundRecord(
                orgID: orgID, conversationID: conversationID, type: type, text: text, contentJSON: contentJSON,
                providerMessageID: providerMessageID, status: status, senderAgentID: senderAgentID), now: now)
    }

    /// Delivery progress reported by messaging's worker, by message id, in one transaction. A `sent` update
    /// carries the provider's id; a status webhook that arrived for that id before it is applied then.
    /// Statuses only move forward. Answers, per update, whether the message exists.
    public func updateDeliveries(orgID: String, _ updates: [DeliveryUpdate]) async throws -> [Bool] {
        try await writer.write { db in
            try updates.map { update in
                guard var message = try MessageRecord.find(db, orgID: orgID, id: update.messageID) else { return false }
                var changed = false
                if let providerID = update.providerMessageID, message.providerMessageID == nil {
                    message.providerMessageID = providerID
                    changed = true
                }
                if message.status.canAdvance(to: update.status) {
                    message.status = update.status
                    message.statusAt = update.at
                    if update.status == .failed {
                        message.errorCode = update.errorCode
                        message.errorText = update.errorText
                        message.failureReason = update.failureReason
                    }
                    changed = true
                }
                if changed, let providerID = message.providerMessageID,
                    let pending = try Self.takePending(db, orgID: orgID, providerMessageID: providerID),
                    message.status.canAdvance(to: pending.status)
                {
                    message.status = pending.status
                    message.statusAt = pending.at
                    message.errorCode = pending.errorCode
                    message.errorText = pending.errorText
                    message.failureReason = pending.failureReason
                }
                if changed {
                    try MessageRecord.setStatus(db, message)
                    try ConversationEvents.status(db, message, at: Millis.now())
                }
                return true
            }
        }
    }

    /// Applies a provider delivery status. Statuses only move forward; one for a message not (yet) recorded is
    /// kept (the most advanced one) until `recordOutbound` records that provider id.
    public func updateDelivery(
        orgID: String, channelID: String, providerMessageID: String, status: DeliveryStatus, at: Millis,
        errorCode: String?, errorText: String?, failureReason: String? = nil
    ) async throws -> (found: Bool, changed: Bool, message: Message?) {
        try await writer.write { db in
            guard var message = try MessageRecord.find(db, orgID: orgID, providerMessageID: providerMessageID) else {
                try Self.keepPending(
                    db, orgID: orgID, channelID: channelID, providerMessageID: providerMessageID, status: status,
                    at: at, errorCode: errorCode, errorText: errorText, failureReason: failureReason)
                return (false, false, nil)
            }
            guard message.status.canAdvance(to: status) else { return (true, false, message) }
            message.status = status
            message.statusAt = at
            if status == .failed {
                message.errorCode = errorCode
                message.errorText = errorText
                message.failureReason = failureReason
            }
            try MessageRecord.setStatus(db, message)
            try ConversationEvents.status(db, message, at: Millis.now())
            return (true, true, message)
        }
    }

    struct PendingDelivery {
        var status: DeliveryStatus
        var at: Millis
        var errorCode: String?
        var errorText: String?
        var failureReason: String?
    }

    static func keepPending(
        _ db: Database, orgID: String, channelID: String, providerMessageID: String, status: DeliveryStatus,
        at: Millis, errorCode: String?, errorText: String?, failureReason: String?
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
                    (org_id, provider_message_id, channel_id, status, at, error_code, error_text, failure_reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                orgID, providerMessageID, channelID, status.rawValue, at, status == .failed ? errorCode : nil,
                status == .failed ? errorText : nil, status == .failed ? failureReason : nil,
            ])
    }

    static func takePending(_ db: Database, orgID: String, providerMessageID: String) throws -> PendingDelivery? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT status, at, error_code, error_text, failure_reason FROM pending_delivery
                    WHERE org_id = ? AND provider_message_id = ?
                    """, arguments: [orgID, providerMessageID]),
            let status = DeliveryStatus(rawValue: row[0])
        else { return nil }
        try db.execute(
            sql: "DELETE FROM pending_delivery WHERE org_id = ? AND provider_message_id = ?",
            arguments: [orgID, providerMessageID])
        return PendingDelivery(status: status, at: row[1], errorCode: row[2], errorText: row[3], failureReason: row[4])
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

/// One outbound message to record (see `ConversationsStore.recordOutbound`).
public struct OutboundRecord: Sendable {
    public var orgID: String
    public var messageID: String?
    public var conversationID: String?
    public var contact: ContactSnapshot?
    public var channelID: String?
    public var medium: Medium?
    public var type: String
    public var text: String
    public var contentJSON: String
    public var providerMessageID: String?
    public var status: DeliveryStatus
    public var senderAgentID: String?

    public init(
        orgID: String, messageID: String? = nil, conversationID: String?, contact: ContactSnapshot? = nil,
        channelID: String? = nil, medium: Medium? = nil, type: String, text: String, contentJSON: String,
        providerMessageID: String? = nil, status: DeliveryStatus = .queued, senderAgentID: String? = nil
    ) {
        self.orgID = orgID
        self.messageID = messageID
        self.conversationID = conversationID
        self.contact = contact
        self.channelID = channelID
        self.medium = medium
        self.type = type
        self.text = text
        self.contentJSON = contentJSON
        self.providerMessageID = providerMessageID
        self.status = status
        self.senderAgentID = senderAgentID
    }
}
