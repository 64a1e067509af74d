/// Bodies of `/api/auth/…` and of an agent's invitation (docs/rest-api.md, "Authentication for people").
extension OpenAPISchemas {
    static let newPassword = OpenAPIFields.text(
        min: PasswordPolicy.minimumLength, max: PasswordPolicy.maximumLength,
        "8–128 characters (Unicode code points); not a common password, not made of the email, org name or \"switchboard\"")

    static var auth: [(String, JSONValue)] {
        let sessionFields: [(String, JSONValue)] = [("id", string()), ("createdAt", time), ("expiresAt", time)]
        return [
            (
                "LoginInput",
                object(
                    [
                        ("email", string()), ("password", string()),
                        ("orgId", string("needed when the email and password are right in several organisations")),
                    ], required: ["email", "password"])
            ),
            (
                "InviteAcceptInput",
                object(
                    [
                        ("token", OpenAPIFields.text(pattern: "^[A-Za-z0-9_-]{43}$", "the token of the invitation link")),
                        ("password", newPassword),
                    ], required: ["token", "password"])
            ),
            (
                "PasswordChangeInput",
                object(
                    [
                        ("currentPassword", string()), ("newPassword", newPassword),
                        ("endOtherSessions", .object([("type", .array(["boolean", "null"])), ("description", "default true")])),
                    ], required: ["currentPassword", "newPassword"])
            ),
            (
                "Session",
                object(
                    [
                        ("agent", ref("Agent")),
                        ("org", object([("id", string()), ("name", string()), ("timeZone", string())])),
                        ("role", enumeration(["admin", "agent"])), ("session", object(sessionFields)),
                    ], required: ["agent", "org", "role", "session"])
            ),
            (
                "SessionList",
                object(
                    [
                        (
                            "data",
                            array(
                                object(
                                    sessionFields + [
                                        ("lastSeenAt", time), ("ip", string()), ("userAgent", string()),
                                        ("current", boolean),
                                    ]))
                        )
                    ], required: ["data"])
            ),
            (
                "Invite",
                object([
                    ("url", string("<public URL>/accept-invite#token=<token>: shown once")), ("token", string()),
                    ("expiresAt", time),
                ])
            ),
        ]
    }
}
