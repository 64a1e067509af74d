import ServiceKit
public import SwitchboardProtos

extension Switchboard_Messaging_V1_ChannelSettings {
    /// The settings present in the message (an absent optional field is "not given").
    public var values: [ChannelSetting: String] {
        var values: [ChannelSetting: String] = [:]
        if hasName { values[.name] = name }
        if hasPhoneNumberID { values[.phoneNumberID] = phoneNumberID }
        if hasDisplayPhoneNumber { values[.displayPhoneNumber] = displayPhoneNumber }
        if hasBusinessAccountID { values[.businessAccountID] = businessAccountID }
        if hasAccessToken { values[.accessToken] = accessToken }
        if hasAppSecret { values[.appSecret] = appSecret }
        if hasVerifyToken { values[.verifyToken] = verifyToken }
        if hasGraphApiBaseURL { values[.graphAPIBaseURL] = graphApiBaseURL }
        if hasGraphApiVersion { values[.graphAPIVersion] = graphApiVersion }
        if hasAccountSid { values[.accountSID] = accountSid }
        if hasAuthToken { values[.authToken] = authToken }
        if hasFromNumber { values[.fromNumber] = fromNumber }
        if hasMessagingServiceSid { values[.messagingServiceSID] = messagingServiceSid }
        if hasApiBaseURL { values[.apiBaseURL] = apiBaseURL }
        if hasWebhookURL { values[.webhookURL] = webhookURL }
        if hasMessagesPerSecond { values[.messagesPerSecond] = String(messagesPerSecond) }
        return values
    }

    public init(_ values: [ChannelSetting: String]) {
        self.init()
        for (setting, value) in values {
            switch setting {
            case .name: name = value
            case .phoneNumberID: phoneNumberID = value
            case .displayPhoneNumber: displayPhoneNumber = value
            case .businessAccountID: businessAccountID = value
            case .accessToken: accessToken = value
            case .appSecret: appSecret = value
            case .verifyToken: verifyToken = value
            case .graphAPIBaseURL: graphApiBaseURL = value
            case .graphAPIVersion: graphApiVersion = value
            case .accountSID: accountSid = value
            case .authToken: authToken = value
            case .fromNumber: fromNumber = value
            case .messagingServiceSID: messagingServiceSid = value
            case .apiBaseURL: apiBaseURL = value
            case .webhookURL: webhookURL = value
            case .messagesPerSecond: messagesPerSecond = Int32(value) ?? 0
            }
        }
    }
}

extension Channel {
    public init(_ proto: Switchboard_Messaging_V1_Channel) {
        self.init(
            id: proto.id, orgID: proto.orgID, kind: ChannelKind(rawValue: proto.kind) ?? .sandbox,
            settings: proto.settings.values,
            secretsSet: Set(proto.secretsSet.compactMap(ChannelSetting.init(rawValue:))), status: proto.status,
            createdAt: proto.createdAt.millis, updatedAt: proto.updatedAt.millis)
    }
}

extension Switchboard_Messaging_V1_Channel {
    public init(_ channel: Channel) {
        self.init()
        id = channel.id
        orgID = channel.orgID
        kind = channel.kind.rawValue
        settings = .init(channel.settings.filter { !$0.key.isSecret })
        secretsSet = channel.secretsSet.map(\.rawValue).sorted()
        status = channel.status
        createdAt = .init(millis: channel.createdAt)
        updatedAt = .init(millis: channel.updatedAt)
    }
}

extension Template {
    public init(_ proto: Switchboard_Messaging_V1_Template) {
        self.init(
            id: proto.id, orgID: proto.orgID, channelID: proto.channelID, name: proto.name, language: proto.language,
            category: proto.category, componentsJSON: proto.componentsJson, status: proto.status,
            headerParameters: Int(proto.headerParameters), bodyParameters: Int(proto.bodyParameters),
            buttonParameters: proto.buttonParameters.map(Int.init), createdAt: proto.createdAt.millis)
    }
}

extension Switchboard_Messaging_V1_Template {
    public init(_ template: Template) {
        self.init()
        id = template.id
        orgID = template.orgID
        channelID = template.channelID
        name = template.name
        language = template.language
        category = template.category
        componentsJson = template.componentsJSON
        status = template.status
        headerParameters = Int32(template.headerParameters)
        bodyParameters = Int32(template.bodyParameters)
        buttonParameters = template.buttonParameters.map(Int32.init)
        createdAt = .init(millis: template.createdAt)
    }
}
