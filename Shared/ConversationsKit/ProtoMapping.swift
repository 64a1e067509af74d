public import ServiceKit
import SwiftProtobuf
public import SwitchboardProtos

// Conversations domain ⇄ protobuf, both directions, used by the service and its typed client.

extension Switchboard_Conversations_V1_ContactSnapshot {
    public init(_ contact: ContactSnapshot) {
        self.init()
        id = contact.id
        name = contact.name ?? ""
        phone = contact.phone ?? ""
        whatsappUsername = contact.whatsappUsername ?? ""
    }
}

extension ContactSnapshot {
    public init(_ proto: Switchboard_Conversations_V1_ContactSnapshot) {
        self.init(
            id: proto.id, name: proto.name.nonEmpty, phone: proto.phone.nonEmpty,
            whatsappUsername: proto.whatsappUsername.nonEmpty)
    }
}

extension Switchboard_Conversations_V1_Conversation {
    public init(_ conversation: Conversation) {
        self.init()
        id = conversation.id
        orgID = conversation.orgID
        contact = .init(conversation.contact)
        channelID = conversation.channelID
        medium = conversation.medium.rawValue
        status = conversation.status.rawValue
        assigneeID = conversation.assigneeID ?? ""
        lastActivityAt = .init(millis: conversation.lastActivityAt)
        if let at = conversation.lastInboundAt { lastInboundAt = .init(millis: at) }
        unreadCount = Int32(clamping: conversation.unreadCount)
        starred = conversation.starred
        archived = conversation.archived
        hasWindow_p = conversation.window != nil
        if let window = conversation.window {
            self.window = .with {
                $0.open = window.open
                $0.expiresAt = .init(millis: window.expiresAt)
            }
        }
        if let preview = conversation.lastMessage {
            lastMessage = .with {
                $0.id = preview.id
                $0.direction = preview.direction.rawValue
                $0.type = preview.type
                $0.text = preview.text
                $0.at = .init(millis: preview.at)
            }
        }
        createdAt = .init(millis: conversation.createdAt)
        if let at = conversation.resolvedAt { resolvedAt = .init(millis: at) }
        if let at = conversation.deletedAt { deletedAt = .init(millis: at) }
        replyChannelID = conversation.replyChannelID ?? ""
        replyMedium = conversation.replyMedium?.rawValue ?? ""
        if let at = conversation.waitingSince { waitingSince = .init(millis: at) }
    }
}

extension Conversation {
    public init(_ proto: Switchboard_Conversations_V1_Conversation) {
        self.init(
            id: proto.id, orgID: proto.orgID, contact: ContactSnapshot(proto.contact), channelID: proto.channelID,
            medium: Medium(rawValue: proto.medium) ?? .whatsapp, status: ConversationStatus(rawValue: proto.status) ?? .open,
            assigneeID: proto.assigneeID.nonEmpty, lastActivityAt: proto.lastActivityAt.millis,
            lastInboundAt: proto.hasLastInboundAt ? proto.lastInboundAt.millis : nil, unreadCount: Int(proto.unreadCount),
            starred: proto.starred, archived: proto.archived, hasWindow: proto.hasWindow_p,
            window: proto.hasWindow_p && proto.hasWindow ? Window(open: proto.window.open, expiresAt: proto.window.expiresAt.millis) : nil,
            lastMessage: proto.hasLastMessage
                ? MessagePreview(
                    id: proto.lastMessage.id, direction: MessageDirection(rawValue: proto.lastMessage.direction) ?? .inbound,
                    type: proto.lastMessage.type, text: proto.lastMessage.text, at: proto.lastMessage.at.millis) : nil,
            createdAt: proto.createdAt.millis, resolvedAt: proto.hasResolvedAt ? proto.resolvedAt.millis : nil,
            deletedAt: proto.hasDeletedAt ? proto.deletedAt.millis : nil)
        replyChannelID = proto.replyChannelID.nonEmpty
        replyMedium = Medium(rawValue: proto.replyMedium)
        waitingSince = proto.hasWaitingSince ? proto.waitingSince.millis : nil
    }
}

extension Switchboard_Conversations_V1_Message {
    public init(_ message: Message) {
        self.init()
        id = message.id
        orgID = message.orgID
        conversationID = message.conversationID
        contactID = message.contactID
        channelID = message.channelID
        direction = message.direction.rawValue
        type = message.type
        text = message.text
        contentJson = message.contentJSON
        providerMessageID = message.providerMessageID ?? ""
        status = message.status.rawValue
        errorCode = message.errorCode ?? ""
        errorText = message.errorText ?? ""
        replyToProviderID = message.replyToProviderID ?? ""
        forwarded = message.forwarded
        if let at = message.sentAt { sentAt = .init(millis: at) }
        recordedAt = .init(millis: message.recordedAt)
        statusAt = .init(millis: message.statusAt)
        senderAgentID = message.senderAgentID ?? ""
        failureReason = message.failureReason ?? ""
    }
}

