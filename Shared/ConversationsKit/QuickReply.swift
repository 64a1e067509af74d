public import ServiceKit

/// A saved message an agent inserts with its `/shortcut`; `{{variables}}` are filled in when it is used.
public struct QuickReply: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var shortcut: String
    public var content: String
    /// The variables the content uses, in order of first use.
    public var variables: [String]
    public var createdAt: Millis
    public var updatedAt: Millis

    public init(
        id: String, orgID: String, shortcut: String, content: String, variables: [String], createdAt: Millis,
        updatedAt: Millis
    ) {
        self.id = id
        self.orgID = orgID
        self.shortcut = shortcut
        self.content = content
        self.variables = variables
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
