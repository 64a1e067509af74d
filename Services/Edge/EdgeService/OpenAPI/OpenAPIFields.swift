/// The shapes of single fields and parameters exactly as the server validates them (lengths after trimming,
/// the characters a tag, a phone number or a shortcut may hold), so a generated client or a fuzzer sees the same
/// rules the handlers and services apply. Patterns are ECMA-262 regular expressions without look-around; their
/// whitespace is `[\s\x85]`, because the server trims U+0085 (NEL) too and ECMA's `\s` leaves it out.
enum OpenAPIFields {
    typealias S = OpenAPISchemas

    /// A string with length bounds and an optional pattern.
    static func text(
        min: Int? = nil, max: Int? = nil, pattern: String? = nil, nullable: Bool = false, _ description: String? = nil
    ) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("type", nullable ? .array(["string", "null"]) : "string")]
        if let min { pairs.append(("minLength", .int(Int64(min)))) }
        if let max { pairs.append(("maxLength", .int(Int64(max)))) }
        if let pattern { pairs.append(("pattern", .string(pattern))) }
        if let description { pairs.append(("description", .string(description))) }
        return .object(pairs)
    }

    static func integer(min: Int64, max: Int64, nullable: Bool = false) -> JSONValue {
        .object([
            ("type", nullable ? .array(["integer", "null"]) : "integer"), ("minimum", .int(min)), ("maximum", .int(max)),
        ])
    }

    static func nullableBoolean() -> JSONValue { .object([("type", .array(["boolean", "null"]))]) }

    /// Some non-whitespace, at most `max` characters (the server trims before it counts).
    static func required(max: Int, _ description: String? = nil) -> JSONValue {
        text(min: 1, max: max, pattern: #"[^\s\x85]"#, description)
    }

    /// A contact's phone: E.164 (`+`, then 2–15 digits, the first 1–9); blank or null clears it.
    static let phonePattern = #"^[\s\x85]*(?:\+[1-9][0-9]{1,14})?[\s\x85]*$"#
    /// A phone number that must be given: E.164.
    static let e164Pattern = #"^[\s\x85]*\+[1-9][0-9]{1,14}[\s\x85]*$"#
    /// One `@`, a local part of printable ASCII without `(),:;<>[]\"`, a domain of letter/digit/hyphen labels
    /// whose last label is two or more letters; blank clears.
    static let emailPattern =
        #"^[\s\x85]*(?:[!#-'*+\-./0-9=?A-Z^-~]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})?[\s\x85]*$"#
    /// An agent's email: one `@`, something before it, a dot after it, no whitespace inside.
    /// (The document asks for printable ASCII; the server also takes other characters.)
    static let agentEmailPattern = #"^[\s\x85]*[!-?A-~]+@[!-?A-~]*\.[!-?A-~]*[\s\x85]*$"#
    /// A tag: 1–64 characters once trimmed (inner whitespace collapses), no comma, no control character
    /// other than tab and line breaks.
    static let tagPattern =
        #"^[^,\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s,\x00-\x1F\x7F-\x9F][^,\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"#
    static let tag = text(min: 1, max: 64, pattern: tagPattern, "1–64 characters, no commas; stored lower-case")
    /// No whitespace inside, at most 128 characters; blank clears.
    static let userID = text(max: 128, pattern: #"^[\s\x85]*[^\s\x85]*[\s\x85]*$"#, nullable: true)
    /// The sandbox's customer identity: as `userID`, but a string (absent or "" when not given).
    static let sandboxUserID = text(max: 128, pattern: #"^[\s\x85]*[^\s\x85]*[\s\x85]*$"#)
    static let shortcut = text(
        min: 2, max: 32, pattern: #"^[\s\x85]*/[A-Za-z0-9_\-]{1,31}[\s\x85]*$"#, "'/' then 1–31 letters, digits, '-' or '_'")
    /// Text with no `{{` left open (what a quick reply's placeholders need).
    static let quickReplyContent = OpenAPISchemas.merge(
        text(
            min: 1, max: 4096, pattern: #"^[^{]*(?:\{[^{]+)*\{?$"#,
            "text with {{contact.name}}, {{contact.firstName}}, {{org.name}}, {{agent.name}}, {{date}}, {{time}}; {{x|fallback}}"),
        .object([("allOf", .array([.object([("pattern", #"[^\s\x85]"#)])]))]))
    static let templateName = text(min: 1, max: 512, pattern: #"^[ \t]*[a-z0-9_]+[ \t]*$"#, "lower-case letters, digits or '_'")
    static let templateLanguage = text(pattern: #"^[ \t]*[a-z]{2,3}(?:_[A-Z]{2})?[ \t]*$"#, "e.g. en or en_US")
    /// An id as the server issues them (anything longer than 64 characters cannot exist).
    static let id = text(min: 1, max: 64)
    /// A calendar day between 1970 and 2999 (days 29–31 are valid too; the pattern leaves them out to stay
    /// simple).
    static let day = text(
        pattern: #"^(?:(?:19[7-9][0-9]|2[0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8]))?$"#, "YYYY-MM-DD (empty: the default)")

    /// Attributes: any JSON object except the reserved `ctwa` key.
    static let attributes: JSONValue = .object([
        ("type", .array(["object", "null"])), ("maxProperties", .int(50)),
        (
            "propertyNames",
            .object([("minLength", .int(1)), ("maxLength", .int(64)), ("not", .object([("const", "ctwa")]))])
        ),
    ])
}
