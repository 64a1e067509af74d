public import ServiceKit

/// One message of a conversation, inbound or outbound, with its delivery status.
public struct Message: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var conversationID: String
    public var contactID: String
    public var channelID: String
    public var direction: MessageDirection
    /// text, image, video, audio, voice, document, sticker, location, contacts, button, interactive, reaction,
    /// template, unsupported
    public var type: String
    /// Body, caption or reply title: what a preview or a search shows.
    public var text: String
    /// The type's fields as a JSON object.
    public var contentJSON: String
    public var providerMessageID: String?
    public var status: DeliveryStatus
    public var errorCode: String?
    public var errorText: String?
    public var replyToProviderID: String?
    public var forwarded: Bool
    /// The provider's timestamp.
    public var sentAt: Millis?
    public var recordedAt: Millis
    public var statusAt: Millis
    public var senderAgentID: String?
    /// Why a failed outbound message failed (window_closed, undeliverable, template_error, token_invalid,
    /// opted_out, invalid_number, provider_unavailable, provider_error).
    public var failureReason: String?

    public init(
        id: String, orgID: String, conversationID: String, contactID: String, channelID: String,
        direction: MessageDirection, type: String, text: String, contentJSON: String, providerMessageID: String?,
        status: DeliveryStatus, errorCode: String?, errorText: String?, replyToProviderID: String?, forwarded: Bool,
        sentAt: Millis?, recordedAt: Millis, statusAt: Millis, senderAgentID: String?, failureReason: String? = nil
    ) {
        self.failureReason = failureReason
        self.id = id
        self.orgID = orgID
        self.conversationID = conversationID
        self.contactID = contactID
        self.channelID = channelID
        self.direction = direction
        self.type = type
        self.text = text
        self.contentJSON = contentJSON
        self.providerMessageID = providerMessageID
        self.status = status
        self.errorCode = errorCode
        self.errorText = errorText
        self.replyToProviderID = replyToProviderID
        self.forwarded = forwarded
        self.sentAt = sentAt
        self.recordedAt = recordedAt
        self.statusAt = statusAt
        self.senderAgentID = senderAgentID
    }
}

/// A parsed inbound message as the messaging service hands it over.
public struct InboundMessage: Sendable, Equatable {
    public var providerMessageID: String
    public var type: String
    public var text: String
    public var contentJSON: String
    /// The provider's timestamp.
    public var sentAt: Millis?
    public var replyToProviderID: String?
    public var forwarded: Bool
    /// The Click-to-WhatsApp referral it carried, a JSON object (`attributes.ctwa` names), or nil.
    public var referralJSON: String?

    public init(
        providerMessageID: String, type: String, text: String, contentJSON: String = "{}", sentAt: Millis? = nil,
        replyToProviderID: String? = nil, forwarded: Bool = false, referralJSON: String? = nil
    ) {
        self.referralJSON = referralJSON
        self.providerMessageID = providerMessageID
        self.type = type
        self.text = text
        self.contentJSON = contentJSON
        self.sentAt = sentAt
        self.replyToProviderID = replyToProviderID
        self.forwarded = forwarded
    }
}

/// What the inbox lists. Archived conversations are hidden unless `archived` is given; `deleted` lists the
/// restorable trash instead of the inbox.
/// The order of an inbox page.
public enum InboxSort: String, Sendable, Equatable, CaseIterable {
    /// Newest activity first (the default).
    case activity
    /// Only the conversations whose customer waits for a reply, the longest-waiting first (FIFO).
    case waiting
}

public struct InboxFilter: Sendable, Equatable {
    public enum Assignee: Sendable, Equatable {
        case agent(String)
        case unassigned
    }

    public var statuses: [ConversationStatus]
    public var assignee: Assignee?
    public var medium: Medium?
    public var channelID: String?
    public var starred: Bool?
    public var archived: Bool?
    public var unread: Bool?
    /// A fragment of the contact's name or phone.
    public var query: String?
    public var contactID: String?
    public var deleted: Bool

    public init(
        statuses: [ConversationStatus] = [], assignee: Assignee? = nil, medium: Medium? = nil,
        channelID: String? = nil, starred: Bool? = nil, archived: Bool? = nil, unread: Bool? = nil,
        query: String? = nil, contactID: String? = nil, deleted: Bool = false
    ) {
        self.statuses = statuses
        self.assignee = assignee
        self.medium = medium
        self.channelID = channelID
        self.starred = starred
        self.archived = archived
        self.unread = unread
        self.query = query
        self.contactID = contactID
        self.deleted = deleted
    }
}

/// Delivery progress of an accepted outbound message, as messaging's worker reports it.
public struct DeliveryUpdate: Sendable, Equatable {
    public var messageID: String
    public var status: DeliveryStatus
    public var providerMessageID: String?
    public var at: Millis
    public var errorCode: String?
    public var errorText: String?
    public var failureReason: String?

    public init(
        messageID: String, status: DeliveryStatus, providerMessageID: String? = nil, at: Millis,
        errorCode: String? = nil, errorText: String? = nil, failureReason: String? = nil
    ) {
        self.messageID = messageID
        self.status = status
        self.providerMessageID = providerMessageID
        self.at = at
        self.errorCode = errorCode
        self.errorText = errorText
        self.failureReason = failureReason
    }
}
