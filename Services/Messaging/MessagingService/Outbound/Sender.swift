import ContactsKit
import ConversationsKit
import Crypto
import Foundation
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
import SwiftProtobuf
import SwitchboardClient
import SwitchboardProtos

/// One send, as the API takes it.
struct SendCommand: Sendable {
    var orgID: String
    var conversationID: String?
    var contactID: String?
    var channelID: String?
    var medium: Medium?
    var idempotencyKey: String?
    var senderAgentID: String?
    var messageJSON: String
}

/// Accepts sends under the rules every send path shares — consent, the 24-hour window, templates, interactive
/// limits, what SMS can carry — and writes the outbox row; the delivery worker does the rest.
struct Sender: Sendable {
    let store: MessagingStore
    /// Contact reads, folded into one BatchGetContacts while one is in flight.
    let contacts: ContactReader<ServiceTransport>
    let conversations: ConversationsClient<ServiceTransport>
    /// Tells the delivery worker there is work.
    let wake: @Sendable (_ channelID: String) -> Void
    let logger: Logger
    /// Conversation reads and message recordings that arrive while one is in flight leave together in one call.
    let conversationReader: Batcher<ConversationKey, Conversation?>
    let recorder: Batcher<ConversationsClient<ServiceTransport>.OutboundItem, ConversationsKit.Message>
    /// Outbox writes of concurrent sends share one transaction (one commit).
    let accepting: Batcher<OutboxRow, Accepted>
    let marking: Batcher<Recorded, Void>

    struct Accepted: Sendable {
        var row: OutboxRow
        var inserted: Bool
    }

    struct Recorded: Sendable {
        var id: String
        var answer: Data
    }

    struct ConversationKey: Sendable {
        var orgID: String
        var id: String
    }

    init(
        store: MessagingStore, contacts: ContactReader<ServiceTransport>,
        conversations: ConversationsClient<ServiceTransport>, wake: @escaping @Sendable (_ channelID: String) -> Void,
        logger: Logger
    ) {
        self.store = store
        self.contacts = contacts
        self.conversations = conversations
        self.wake = wake
        self.logger = logger
        conversationReader = Batcher { keys throws(ServiceFailure) in
            try await conversations.batchGet(keys.map { (orgID: $0.orgID, id: $0.id) }).map { .success($0) }
        }
        recorder = Batcher { items throws(ServiceFailure) in try await conversations.recordOutbound(items) }
        accepting = Batcher { rows throws(ServiceFailure) in
            do {
                return try await store.accept(rows).map { .success(Accepted(row: $0.row, inserted: $0.inserted)) }
            } catch {
                throw ServiceFailure(.unavailable, "outbox_write_failed", "the send could not be stored: \(error)")
            }
        }
        marking = Batcher { rows throws(ServiceFailure) in
            do {
                try await store.markRecorded(rows.map { (id: $0.id, answer: Optional($0.answer)) })
            } catch {
                throw ServiceFailure(.unavailable, "outbox_write_failed", "\(error)")
            }
            return rows.map { _ in .success(()) }
        }
    }

    static let window: Millis = 24 * 60 * 60 * 1000

