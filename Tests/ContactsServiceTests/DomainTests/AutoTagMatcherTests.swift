import Testing

@testable import ContactsService

@Suite("Auto-tag rule matching")
struct AutoTagMatcherTests {
    @Test(
        "matches keywords case- and width-insensitively after trimming",
        arguments: [
            (RuleMatchType.contains, "price", "What is the PRICE?", true),
            (.contains, "price", "prices please", true),
            (.contains, "price", "how much is it", false),
            (.contains, "  refund  ", "I want a refund please", true),
            (.contains, "refund please", "I want a refund  please", false),
            (.contains, "été", "Bonjour, ÉTÉ promo", true),
            (.contains, "vip", "I am ＶＩＰ", true),
            (.exact, "hi", "  Hi \n", true),
            (.exact, "hi", "hi there", false),
            (.exact, "hi", "h", false),
            (.exact, "Café", "cafe\u{0301}", true),
            (.exact, "ＳＴＯＰ", "stop", true),
            (.startsWith, "order", "ORDER #123", true),
            (.startsWith, "order", "\n  order status", true),
            (.startsWith, "order", "my order", false),
            (.startsWith, "order status", "order", false),
            (.contains, "", "anything", false),
            (.contains, "", "", false),
            (.exact, "  ", "  ", false),
            (.exact, "", "", false),
            (.startsWith, "\n", "x", false),
        ]
    )
    func matching(type: RuleMatchType, keyword: String, text: String, expected: Bool) {
        #expect(AutoTagMatcher.matches(type, keyword: keyword, text: text) == expected)
    }

    @Test("an empty keyword never matches, whatever the rule type", arguments: RuleMatchType.allCases)
    func emptyKeyword(type: RuleMatchType) {
        #expect(!AutoTagMatcher.matches(type, keyword: " \t\n", text: " \t\n"))
        #expect(!AutoTagMatcher.matches(type, keyword: "", text: "hello"))
    }

    @Test("match types use their wire names")
    func wireNames() {
        #expect(RuleMatchType.allCases.map(\.rawValue) == ["contains", "exact", "startsWith"])
        #expect(RuleMatchType(rawValue: "startsWith") == .startsWith)
        #expect(RuleMatchType(rawValue: "starts_with") == nil)
    }
}
