/// Request bodies of contacts, tags, consent, rules, keys, agents and organisations, with the rules the
/// server applies (see OpenAPIFields); create and patch bodies differ where create needs fields a patch does not.
extension OpenAPISchemas {
    typealias F = OpenAPIFields

    static var contactFields: [(String, JSONValue)] {
        [
            ("phone", F.text(pattern: F.phonePattern, nullable: true, "E.164; spaces, dashes and a leading 00 are accepted too")),
            ("name", F.text(max: 200, nullable: true)),
            ("email", F.text(max: 254, pattern: F.emailPattern, nullable: true)),
            ("optedIn", F.nullableBoolean()), ("tags", .object([("type", .array(["array", "null"])), ("items", F.tag)])),
            ("attributes", F.attributes), ("whatsappUserId", F.userID), ("whatsappUsername", F.userID),
        ]
    }

    /// A contact needs a phone number or a WhatsApp user id.
    static let identity: JSONValue = .object([
        (
            "anyOf",
            .array([
                .object([
                    ("required", .array(["phone"])),
                    ("properties", .object([("phone", F.text(pattern: F.e164Pattern))])),
                ]),
                .object([
                    ("required", .array(["whatsappUserId"])),
                    ("properties", .object([("whatsappUserId", F.text(max: 128, pattern: #"^[\s\x85]*[^\s\x85]+[\s\x85]*$"#))])),
                ]),
            ])
        )
    ])

    static var inputs: [(String, JSONValue)] {
        [
            ("ContactInput", merge(object(contactFields), identity)),
            ("ContactPatch", object(contactFields)),
            (
                "TagsInput",
                object([("tags", .object([("type", "array"), ("minItems", .int(1)), ("items", F.tag)]))], required: ["tags"])
            ),
            (
                "ConsentInput",
                object(
                    [("optedIn", boolean), ("source", enumeration(["agent", "api"])), ("note", string())],
                    required: ["optedIn"])
            ),
            ("RuleInput", object(ruleFields, required: ["matchType", "keyword", "tag"])),
            ("RulePatch", object(ruleFields)),
            ("EvaluateInput", object([("text", string())], required: ["text"])),
            (
                "ApiKeyInput",
                object([
                    ("name", F.required(max: 100)), ("role", enumeration(["admin", "agent"])),
                    ("agentId", string("the agent this key acts as")),
                ])
            ),
            ("AgentInput", object(agentFields, required: ["name", "email"])),
            ("AgentPatch", object(agentFields)),
            (
                "OrganizationInput",
                object(
                    [("name", F.required(max: 200)), ("timeZone", string("IANA time zone, default UTC"))],
                    required: ["name"])
            ),
            (
                "OrganizationPatch",
                object([
                    ("sandboxEnabled", type("boolean", nullable: true, "null: unchanged")),
                    ("timeZone", timeZones),
                ])
            ),
            ("QuickReplyInput", object(quickReplyFields, required: ["shortcut", "content"])),
            ("QuickReplyPatch", object(quickReplyFields)),
            (
                "CsatSettingsInput",
                object([
                    ("enabled", boolean), ("question", F.required(max: 1024)),
                    ("templateName", F.text(max: 512, pattern: "^[a-z0-9_]*$", nullable: true, "empty or null: none")),
                    ("templateLanguage", F.text(pattern: #"^(?:[A-Za-z_\-]{2,15})?$"#, "e.g. en_US; empty for the default")),
                    ("cooldownHours", F.integer(min: 0, max: 720)),
                ])
            ),
        ]
    }

    static var ruleFields: [(String, JSONValue)] {
        [
            ("matchType", enumeration(["contains", "exact", "startsWith"])), ("keyword", F.required(max: 200)),
            ("tag", F.tag), ("enabled", F.nullableBoolean()),
        ]
    }

    static var agentFields: [(String, JSONValue)] {
        [
            ("name", F.required(max: 200)), ("email", F.text(max: 254, pattern: F.agentEmailPattern)),
            ("role", enumeration(["admin", "agent"])),
        ]
    }

    static var quickReplyFields: [(String, JSONValue)] {
        [("shortcut", F.shortcut), ("content", F.quickReplyContent)]
    }

    /// `base` with the keys of `extra` added (used to add `anyOf`/`oneOf` to an object schema).
    static func merge(_ base: JSONValue, _ extra: JSONValue) -> JSONValue {
        guard case .object(let pairs) = base, case .object(let more) = extra else { return base }
        return .object(pairs + more)
    }
}
