import Foundation
public import ContactsKit
import ServiceKit

extension AutoTagRule {
    static let maxKeywordLength = 200

    /// Applies an input to a rule (all three of type, keyword and tag are required on create).
    mutating func apply(_ input: AutoTagRuleInput) throws(ServiceFailure) {
        if let raw = input.matchType {
            guard let type = RuleMatchType(rawValue: raw)?.rawValue else {
                throw .invalid(
                    "invalid_match_type", "matchType must be contains, exact or startsWith", field: "matchType")
            }
            matchType = type
        }
        if let raw = input.keyword {
            let keyword = raw.trimmed
            guard !keyword.isEmpty, keyword.count <= Self.maxKeywordLength else {
                throw .invalid("invalid_keyword", "keyword must be 1–\(Self.maxKeywordLength) characters", field: "keyword")
            }
            self.keyword = keyword
        }
        if let raw = input.tag {
            guard let tag = TagName.normalize(raw) else {
                throw .invalid(
                    "invalid_tag", "'\(Echo.short(raw))' is not a valid tag (1–64 characters, no commas)", field: "tag")
            }
            self.tag = tag
        }
        if let enabled = input.enabled { self.enabled = enabled }
    }

    func matches(_ text: String) -> Bool {
        guard enabled, let type = RuleMatchType(rawValue: matchType) else { return false }
        return AutoTagMatcher.matches(type, keyword: keyword, text: text)
    }
}

/// The tags an org's rules apply to one message text, and the rules that matched.
public func evaluate(_ rules: [AutoTagRule], text: String) -> (tags: [String], ruleIDs: [String]) {
    var tags: [String] = []
    var ids: [String] = []
    for rule in rules where rule.matches(text) {
        ids.append(rule.id)
        if !tags.contains(rule.tag) { tags.append(rule.tag) }
    }
    return (tags, ids)
}
