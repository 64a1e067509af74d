/// Request bodies whose shape depends on a discriminator: a channel's settings by `kind`, a message by `type`,
/// bulk actions on ids or a filter, templates by component, and the sandbox's simulated customer message.
enum OpenAPIChannels {
    typealias S = OpenAPISchemas
    typealias F = OpenAPIFields

    /// http(s) with a host; trimmed by the server.
    static let url = F.text(max: 2048, pattern: #"^[\s\x85]*(?:https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9\-._~/%]*)?)?[\s\x85]*$"#, nullable: true)
    static let noSpaces = F.text(max: 2048, pattern: #"^[\s\x85]*[^\s\x85]*[\s\x85]*$"#, nullable: true)
    static let free = F.text(max: 2048, nullable: true)
    static let rate = F.integer(min: 1, max: 10_000, nullable: true)

    static let whatsapp: [(String, JSONValue)] = [
        ("name", free), ("phoneNumberId", noSpaces), ("displayPhoneNumber", free), ("businessAccountId", free),
        ("accessToken", free), ("appSecret", free), ("verifyToken", free), ("graphApiBaseUrl", url),
        ("graphApiVersion", free), ("messagesPerSecond", rate),
    ]
    static let twilio: [(String, JSONValue)] = [
        ("name", free), ("accountSid", noSpaces), ("authToken", free), ("fromNumber", free),
        ("messagingServiceSid", free), ("apiBaseUrl", url), ("webhookUrl", url), ("messagesPerSecond", rate),
    ]
    static let given = F.text(max: 2048, pattern: #"^[\s\x85]*[^\s\x85]+[\s\x85]*$"#)

    /// One kind's settings; phoneNumberId (WhatsApp) or accountSid (Twilio) is required.
    static var create: JSONValue {
        .object([
            (
                "oneOf",
                .array([
                    S.object(
                        [("kind", .object([("const", "whatsapp_cloud")]))] + whatsapp.map { $0.0 == "phoneNumberId" ? ($0.0, given) : $0 },
                        required: ["kind", "phoneNumberId"]),
                    S.object(
                        [("kind", .object([("const", "twilio_sms")]))] + twilio.map { $0.0 == "accountSid" ? ($0.0, given) : $0 },
                        required: ["kind", "accountSid"]),
                ])
            ), ("description", "settings of one kind; null or blank clears a setting"),
        ])
    }

    /// Which settings apply depends on the stored channel's kind (the document cannot know it).
    static var patch: JSONValue {
        let wa = whatsapp.map { $0.0 == "phoneNumberId" ? ($0.0, given) : $0 }
        let tw = twilio.map { $0.0 == "accountSid" ? ($0.0, given) : $0 }
        return .object([("oneOf", .array([S.object(wa), S.object(tw)]))])
    }
}

enum OpenAPISends {
    typealias S = OpenAPISchemas
    typealias F = OpenAPIFields

    static let channelID = F.text(min: 1, max: 64, "contact sends: the channel to use")

    static func input(toContact: Bool) -> JSONValue {
        var common: [(String, JSONValue)] = [("channel", .object([("enum", .array(["whatsapp", "sms", .null]))]))]
        if toContact { common.append(("channelId", .object([("oneOf", .array([channelID, S.type("null")]))]))) }
        func kind(_ type: String, _ field: String, _ schema: JSONValue) -> JSONValue {
            S.object([("type", .object([("const", .string(type))])), (field, schema)] + common, required: ["type", field])
        }
        var kinds = [kind("text", "text", F.text(min: 1, max: 4096, pattern: #"[^\s\x85]"#))]
        for type in ["image", "video", "document", "audio"] { kinds.append(kind(type, "media", media(type))) }
        kinds.append(kind("template", "template", template))
        kinds.append(kind("interactive", "interactive", S.anyObject))
        return .object([("oneOf", .array(kinds))])
    }

    static func media(_ type: String) -> JSONValue {
        var fields: [(String, JSONValue)] = []
        if type != "audio" { fields.append(("caption", F.text(max: 1024, nullable: true))) }
        if type == "document" { fields.append(("filename", F.text(max: 240, nullable: true))) }
        let link = ("link", F.text(max: 2048, pattern: #"^[\s\x85]*https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9\-._~/%]*)?[\s\x85]*$"#))
        let id = ("id", F.text(min: 1, max: 256, pattern: #"^[A-Za-z0-9_\-]+$"#))
        return .object([
            ("oneOf", .array([S.object([link] + fields, required: ["link"]), S.object([id] + fields, required: ["id"])]))
        ])
    }

    static let template = S.object(
        [
            ("name", F.templateName), ("language", F.templateLanguage),
            (
                "parameters",
                S.object([
                    ("header", S.array(S.string())), ("body", S.array(S.string())),
                    ("buttons", S.array(S.array(S.string()))),
                ])
            ),
        ], required: ["name", "language"])

    /// `ids` or `filter`, not both.
    static var bulk: JSONValue {
        S.merge(
            S.object(
                [
                    ("action", S.enumeration(["mark_read", "star", "unstar", "archive", "unarchive", "delete", "restore"])),
                    ("ids", S.array(S.string())), ("filter", filter),
                ], required: ["action"]),
            .object([("oneOf", .array([.object([("required", .array(["ids"]))]), .object([("required", .array(["filter"]))])]))]))
    }

    /// The inbox filter's query parameters as JSON: each a value, a list of values or null.
    static var filter: JSONValue {
        S.object(
            ConversationsRoutes.filterParameters.map { name, _, _ in
                let one = OpenAPIParameters.query(name, repeated: false, emptyIsAbsent: false)
                let item = OpenAPIParameters.flags.contains(name) ? S.enumeration(["true", "false"]) : one
                return (name, .object([("anyOf", .array([one, S.array(item), S.type("null")]))]))
            })
    }

    /// A template registration: its BODY needs text; `{{n}}` placeholders are left out of the schema. A button's
    /// `optOut: true` marks the template's opt-out button: only on a QUICK_REPLY button with a text.
    static var templateInput: JSONValue {
        let text = F.text(max: 1024, pattern: #"^[^{]*(?:\{[^{]+)*\{?$"#)
        let optOut: JSONValue = .object([
            ("type", "boolean"),
            ("description", "true: tapping this QUICK_REPLY button opts the contact out (consent source keyword)"),
        ])
        let button = S.merge(
            S.object([("type", S.string()), ("text", S.string()), ("url", text), ("optOut", optOut)], closed: false),
            .object([
                ("if", .object([("properties", .object([("optOut", .object([("const", .bool(true))]))])), ("required", .array(["optOut"]))])),
                ("then", S.object([("type", .object([("const", "QUICK_REPLY")])), ("text", F.text(min: 1))], required: ["type", "text"], closed: false)),
            ]))
        let other = S.object(
            [
                ("type", S.enumeration(["HEADER", "FOOTER", "BUTTONS"])), ("text", text), ("format", S.string()),
                ("buttons", S.array(button)),
            ], required: ["type"], closed: false)
        let body = S.object(
            [("type", .object([("const", "BODY")])), ("text", F.text(min: 1, max: 1024, pattern: #"^[^{]*(?:\{[^{]+)*\{?$"#))],
            required: ["type", "text"], closed: false)
        let component: JSONValue = .object([("anyOf", .array([body, other]))])
        return S.object(
            [
                ("name", F.templateName), ("language", F.templateLanguage),
                ("category", S.enumeration(["MARKETING", "UTILITY", "AUTHENTICATION"])),
                ("status", S.enumeration(["APPROVED", "PENDING", "REJECTED"])),
                ("components", .object([("type", "array"), ("minItems", .int(1)), ("maxItems", .int(10)), ("items", component), ("contains", body)])),
            ], required: ["name", "language", "components"])
    }

    /// A simulated customer message: `from` (E.164) or `whatsappUserId` identifies the customer.
    static var sandbox: JSONValue {
        S.merge(
            S.object(
                [
                    ("from", F.text(pattern: #"^ *(?:\+[1-9][0-9]{1,14})? *$"#, "E.164")),
                    ("whatsappUserId", F.sandboxUserID), ("username", F.sandboxUserID), ("name", S.string()),
                    ("text", F.text(min: 1, max: 1024, pattern: #"[^\s\x85]"#, "1–4096 bytes of UTF-8")),
                    ("referral", S.nullableObject),
                    ("messageId", F.text(max: 128, pattern: #"^[!-~]*$"#, "at most 128 ASCII characters without spaces")),
                ], required: ["text"]),
            .object([
                (
                    "anyOf",
                    .array([
                        .object([("required", .array(["from"])), ("properties", .object([("from", F.text(pattern: #"^ *\+[1-9][0-9]{1,14} *$"#))]))]),
                        .object([("required", .array(["whatsappUserId"])), ("properties", .object([("whatsappUserId", F.text(min: 1))]))]),
                    ])
                )
            ]))
    }
}