extension Message {
    public init(_ proto: Switchboard_Conversations_V1_Message) {
        self.init(
            id: proto.id, orgID: proto.orgID, conversationID: proto.conversationID, contactID: proto.contactID,
            channelID: proto.channelID, direction: MessageDirection(rawValue: proto.direction) ?? .inbound,
            type: proto.type, text: proto.text, contentJSON: proto.contentJson.isEmpty ? "{}" : proto.contentJson,
            providerMessageID: proto.providerMessageID.nonEmpty,
            status: DeliveryStatus(rawValue: proto.status) ?? .received, errorCode: proto.errorCode.nonEmpty,
            errorText: proto.errorText.nonEmpty, replyToProviderID: proto.replyToProviderID.nonEmpty,
            forwarded: proto.forwarded, sentAt: proto.hasSentAt ? proto.sentAt.millis : nil,
            recordedAt: proto.recordedAt.millis, statusAt: proto.statusAt.millis,
            senderAgentID: proto.senderAgentID.nonEmpty, failureReason: proto.failureReason.nonEmpty)
    }
}

extension Switchboard_Conversations_V1_InboundMessage {
    public init(_ message: InboundMessage) {
        self.init()
        providerMessageID = message.providerMessageID
        type = message.type
        text = message.text
        contentJson = message.contentJSON
        if let at = message.sentAt { sentAt = .init(millis: at) }
        replyToProviderID = message.replyToProviderID ?? ""
        forwarded = message.forwarded
        referralJson = message.referralJSON ?? ""
    }
}

extension InboundMessage {
    public init(_ proto: Switchboard_Conversations_V1_InboundMessage) {
        self.init(
            providerMessageID: proto.providerMessageID, type: proto.type, text: proto.text,
            contentJSON: proto.contentJson.isEmpty ? "{}" : proto.contentJson,
            sentAt: proto.hasSentAt ? proto.sentAt.millis : nil, replyToProviderID: proto.replyToProviderID.nonEmpty,
            forwarded: proto.forwarded, referralJSON: proto.referralJson.nonEmpty)
    }
}

extension Switchboard_Conversations_V1_InboxFilter {
    public init(_ filter: InboxFilter) {
        self.init()
        statuses = filter.statuses.map(\.rawValue)
        switch filter.assignee {
        case .agent(let id)?: assignee = id
        case .unassigned?: assignee = "unassigned"
        case nil: break
        }
        medium = filter.medium?.rawValue ?? ""
        channelID = filter.channelID ?? ""
        if let value = filter.starred { starred = value }
        if let value = filter.archived { archived = value }
        if let value = filter.unread { unread = value }
        query = filter.query ?? ""
        contactID = filter.contactID ?? ""
        deleted = filter.deleted
    }
}

extension InboxFilter {
    /// The domain filter; an unknown status or medium is refused (INVALID_ARGUMENT `invalid_filter`).
    public init(_ proto: Switchboard_Conversations_V1_InboxFilter) throws(ServiceFailure) {
        var statuses: [ConversationStatus] = []
        for raw in proto.statuses {
            guard let status = ConversationStatus(rawValue: raw) else {
                throw .invalid("invalid_filter", "unknown status '\(raw)'", field: "status")
            }
            statuses.append(status)
        }
        var medium: Medium?
        if !proto.medium.isEmpty {
            guard let value = Medium(rawValue: proto.medium) else {
                throw .invalid("invalid_filter", "unknown channel '\(proto.medium)'", field: "channel")
            }
            medium = value
        }
        self.init(
            statuses: statuses,
            assignee: proto.assignee.isEmpty ? nil : proto.assignee == "unassigned" ? .unassigned : .agent(proto.assignee),
            medium: medium, channelID: proto.channelID.nonEmpty, starred: proto.hasStarred ? proto.starred : nil,
            archived: proto.hasArchived ? proto.archived : nil, unread: proto.hasUnread ? proto.unread : nil,
            query: proto.query.nonEmpty, contactID: proto.contactID.nonEmpty, deleted: proto.deleted)
    }
}

extension Switchboard_Conversations_V1_QuickReply {
    public init(_ reply: QuickReply) {
        self.init()
        id = reply.id
        orgID = reply.orgID
        shortcut = reply.shortcut
        content = reply.content
        variables = reply.variables
        createdAt = .init(millis: reply.createdAt)
        updatedAt = .init(millis: reply.updatedAt)
    }
}

extension QuickReply {
    public init(_ proto: Switchboard_Conversations_V1_QuickReply) {
        self.init(
            id: proto.id, orgID: proto.orgID, shortcut: proto.shortcut, content: proto.content, variables: proto.variables,
            createdAt: proto.createdAt.millis, updatedAt: proto.updatedAt.millis)
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

extension Switchboard_Conversations_V1_DeliveryUpdate {
    public init(_ update: DeliveryUpdate) {
        self.init()
        messageID = update.messageID
        status = update.status.rawValue
        providerMessageID = update.providerMessageID ?? ""
        at = .init(millis: update.at)
        errorCode = update.errorCode ?? ""
        errorText = update.errorText ?? ""
        failureReason = update.failureReason ?? ""
    }
}

extension DeliveryUpdate {
    /// nil when the status is not one a delivery can report.
    public init?(_ proto: Switchboard_Conversations_V1_DeliveryUpdate) {
        guard let status = DeliveryStatus(rawValue: proto.status), status != .received, status != .queued,
            !proto.messageID.isEmpty
        else { return nil }
        self.init(
            messageID: proto.messageID, status: status, providerMessageID: proto.providerMessageID.nonEmpty,
            at: proto.hasAt ? proto.at.millis : .now(), errorCode: proto.errorCode.nonEmpty,
            errorText: proto.errorText.nonEmpty, failureReason: proto.failureReason.nonEmpty)
    }
}