    func send(_ command: SendCommand, now: Millis = .now()) async throws -> (message: ConversationsKit.Message, replayed: Bool) {
        let content = try OutboundContent.parse(json: command.messageJSON)
        if let key = command.idempotencyKey {
            guard (1...255).contains(key.utf8.count), key.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue! >= 0x21 && $0.asciiValue! < 0x7f }) else {
                throw ServiceFailure.invalid(
                    "invalid_idempotency_key", "Idempotency-Key is 1–255 visible ASCII characters",
                    field: "Idempotency-Key")
            }
        }
        let hash = Self.hash(command, content: content)
        if let key = command.idempotencyKey,
            let existing = try await store.outbox(orgID: command.orgID, idempotencyKey: key)
        {
            return (try Self.replay(existing, hash: hash), true)
        }

        // Where to: the conversation (or the contact's), the channel, the contact.
        let conversation: Conversation?
        let contactID: String
        if let conversationID = command.conversationID {
            guard let found = try await conversationReader.submit(ConversationKey(orgID: command.orgID, id: conversationID)),
                found.deletedAt == nil
            else { throw ServiceFailure.notFound("conversation_not_found", "no such conversation") }
            conversation = found
            contactID = found.contact.id
        } else if let id = command.contactID {
            conversation = nil
            contactID = id
        } else {
            throw ServiceFailure.invalid("missing_target", "a conversation id or a contact id is required")
        }
        let channel = try await chooseChannel(command, conversation: conversation)
        let medium = channel.channel.kind.medium
        let contact = try await contacts.get(orgID: command.orgID, id: contactID)

        // The rules, before anything is stored.
        guard contact.optedIn else {
            throw ServiceFailure(
                .failedPrecondition, "contact_not_opted_in",
                "the contact has not opted in to messages (or opted out); record their consent first")
        }
        if medium == .sms, let refusal = content.smsRefusal {
            throw ServiceFailure.invalid("unsupported_on_channel", refusal, field: "type")
        }
        guard channel.channel.status == "active" else {
            throw ServiceFailure(
                .failedPrecondition, "channel_token_invalid",
                "the channel's provider refused its credentials; update the access token or auth token")
        }
        guard let phone = contact.phone else {
            throw ServiceFailure(
                .failedPrecondition, "contact_unreachable", "the contact has no phone number to send to")
        }
        let text: String
        if case .template(let send) = content {
            text = try await checkTemplate(send, orgID: command.orgID, channel: channel)
        } else {
            text = content.previewText
        }
        if content.type != "template", medium == .whatsapp {
            let lastInbound = try await lastInbound(
                orgID: command.orgID, contactID: contactID, channelID: channel.channel.id, conversation: conversation)
            if lastInbound.map({ now >= $0 + Self.window }) ?? true {
                var details: [String: String] = [:]
                if let lastInbound { details["closedAt"] = RFC3339.string(millis: lastInbound + Self.window) }
                throw ServiceFailure(
                    .failedPrecondition, "window_closed",
                    "the 24-hour window is closed (no message from the contact in the last 24 hours): send a template",
                    details: details)
            }
        }

        // Accept: the outbox row in one transaction, then the message in its conversation.
        let messageID = Identifier.make()
        let contentJSON = content.jsonText
        let snapshot = ContactSnapshot(
            id: contact.id, name: contact.name, phone: contact.phone, whatsappUsername: contact.whatsappUsername)
        var record = Switchboard_Conversations_V1_RecordOutboundRequest()
        record.orgID = command.orgID
        record.messageID = messageID
        record.conversationID = conversation?.id ?? ""
        record.contact = .init(snapshot)
        record.channelID = channel.channel.id
        record.medium = medium.rawValue
        record.type = content.type
        record.text = text
        record.contentJson = contentJSON
        record.senderAgentID = command.senderAgentID ?? ""
        let provisional = ConversationsKit.Message(
            id: messageID, orgID: command.orgID, conversationID: conversation?.id ?? "", contactID: contact.id,
            channelID: channel.channel.id, direction: .outbound, type: content.type, text: text,
            contentJSON: contentJSON, providerMessageID: nil, status: .queued, errorCode: nil, errorText: nil,
            replyToProviderID: nil, forwarded: false, sentAt: nil, recordedAt: now, statusAt: now,
            senderAgentID: command.senderAgentID)
        let row = OutboxRow(
            id: messageID, orgID: command.orgID, idempotencyKey: command.idempotencyKey, requestHash: hash,
            contactID: contact.id, channelID: channel.channel.id, recipient: phone, content: contentJSON,
            answer: try Switchboard_Conversations_V1_Message(provisional).serializedBytes(),
            recordRequest: try record.serializedBytes(), now: now)
        let accepted = try await accepting.submit(row)
        guard accepted.inserted else { return (try Self.replay(accepted.row, hash: hash), true) }
        do {
            let recorded = try await recorder.submit(
                .init(
                    orgID: command.orgID, messageID: messageID, conversationID: conversation?.id, contact: snapshot,
                    channelID: channel.channel.id, medium: medium, type: content.type, text: text,
                    contentJSON: contentJSON, senderAgentID: command.senderAgentID))
            try await marking.submit(
                Recorded(id: messageID, answer: try Switchboard_Conversations_V1_Message(recorded).serializedBytes()))
            wake(channel.channel.id)
            return (recorded, false)
        } catch {
            // Accepted all the same: the worker records it in its conversation before sending it.
            logger.warning(
                "send accepted, recording it in the conversation is left to the worker",
                metadata: ["message_id": "\(messageID)", "error": "\(error)"])
            wake(channel.channel.id)
            return (provisional, false)
        }
    }

    /// The same key answers the first answer; the same key with another request is refused.
    static func replay(_ row: OutboxRow, hash: String) throws -> ConversationsKit.Message {
        guard row.requestHash == hash else {
            throw ServiceFailure(
                .failedPrecondition, "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key for a new message")
        }
        return ConversationsKit.Message(try Switchboard_Conversations_V1_Message(serializedBytes: row.answer))
    }

    static func hash(_ command: SendCommand, content: OutboundContent) -> String {
        let canonical = [
            command.conversationID ?? "", command.contactID ?? "", command.channelID ?? "",
            command.medium?.rawValue ?? "", content.jsonText,
        ].joined(separator: "\u{1F}")
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(canonical.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The channel a message goes through: the one asked for, else the channel switcher's choice (`medium`, or
    /// the conversation's remembered reply channel), else the conversation's own.
    func chooseChannel(_ command: SendCommand, conversation: Conversation?) async throws -> StoredChannel {
        if let id = command.channelID {
            let channel = try await store.storedChannel(orgID: command.orgID, id: id)
            if let medium = command.medium, channel.channel.kind.medium != medium {
                throw ServiceFailure.invalid(
                    "invalid_channel", "channel \(id) is not a \(medium.rawValue) channel", field: "channel")
            }
            return channel
        }
        if let conversation {
            let medium = command.medium ?? conversation.replyMedium ?? conversation.medium
            if medium == conversation.medium {
                return try await store.storedChannel(orgID: command.orgID, id: conversation.channelID)
            }
            if medium == conversation.replyMedium, let id = conversation.replyChannelID,
                let channel = try? await store.storedChannel(orgID: command.orgID, id: id)
            {
                return channel
            }
            return try await firstChannel(orgID: command.orgID, medium: medium)
        }
        return try await firstChannel(orgID: command.orgID, medium: command.medium ?? .whatsapp)
    }

    /// The org's first channel of a medium; for WhatsApp a Cloud API number before the sandbox.
    func firstChannel(orgID: String, medium: Medium) async throws -> StoredChannel {
        let channels = try await store.storedChannels(orgID: orgID).filter { $0.channel.kind.medium == medium }
        guard let channel = channels.first(where: { $0.channel.kind != .sandbox }) ?? channels.first else {
            throw ServiceFailure(
                .failedPrecondition, "no_channel", "the organisation has no \(medium.rawValue) channel to send through")
        }
        return channel
    }

    /// When the contact last wrote on this channel: the conversation's, or for a contact send the latest of the
    /// contact's conversations on the channel.
    func lastInbound(orgID: String, contactID: String, channelID: String, conversation: Conversation?) async throws
        -> Millis?
    {
        if let conversation, conversation.channelID == channelID { return conversation.lastInboundAt }
        let page = try await conversations.list(
            orgID: orgID,
            filter: InboxFilter(statuses: ConversationStatus.allCases, channelID: channelID, contactID: contactID),
            cursor: nil, limit: 20)
        return page.items.compactMap(\.lastInboundAt).max()
    }

    /// The template must be registered on the channel, approved, and given exactly its parameters. Answers the
    /// body text with the parameters filled in (what the conversation shows).
    func checkTemplate(_ send: OutboundContent.TemplateSend, orgID: String, channel: StoredChannel) async throws
        -> String
    {
        guard
            let template = try await store.template(
                orgID: orgID, channelID: channel.channel.id, name: send.name, language: send.language)
        else {
            throw ServiceFailure(
                .failedPrecondition, "template_not_found",
                "no template \(send.name) (\(send.language)) is registered on this channel", field: "template.name")
        }
        guard template.status == "APPROVED" else {
            throw ServiceFailure(
                .failedPrecondition, "template_not_approved",
                "template \(send.name) (\(send.language)) is \(template.status), not APPROVED", field: "template.name")
        }
        func mismatch(_ part: String, _ expected: Int, _ got: Int) -> ServiceFailure {
            ServiceFailure(
                .failedPrecondition, "template_parameter_mismatch",
                "the template's \(part) takes \(expected) parameter(s), \(got) given",
                field: "template.parameters.\(part)")
        }
        guard send.header.count == template.headerParameters else {
            throw mismatch("header", template.headerParameters, send.header.count)
        }
        guard send.body.count == template.bodyParameters else {
            throw mismatch("body", template.bodyParameters, send.body.count)
        }
        guard send.buttons.count <= template.buttonParameters.count || send.buttons.dropFirst(template.buttonParameters.count).allSatisfy(\.isEmpty) else {
            throw mismatch("buttons", template.buttonParameters.count, send.buttons.count)
        }
        for (index, expected) in template.buttonParameters.enumerated() {
            let given = index < send.buttons.count ? send.buttons[index].count : 0
            guard given == expected else { throw mismatch("buttons[\(index)]", expected, given) }
        }
        return Self.render(template: template, parameters: send.body) ?? send.name
    }

    /// The BODY text with `{{n}}` replaced by the n-th parameter.
    static func render(template: Template, parameters: [String]) -> String? {
        guard let components = try? JSONSerialization.jsonObject(with: Data(template.componentsJSON.utf8)) as? [[String: Any]],
            var text = components.first(where: { ($0["type"] as? String)?.uppercased() == "BODY" })?["text"] as? String
        else { return nil }
        for (index, value) in parameters.enumerated().reversed() {
            text = text.replacingOccurrences(of: "{{\(index + 1)}}", with: value)
        }
        return text
    }
}

extension ChannelKind {
    /// What a conversation on this kind of channel is: the sandbox stands in for WhatsApp.
    var medium: Medium {
        switch self {
        case .whatsappCloud, .sandbox: .whatsapp
        case .twilioSMS: .sms
        }
    }
}
