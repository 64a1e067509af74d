public import ServiceKit

/// The WhatsApp customer-service window: free-form messages may be sent until 24 h after the last inbound one.
public struct Window: Sendable, Equatable {
    public static let length: Millis = 24 * 60 * 60 * 1000

    public var open: Bool
    public var expiresAt: Millis

    public init(open: Bool, expiresAt: Millis) {
        self.open = open
        self.expiresAt = expiresAt
    }

    /// The window of a conversation at `now`: nil on SMS, or before any inbound message.
    public static func of(medium: Medium, lastInboundAt: Millis?, now: Millis) -> Window? {
        guard medium == .whatsapp, let lastInboundAt else { return nil }
        let expiresAt = lastInboundAt + length
        return Window(open: now < expiresAt, expiresAt: expiresAt)
    }
}

/// What the inbox shows of the contact (a copy taken from the latest inbound message).
public struct ContactSnapshot: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var phone: String?
    public var whatsappUsername: String?

    public init(id: String, name: String? = nil, phone: String? = nil, whatsappUsername: String? = nil) {
        self.id = id
        self.name = name
        self.phone = phone
        self.whatsappUsername = whatsappUsername
    }
}

public struct MessagePreview: Sendable, Equatable {
    public var id: String
    public var direction: MessageDirection
    public var type: String
    public var text: String
    public var at: Millis

    public init(id: String, direction: MessageDirection, type: String, text: String, at: Millis) {
        self.id = id
        self.direction = direction
        self.type = type
        self.text = text
        self.at = at
    }
}

/// One conversation of the inbox: at most one is open (not `RESOLVED`) per contact and channel.
public struct Conversation: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var contact: ContactSnapshot
    public var channelID: String
    public var medium: Medium
    public var status: ConversationStatus
    public var assigneeID: String?
    public var lastActivityAt: Millis
    public var lastInboundAt: Millis?
    public var unreadCount: Int
    public var starred: Bool
    public var archived: Bool
    /// WhatsApp conversations only.
    public var hasWindow: Bool
    /// Computed at load time from `lastInboundAt` and the clock.
    public var window: Window?
    public var lastMessage: MessagePreview?
    public var createdAt: Millis
    public var resolvedAt: Millis?
    /// Set while soft-deleted (restorable for 30 days).
    public var deletedAt: Millis?
    /// The channel switcher: the channel the last outbound message went through, when not the conversation's own.
    public var replyChannelID: String?
    public var replyMedium: Medium?
    /// When the customer's oldest message with no reply after it arrived; nil once a reply went out.
    public var waitingSince: Millis?

    public init(
        id: String, orgID: String, contact: ContactSnapshot, channelID: String, medium: Medium,
        status: ConversationStatus, assigneeID: String?, lastActivityAt: Millis, lastInboundAt: Millis?,
        unreadCount: Int, starred: Bool, archived: Bool, hasWindow: Bool, window: Window?,
        lastMessage: MessagePreview?, createdAt: Millis, resolvedAt: Millis?, deletedAt: Millis?
    ) {
        self.id = id
        self.orgID = orgID
        self.contact = contact
        self.channelID = channelID
        self.medium = medium
        self.status = status
        self.assigneeID = assigneeID
        self.lastActivityAt = lastActivityAt
        self.lastInboundAt = lastInboundAt
        self.unreadCount = unreadCount
        self.starred = starred
        self.archived = archived
        self.hasWindow = hasWindow
        self.window = window
        self.lastMessage = lastMessage
        self.createdAt = createdAt
        self.resolvedAt = resolvedAt
        self.deletedAt = deletedAt
    }
}
