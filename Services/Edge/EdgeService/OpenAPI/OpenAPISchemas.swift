import Foundation
/// JSON Schema (2020-12, as OpenAPI 3.1 uses it) of every body edge reads or writes.
enum OpenAPISchemas {
    static func ref(_ name: String) -> JSONValue { .object([("$ref", .string("#/components/schemas/\(name)"))]) }
    static func type(_ name: String, nullable: Bool = false, format: String? = nil, _ description: String? = nil)
        -> JSONValue
    {
        var pairs: [(String, JSONValue)] = [
            ("type", nullable ? .array([.string(name), .string("null")]) : .string(name))
        ]
        if let format { pairs.append(("format", .string(format))) }
        if let description { pairs.append(("description", .string(description))) }
        return .object(pairs)
    }
    static func string(nullable: Bool = false, format: String? = nil, _ description: String? = nil) -> JSONValue {
        type("string", nullable: nullable, format: format, description)
    }
    static let time = string(nullable: true, format: "date-time")
    static func array(_ items: JSONValue) -> JSONValue { .object([("type", "array"), ("items", items)]) }
    static func object(_ properties: [(String, JSONValue)], required: [String] = [], closed: Bool = true) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("type", "object"), ("properties", .object(properties))]
        if !required.isEmpty { pairs.append(("required", .array(required.map(JSONValue.string)))) }
        if closed { pairs.append(("additionalProperties", .bool(false))) }
        return .object(pairs)
    }
    static func list(_ item: String) -> JSONValue {
        object([("data", array(ref(item))), ("nextCursor", string(nullable: true))], required: ["data"])
    }
    /// The IANA zones `PATCH /org` accepts (other ids are 400 invalid_time_zone).
    static var timeZones: JSONValue {
        let zones = (["UTC"] + TimeZone.knownTimeZoneIdentifiers).filter(AccountRoutes.isTimeZone)
        return .object([
            ("type", "string"), ("enum", .array(zones.map(JSONValue.string))),
            ("description", "an IANA time zone such as Europe/Paris or UTC; else 400 invalid_time_zone"),
        ])
    }
    static func enumeration(_ values: [String]) -> JSONValue {
        .object([("type", "string"), ("enum", .array(values.map(JSONValue.string)))])
    }

    static let actor = object([("kind", string()), ("id", string()), ("name", string())])
    static let proof = object([
        ("timestamp", time), ("actor", actor), ("importJobId", string(nullable: true)),
        ("messageId", string(nullable: true)), ("note", string(nullable: true)),
    ])

    static var all: [(String, JSONValue)] {
        [
            (
                "Error",
                object(
                    [
                        (
                            "error",
                            object(
                                [
                                    ("code", string("stable machine code, e.g. invalid_phone")),
                                    ("message", string()), ("details", .object([("type", "object")])),
                                ], required: ["code", "message", "details"])
                        )
                    ], required: ["error"])
            ),
            (
                "Contact",
                object([
                    ("id", string()), ("phone", string(nullable: true, "E.164")),
                    ("whatsappUserId", string(nullable: true)), ("whatsappUsername", string(nullable: true)),
                    ("name", string(nullable: true)), ("email", string(nullable: true)), ("tags", array(string())),
                    ("attributes", .object([("type", "object")])), ("optedIn", type("boolean")),
                    ("optInSource", string(nullable: true)),
                    ("optInProof", .object([("oneOf", .array([proof, type("null")]))])), ("createdAt", time),
                    ("updatedAt", time),
                ])
            ),
            ("ContactList", list("Contact")),
            (
                "TagList",
                object([("data", array(object([("tag", string()), ("count", type("integer"))])))], required: ["data"])
            ),
            (
                "ConsentList",
                object(
                    [
                        (
                            "data",
                            array(
                                object([
                                    ("id", string()), ("optedIn", type("boolean")), ("source", string()),
                                    ("proof", proof), ("recordedAt", time),
                                ]))
                        )
                    ], required: ["data"])
            ),
            (
                "AuditEntry",
                object([
                    ("id", string()), ("action", string()), ("actor", actor), ("at", time),
                    ("changes", .object([("type", "object")])),
                ])
            ),
            ("AuditList", list("AuditEntry")),
            (
                "Rule",
                object([
                    ("id", string()), ("matchType", enumeration(["contains", "exact", "startsWith"])),
                    ("keyword", string()), ("tag", string()), ("enabled", type("boolean")), ("createdAt", time),
                    ("updatedAt", time),
                ])
            ),
            ("RuleList", object([("data", array(ref("Rule")))], required: ["data"])),
            ("EvaluateResult", object([("tags", array(string())), ("matchedRuleIds", array(string()))])),
            (
                "ImportJob",
                object([
                    ("id", string()),
                    ("status", enumeration(["uploaded", "queued", "processing", "completed", "failed"])),
                    ("fileName", string()), ("sizeBytes", type("integer")), ("totalRows", type("integer")),
                    ("processedRows", type("integer")), ("created", type("integer")), ("updated", type("integer")),
                    ("unchanged", type("integer")), ("failed", type("integer")),
                    (
                        "preview",
                        object([
                            ("headers", array(string())), ("rows", array(array(string()))),
                            ("suggestedMapping", .object([("type", "object")])),
                        ])
                    ), ("mapping", .object([("type", "object")])), ("createdAt", time), ("startedAt", time),
                    ("finishedAt", time), ("error", string(nullable: true)),
                ])
            ),
            (
                "ImportJobSummary",
                object([
                    ("id", string()),
                    ("status", enumeration(["uploaded", "queued", "processing", "completed", "failed"])),
                    ("fileName", string()), ("sizeBytes", type("integer")), ("totalRows", type("integer")),
                    ("processedRows", type("integer")), ("created", type("integer")), ("updated", type("integer")),
                    ("unchanged", type("integer")), ("failed", type("integer")), ("createdAt", time),
                    ("startedAt", time), ("finishedAt", time), ("error", string(nullable: true)),
                ])
            ),
            ("ImportJobList", list("ImportJobSummary")),
            (
                "ConfirmImportInput",
                object([
                    (
                        "mapping",
                        .object([
                            ("type", "object"),
                            (
                                "description",
                                "header → field: phone, name, email, tags, optedIn, whatsappUserId, attribute:<key>, ignore"
                            ),
                        ])
                    )
                ])
            ),
            (
                "ApiKey",
                object([
                    ("id", string()), ("prefix", string()), ("name", string()),
                    ("role", enumeration(["admin", "agent"])), ("createdAt", time), ("lastUsedAt", time),
                    ("revokedAt", time), ("agentId", string(nullable: true)),
                ])
            ),
            (
                "ApiKeyCreated",
                object([
                    ("id", string()), ("key", string("the secret, shown only in this answer")), ("prefix", string()),
                    ("name", string()), ("role", string()), ("createdAt", time), ("agentId", string(nullable: true)),
                ])
            ),
            ("ApiKeyList", object([("data", array(ref("ApiKey")))], required: ["data"])),
            (
                "Organization",
                object([
                    ("id", string()), ("name", string()), ("timeZone", string()), ("createdAt", time),
                    ("sandboxEnabled", type("boolean")),
                ])
            ),
            ("OrganizationCreated", object([("org", ref("Organization")), ("apiKey", ref("ApiKeyCreated"))])),
            ("OrganizationList", object([("data", array(ref("Organization")))], required: ["data"])),
            (
                "Health",
                object([
                    ("status", enumeration(["ok", "unavailable"])),
                    ("services", .object([("type", "object"), ("additionalProperties", string())])),
                ])
            ),
        ] + inbox + inputs + auth
    }
}
