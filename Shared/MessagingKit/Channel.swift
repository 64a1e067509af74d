public import ServiceKit

/// What carries messages for an org: a WhatsApp Cloud API number, a Twilio account/number, or the sandbox.
public enum ChannelKind: String, Sendable, CaseIterable {
    case whatsappCloud = "whatsapp_cloud"
    case twilioSMS = "twilio_sms"
    case sandbox
}

/// One setting of a channel. Secrets are write-only: stored, used, never answered.
public enum ChannelSetting: String, Sendable, CaseIterable, Hashable {
    case name
    case phoneNumberID = "phoneNumberId"
    case displayPhoneNumber, businessAccountID = "businessAccountId"
    case accessToken, appSecret, verifyToken
    case graphAPIBaseURL = "graphApiBaseUrl"
    case graphAPIVersion = "graphApiVersion"
    case accountSID = "accountSid"
    case authToken, fromNumber
    case messagingServiceSID = "messagingServiceSid"
    case apiBaseURL = "apiBaseUrl"
    case webhookURL = "webhookUrl"
    case messagesPerSecond

    public var isSecret: Bool { [.accessToken, .appSecret, .verifyToken, .authToken].contains(self) }

    /// The kinds a setting belongs to (`name` and `messagesPerSecond` belong to every kind).
    public var kinds: Set<ChannelKind> {
        switch self {
        case .name, .messagesPerSecond: return Set(ChannelKind.allCases)
        case .phoneNumberID, .displayPhoneNumber, .businessAccountID, .accessToken, .appSecret, .verifyToken,
            .graphAPIBaseURL, .graphAPIVersion:
            return [.whatsappCloud]
        case .accountSID, .authToken, .fromNumber, .messagingServiceSID, .apiBaseURL, .webhookURL:
            return [.twilioSMS]
        }
    }
}

public struct Channel: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var kind: ChannelKind
    /// Every non-secret setting that has a value (`messagesPerSecond` as decimal text).
    public var settings: [ChannelSetting: String]
    /// The secrets that are set (their values never leave the messaging service).
    public var secretsSet: Set<ChannelSetting>
    public var status: String
    public var createdAt: Millis
    public var updatedAt: Millis

    public init(
        id: String, orgID: String, kind: ChannelKind, settings: [ChannelSetting: String],
        secretsSet: Set<ChannelSetting>, status: String, createdAt: Millis, updatedAt: Millis
    ) {
        self.id = id
        self.orgID = orgID
        self.kind = kind
        self.settings = settings
        self.secretsSet = secretsSet
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
