import HTTPTypes
/// Builds the OpenAPI 3.1 document served at `GET /api/openapi.json` from the route table.
enum OpenAPIDocument {
    static func build(_ specs: [RouteSpec]) -> JSONValue {
        var paths: [(String, JSONValue)] = []
        for spec in specs {
            let operation = self.operation(spec)
            let method = spec.method.rawValue.lowercased()
            if let index = paths.firstIndex(where: { $0.0 == spec.path }), case .object(var ops) = paths[index].1 {
                ops.append((method, operation))
                paths[index].1 = .object(ops)
            } else {
                paths.append((spec.path, .object([(method, operation)])))
            }
        }
        return .object([
            ("openapi", "3.1.0"),
            (
                "info",
                .object([
                    ("title", "Switchboard API"), ("version", "1.0.0"),
                    (
                        "description",
                        "Contacts and conversations for WhatsApp (Cloud API) and SMS (Twilio). Errors always have the shape {\"error\": {\"code\", \"message\", \"details\"}}."
                    ),
                ])
            ),
            ("servers", .array([.object([("url", "/")])])),
            ("paths", .object(paths)),
            (
                "components",
                .object([
                    ("schemas", .object(OpenAPISchemas.all)),
                    (
                        "securitySchemes",
                        .object([
                            ("apiKey", .object([("type", "http"), ("scheme", "bearer"), ("description", "an org API key")])),
                            (
                                "sessionCookie",
                                .object([
                                    ("type", "apiKey"), ("in", "cookie"), ("name", "__Host-sb_session"),
                                    (
                                        "description",
                                        "an agent's session (POST /api/auth/login); sb_session when the public URL is plain http to a non-loopback host. A cookie request that changes state needs Sec-Fetch-Site: same-origin (or Origin equal to the public origin) and JSON or X-Switchboard-Console: 1, else 403 csrf_refused."
                                    ),
                                ])
                            ),
                            (
                                "operatorKey",
                                .object([("type", "http"), ("scheme", "bearer"), ("description", "the operator key")])
                            ),
                        ])
                    ),
                ])
            ),
        ])
    }

    static func operation(_ spec: RouteSpec) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("operationId", .string(spec.operationID)), ("summary", .string(spec.summary)),
            ("tags", .array([.string(spec.tag)])),
        ]
        switch spec.auth {
        case .apiKey:
            pairs.append(
                ("security", .array([.object([("apiKey", .array([]))]), .object([("sessionCookie", .array([]))])])))
        case .session: pairs.append(("security", .array([.object([("sessionCookie", .array([]))])])))
        case .operatorKey: pairs.append(("security", .array([.object([("operatorKey", .array([]))])])))
        case .none: pairs.append(("security", .array([])))
        }
        var parameters: [JSONValue] = []
        var searchStart = spec.path.startIndex
        while let open = spec.path[searchStart...].firstIndex(of: "{"),
            let close = spec.path[open...].firstIndex(of: "}")
        {
            let name = String(spec.path[spec.path.index(after: open)..<close])
            parameters.append(
                .object([
                    ("name", .string(name)), ("in", "path"), ("required", true),
                    ("schema", OpenAPIParameters.path(name)),
                ]))
            searchStart = close
        }
        for query in spec.query {
            parameters.append(
                .object([
                    ("name", .string(query.name)), ("in", "query"), ("required", false),
                    ("description", .string(query.description)),
                    ("schema", OpenAPIParameters.query(query.name, repeated: query.repeated)),
                ]))
        }
        if !parameters.isEmpty { pairs.append(("parameters", .array(parameters))) }
        switch spec.body {
        case .json(let schema, let required)?:
            pairs.append(
                (
                    "requestBody",
                    .object([
                        ("required", .bool(required)),
                        ("content", .object([("application/json", .object([("schema", OpenAPISchemas.ref(schema))]))])),
                    ])
                ))
        case .csv?:
            pairs.append(
                (
                    "requestBody",
                    .object([
                        ("required", true),
                        (
                            "content",
                            .object([
                                ("text/csv", .object([("schema", OpenAPIFields.text(min: 1, pattern: #"[^\s\x85]"#, "a header row, then rows"))]))
                            ])
                        ),
                    ])
                ))
        case nil: break
        }
        var responses: [(String, JSONValue)] = []
        var success: [(String, JSONValue)] = [("description", .string(spec.status == 204 ? "no content" : "success"))]
        switch spec.response {
        case nil: break
        case "xml"?:
            success.append(("content", .object([("text/xml", .object([("schema", OpenAPISchemas.string())]))])))
        case "csv"?: success.append(("content", .object([("text/csv", .object([("schema", OpenAPISchemas.string())]))])))
        case "csv|ImportErrorList"?:  // CSV by default, JSON with ?format=json
            success.append(
                (
                    "content",
                    .object([
                        ("text/csv", .object([("schema", OpenAPISchemas.string())])),
                        ("application/json", .object([("schema", OpenAPISchemas.ref("ImportErrorList"))])),
                    ])
                ))
        case "text"?:
            success.append(("content", .object([("text/plain", .object([("schema", OpenAPISchemas.string())]))])))
        case "event-stream"?:
            success.append(
                ("content", .object([("text/event-stream", .object([("schema", OpenAPISchemas.string())]))])))
        case let schema?:
            success.append(
                ("content", .object([("application/json", .object([("schema", OpenAPISchemas.ref(schema))]))])))
        }
        for status in [spec.status] + spec.alsoStatus { responses.append((String(status), .object(success))) }
        var errors = spec.errors
        if spec.auth != .none { errors += [401, 429] }
        // A cookie request that changes state may be refused by the CSRF rule.
        if spec.auth == .apiKey || spec.auth == .session, ![.get, .head, .options].contains(spec.method) {
            errors.append(403)
        }
        if spec.body != nil { errors += [400, 413] }
        if !spec.query.isEmpty { errors.append(400) }
        for status in Set(errors).sorted() {
            responses.append(
                (
                    String(status),
                    .object([
                        ("description", .string(errorDescription(status))),
                        ("content", .object([("application/json", .object([("schema", OpenAPISchemas.ref("Error"))]))])),
                    ])
                ))
        }
        pairs.append(("responses", .object(responses)))
        return .object(pairs)
    }

    static func errorDescription(_ status: Int) -> String {
        switch status {
        case 400: "invalid input (invalid_json, invalid_field, unknown_field, invalid_query, invalid_phone, …)"
        case 401: "missing, unknown or revoked key, or no live session (unauthorized); invalid_credentials"
        case 403: "the caller's role may not do this (forbidden), or a cookie request from elsewhere (csrf_refused)"
        case 404: "no such object in the caller's organisation"
        case 409: "conflict (contact_exists, rule_exists, import_already_confirmed, org_required)"
        case 413: "payload_too_large"
        case 422: "the request is well-formed but cannot be carried out (e.g. outside the customer service window)"
        case 429:
            "rate_limited (the key's or session's request rate), too_many_auth_failures (this address) or too_many_attempts (failed sign-ins); see Retry-After"
        case 503: "a backend service is unavailable"
        default: "error"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
