/// Where a conversation stands in the inbox.
public enum ConversationStatus: String, Sendable, Equatable, Hashable, CaseIterable {
    case open = "OPEN"
    case assigned = "ASSIGNED"
    case resolved = "RESOLVED"
    case botActive = "BOT_ACTIVE"
    case aiActive = "AI_ACTIVE"

    /// The transition table of the inbox. `ASSIGNED` → `ASSIGNED` is a hand-over to another agent.
    public func canMove(to next: ConversationStatus) -> Bool {
        switch (self, next) {
        case (.open, .assigned), (.open, .botActive), (.open, .aiActive), (.open, .resolved): true
        case (.assigned, .resolved), (.assigned, .open), (.assigned, .assigned), (.assigned, .botActive),
            (.assigned, .aiActive):
            true
        case (.botActive, .open), (.botActive, .assigned), (.botActive, .aiActive), (.botActive, .resolved): true
        case (.aiActive, .open), (.aiActive, .assigned), (.aiActive, .botActive), (.aiActive, .resolved): true
        case (.resolved, .open): true
        default: false
        }
    }
}

/// The delivery status of a message: `received` for inbound; outbound moves only forward
/// `queued` → `sent` → `delivered` → `read` → `played`, or fails before it is delivered.
public enum DeliveryStatus: String, Sendable, Equatable, Hashable, CaseIterable {
    case received, queued, sent, delivered, read, played, failed

    private var rank: Int {
        switch self {
        case .received, .failed: 0
        case .queued: 1
        case .sent: 2
        case .delivered: 3
        case .read: 4
        case .played: 5
        }
    }

    /// Whether a provider status report `next` moves a message in this status forward. An older or equal status is
    /// ignored; `failed` only follows `queued` or `sent`; `received` and `failed` never change.
    public func canAdvance(to next: DeliveryStatus) -> Bool {
        switch (self, next) {
        case (.received, _), (.failed, _), (_, .received): false
        case (.queued, .failed), (.sent, .failed): true
        case (_, .failed): false
        default: next.rank > rank
        }
    }
}

/// The kind of channel a conversation runs on.
public enum Medium: String, Sendable, Equatable, Hashable, CaseIterable {
    case whatsapp
    case sms
}

public enum MessageDirection: String, Sendable, Equatable, Hashable, CaseIterable {
    case inbound
    case outbound
}

/// What a bulk request does to every conversation it selects.
public enum BulkAction: String, Sendable, Equatable, Hashable, CaseIterable {
    case markRead = "mark_read"
    case star
    case unstar
    case archive
    case unarchive
    case delete
    case restore
}
