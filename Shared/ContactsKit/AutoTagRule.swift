public import ServiceKit

/// A keyword rule that tags contacts whose inbound message matches it.
///
/// Precedence: every enabled rule that matches applies (there is no "first match wins"); the resulting tags
/// are distinct and listed in rule creation order.
public struct AutoTagRule: Sendable, Equatable {
    public var id: String
    public var orgID: String
    /// `contains`, `exact` or `startsWith`.
    public var matchType: String
    public var keyword: String
    public var tag: String
    public var enabled: Bool
    public var createdAt: Millis
    public var updatedAt: Millis

    public init(
        id: String, orgID: String, matchType: String, keyword: String, tag: String, enabled: Bool, createdAt: Millis,
        updatedAt: Millis
    ) {
        self.id = id
        self.orgID = orgID
        self.matchType = matchType
        self.keyword = keyword
        self.tag = tag
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct AutoTagRuleInput: Sendable {
    public var matchType: String?
    public var keyword: String?
    public var tag: String?
    public var enabled: Bool?

    public init(matchType: String? = nil, keyword: String? = nil, tag: String? = nil, enabled: Bool? = nil) {
        self.matchType = matchType
        self.keyword = keyword
        self.tag = tag
        self.enabled = enabled
    }
}
