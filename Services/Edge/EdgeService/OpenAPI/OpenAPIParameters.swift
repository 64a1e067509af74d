/// The schema of each query and path parameter by name. A name means the same thing on every route
/// (`limit` is always a page size of 1–200, `optedIn` always true or false), so the rule lives here once
/// instead of in every RouteSpec; names not listed are free strings.
enum OpenAPIParameters {
    typealias F = OpenAPIFields

    static let flags: Set<String> = ["optedIn", "starred", "archived", "unread", "deleted", "upsert"]

    /// A query parameter's schema. An empty value (`?upsert=`) counts as absent, so a single-valued typed
    /// parameter also allows `""`; in a bulk body's `filter` (`emptyIsAbsent: false`) it does not.
    static func query(_ name: String, repeated: Bool, emptyIsAbsent: Bool = true) -> JSONValue {
        let one: JSONValue
        switch name {
        case "limit": one = F.integer(min: 1, max: 200)
        case _ where flags.contains(name): one = OpenAPISchemas.boolean
        case "from", "to": one = F.day
        case "channel": one = OpenAPISchemas.enumeration(["whatsapp", "sms"])
        case "status": one = OpenAPISchemas.enumeration(["OPEN", "ASSIGNED", "RESOLVED", "BOT_ACTIVE", "AI_ACTIVE"])
        case "kind":
            one = OpenAPISchemas.enumeration([
                "message", "conversation", "consent", "tags", "contact", "import", "csat", "attribution",
            ])
        case "tag": one = F.tag
        case "sort": one = OpenAPISchemas.enumeration(["activity", "waiting"])
        default: one = OpenAPISchemas.string()
        }
        if repeated { return OpenAPISchemas.array(one) }
        guard emptyIsAbsent, one != OpenAPISchemas.string() else { return one }
        return .object([("anyOf", .array([one, .object([("const", "")])]))])
    }

    static func path(_ name: String) -> JSONValue {
        switch name {
        case "tag": F.tag
        default: OpenAPISchemas.string()
        }
    }
}
