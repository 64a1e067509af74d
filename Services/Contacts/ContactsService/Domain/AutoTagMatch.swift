import ContactsKit
import Foundation

/// How an auto-tag rule's keyword is compared with an incoming message.
public enum RuleMatchType: String, Sendable, CaseIterable {
    /// The keyword appears anywhere in the message.
    case contains
    /// The whole message is the keyword.
    case exact
    /// The message begins with the keyword.
    case startsWith
}

/// Decides whether an incoming message triggers an auto-tag rule.
///
/// Comparison ignores case (Unicode-aware, so `ÉTÉ` matches `été`) and character width (fullwidth `ＶＩＰ`
/// matches `vip`), after trimming surrounding whitespace and line breaks from both sides. An empty keyword never
/// matches, so a half-configured rule cannot tag every contact that writes in.
public enum AutoTagMatcher {
    public static func matches(_ type: RuleMatchType, keyword: String, text: String) -> Bool {
        let keyword = fold(keyword)
        guard !keyword.isEmpty else { return false }
        let text = fold(text)
        switch type {
        case .contains:
            return text.contains(keyword)
        case .exact:
            return text == keyword
        case .startsWith:
            return text.hasPrefix(keyword)
        }
    }

    private static func fold(_ string: String) -> String {
        string.trimmed
            .folding(options: [.caseInsensitive, .widthInsensitive], locale: nil)
    }
}
