public import ServiceKit

/// A WhatsApp message template of one channel: what may be sent when the 24-hour window is closed.
public struct Template: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var channelID: String
    public var name: String
    public var language: String
    public var category: String
    /// The components array in Meta's shape (HEADER / BODY / FOOTER / BUTTONS) as JSON text.
    public var componentsJSON: String
    public var status: String
    public var headerParameters: Int
    public var bodyParameters: Int
    public var buttonParameters: [Int]
    public var createdAt: Millis

    public init(
        id: String, orgID: String, channelID: String, name: String, language: String, category: String,
        componentsJSON: String, status: String, headerParameters: Int, bodyParameters: Int, buttonParameters: [Int],
        createdAt: Millis
    ) {
        self.id = id
        self.orgID = orgID
        self.channelID = channelID
        self.name = name
        self.language = language
        self.category = category
        self.componentsJSON = componentsJSON
        self.status = status
        self.headerParameters = headerParameters
        self.bodyParameters = bodyParameters
        self.buttonParameters = buttonParameters
        self.createdAt = createdAt
    }
}
