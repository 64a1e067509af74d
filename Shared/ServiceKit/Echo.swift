/// How an error message or a log line may quote a value a client sent: a short prefix, never the whole value.
///
/// A 20,000-character e-mail address quoted whole made an error too large for the gRPC trailers (503) and filled
/// the logs; quoted through ``short(_:limit:)`` it is its first 40 characters and its length.
public enum Echo {
    public static let limit = 40

    /// `value` itself when it has at most `limit` characters, else its first `limit` characters, `…` and the length.
    public static func short(_ value: some StringProtocol, limit: Int = Echo.limit) -> String {
        var iterator = value.makeIterator()
        var head = ""
        var count = 0
        while let character = iterator.next() {
            count += 1
            if count <= limit { head.append(character) }
        }
        guard count > limit else { return head }
        return head + "…(\(count) characters)"
    }

    /// A whole message capped at `limit` characters: the last line of defence for text that travels in gRPC
    /// trailers (a few KiB at most) or in one log line.
    public static func capped(_ message: String, limit: Int = 1_000) -> String {
        guard message.utf8.count > limit else { return message }
        return String(message.prefix(limit)) + "…"
    }
}
