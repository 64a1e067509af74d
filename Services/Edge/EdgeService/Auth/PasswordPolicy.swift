import Foundation

/// What a new password must be (NIST SP 800-63B): 8–128 characters (Unicode code points after NFC), no composition
/// rules, not one of the 10,000 most common passwords (`common-passwords.txt`, compared case-insensitively), and not
/// built from the words of its context: the email, its local part, the org's name and "switchboard". A password is
/// refused as `context` when removing those words (case-insensitively) leaves fewer than 8 characters.
public enum PasswordPolicy {
    public static let minimumLength = 8
    public static let maximumLength = 128

    /// Why a password is refused: `details.reason` of 400 `weak_password`.
    public enum Weakness: String, Sendable {
        case tooShort = "too_short"
        case tooLong = "too_long"
        case common
        case context

        var message: String {
            switch self {
            case .tooShort: "the password must have at least \(PasswordPolicy.minimumLength) characters"
            case .tooLong: "the password may have at most \(PasswordPolicy.maximumLength) characters"
            case .common: "this password is one of the most common passwords; choose another"
            case .context: "the password must not be made of your email, the organisation's name or \"switchboard\""
            }
        }
    }

    /// Why `password` is refused, or nil when it is acceptable.
    public static func weakness(of password: String, email: String, orgName: String) -> Weakness? {
        let normalized = password.precomposedStringWithCanonicalMapping
        let length = normalized.unicodeScalars.count
        if length < minimumLength { return .tooShort }
        if length > maximumLength { return .tooLong }
        let lowered = normalized.lowercased()
        if CommonPasswords.list.contains(lowered) { return .common }
        var rest = lowered
        for word in contextWords(email: email, orgName: orgName) {
            rest = rest.replacingOccurrences(of: word, with: "")
        }
        if rest.unicodeScalars.count < minimumLength { return .context }
        return nil
    }

    /// The words a password must not be built from, longest first (so the email goes before its local part).
    static func contextWords(email: String, orgName: String) -> [String] {
        let email = email.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        let org = orgName.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        var words: Set<String> = ["switchboard", email, org, org.filter { !$0.isWhitespace }]
        if let local = email.split(separator: "@").first { words.insert(String(local)) }
        for word in org.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) where word.count >= 4 {
            words.insert(String(word))
        }
        return words.filter { $0.count >= 3 }.sorted { $0.count > $1.count }
    }
}

/// The committed list of common passwords (a resource of EdgeService).
enum CommonPasswords {
    static let list: Set<String> = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("common-passwords.txt is missing from EdgeService's resources") }
        return Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { $0.lowercased() })
    }()
}
