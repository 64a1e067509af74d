public import ServiceKit

/// The minimum strength of a key an operator configures (`SWITCHBOARD_OPERATOR_KEY`,
/// `SWITCHBOARD_BOOTSTRAP_API_KEY`): edge refuses to start with a weaker one.
///
/// At least 32 characters (at most 200, the longest bearer token edge reads), no whitespace, at least 10 distinct
/// characters, and no character making up more than a quarter of the key. The README's example
/// `sb_demo_0123456789abcdef0123456789abcdef` passes; `aaaa…` or `abcabcabc…` do not.
public enum ConfiguredKeyStrength {
    public static let minimumLength = 32
    static let minimumDistinct = 10

    /// Why `key` is too weak, or nil when it is strong enough.
    public static func weakness(of key: String) -> String? {
        let characters = Array(key)
        guard characters.count >= minimumLength else {
            return "it has \(characters.count) characters; at least \(minimumLength) are required"
        }
        guard characters.count <= 200 else { return "it is longer than 200 characters" }
        guard !characters.contains(where: \.isWhitespace) else { return "it contains whitespace" }
        var counts: [Character: Int] = [:]
        for character in characters { counts[character, default: 0] += 1 }
        guard counts.count >= minimumDistinct else {
            return "it repeats a few characters (\(counts.count) distinct; at least \(minimumDistinct) are required)"
        }
        guard let most = counts.values.max(), most * 4 <= characters.count else {
            return "one character makes up more than a quarter of it"
        }
        return nil
    }

    /// Throws a clear startup error when the variable is set to a weak key.
    static func require(_ key: String?, variable: String) throws(WeakKeyError) {
        guard let key, let weakness = weakness(of: key) else { return }
        throw WeakKeyError(variable: variable, weakness: weakness)
    }
}

/// A configured key below ``ConfiguredKeyStrength``; its text names the variable, never the value.
public struct WeakKeyError: ConfigurationProblem, CustomStringConvertible {
    public var variable: String
    public var weakness: String
    public var description: String {
        "\(variable) is too weak: \(weakness). Use a random key, e.g. `openssl rand -hex 24`."
    }
}
