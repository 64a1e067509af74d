import Foundation
import Hummingbird
import HTTPTypes
import SwitchboardClient
import ServiceKit

/// `/api/whatsapp-api/api-keys…` and `/org`: the caller's organisation and its keys.
struct AccountRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .post, "\(p)/api-keys", "createApiKey", "Create an API key (admin keys only); the key is shown once",
                tag: "API keys", body: .json("ApiKeyInput", required: false), status: 201, response: "ApiKeyCreated",
                errors: [400, 403, 404]), on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/api-keys", "listApiKeys", "The org's keys (admin only; prefix only, never the secret)",
                      tag: "API keys", response: "ApiKeyList", errors: [403]), on: group, prefix: p, list)
        registry.add(
            RouteSpec(.delete, "\(p)/api-keys/{id}", "revokeApiKey", "Revoke a key (admin keys only)",
                      tag: "API keys", status: 204, errors: [403, 404]), on: group, prefix: p, revoke)
        registry.add(
            RouteSpec(.get, "\(p)/org", "getOrganization", "The caller's organisation", tag: "Organizations",
                      response: "Organization"), on: group, prefix: p, org)
        registry.add(
            RouteSpec(
                .patch, "\(p)/org", "updateOrganization",
                "Change the organisation's settings (admin keys only): sandboxEnabled turns the sandbox on or off, timeZone sets the IANA zone of quick replies' {{date}}/{{time}}",
                tag: "Organizations", body: .json("OrganizationPatch", required: false), response: "Organization", errors: [400, 403]),
            on: group, prefix: p, updateOrg)
    }

    static func render(_ info: APIKeyInfo) -> JSONValue {
        .object([
            ("id", .string(info.id)), ("prefix", .string(info.prefix)), ("name", .string(info.name)),
            ("role", .string(info.role)), ("createdAt", .time(info.createdAt)), ("lastUsedAt", .time(info.lastUsedAt)),
            ("revokedAt", .time(info.revokedAt)), ("agentId", .string(info.agentID)),
        ])
    }

    static func renderCreated(key: String, _ info: APIKeyInfo) -> JSONValue {
        .object([
            ("id", .string(info.id)), ("key", .string(key)), ("prefix", .string(info.prefix)),
            ("name", .string(info.name)), ("role", .string(info.role)), ("createdAt", .time(info.createdAt)),
            ("agentId", .string(info.agentID)),
        ])
    }

    static func renderOrg(_ org: Organization, sandboxEnabled: Bool) -> JSONValue {
        .object([
            ("id", .string(org.id)), ("name", .string(org.name)), ("timeZone", .string(org.timeZone)),
            ("createdAt", .time(org.createdAt)), ("sandboxEnabled", .bool(sandboxEnabled)),
        ])
    }

    /// An IANA zone id Foundation knows by that very name: "UTC", one of `knownTimeZoneIdentifiers`, or an
    /// Area/Location id that Foundation resolves to itself (Linux's known list names Asia/Calcutta, not the current
    /// Asia/Kolkata). Abbreviations and offsets such as "EST" or "GMT+5" are not a place's zone and are refused.
    static func isTimeZone(_ id: String) -> Bool {
        if id == "UTC" { return true }  // Foundation names it "GMT"
        guard id.count <= 64, let zone = TimeZone(identifier: id), zone.identifier == id else { return false }
        return TimeZone.knownTimeZoneIdentifiers.contains(id) || id.contains("/")
    }

    private func requireAdmin(_ context: EdgeRequestContext) throws(APIError) -> Caller {
        let caller = try context.requireCaller()
        guard caller.isAdmin else { throw APIError(.forbidden, "forbidden", "only admin keys may manage API keys") }
        return caller
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try requireAdmin(context)
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["name", "role", "agentId"])
        let name = (try body.string("name") ?? "api key").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 100 else {
            throw APIError(.badRequest, "invalid_name", "name must be 1–100 characters", field: "name")
        }
        let role = try body.string("role") ?? "agent"
        guard role == "admin" || role == "agent" else {
            throw APIError(.badRequest, "invalid_role", "role must be admin or agent", field: "role")
        }
        let agentID = try body.string("agentId")
        let created = try await deps.store.createKey(orgID: caller.orgID, name: name, role: role, agentID: agentID)
        return .json(Self.renderCreated(key: created.key, created.info), status: .created)
    }

    /// Admins only: an agent manages no keys, and the names, roles and last use of the org's keys are theirs to know.
    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try requireAdmin(context)
        let keys = try await deps.store.keys(orgID: caller.orgID)
        return .json(.object([("data", .array(keys.map(Self.render)))]))
    }

    @Sendable func revoke(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try requireAdmin(context)
        let id = try context.id(notFound: "api_key")
        guard try await deps.store.revokeKey(orgID: caller.orgID, id: id) else {
            throw APIError.notFound("api_key")
        }
        deps.authenticator.invalidate()
        deps.events.closeStreams(ofKey: id)
        return .noContent()
    }

    @Sendable func org(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard let org = try await deps.store.organization(id: caller.orgID) else { throw APIError.notFound("organization") }
        return .json(Self.renderOrg(org, sandboxEnabled: try await deps.store.sandboxEnabled(orgID: org.id)))
    }

    @Sendable func updateOrg(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["sandboxEnabled", "timeZone"])
        // Validated before anything changes: a bad zone leaves the sandbox switch as it was too.
        let timeZone = try? body.string("timeZone")
        if body.has("timeZone") {
            guard let timeZone, Self.isTimeZone(timeZone) else {
                throw APIError(
                    .badRequest, "invalid_time_zone",
                    "'timeZone' must be an IANA time zone such as Europe/Paris or UTC", field: "timeZone")
            }
        }
        let enabled = try body.bool("sandboxEnabled")
        if let timeZone { try await deps.store.setTimeZone(orgID: caller.orgID, timeZone) }
        if let enabled {
            try await deps.store.setSandboxEnabled(orgID: caller.orgID, enabled)
        }
        guard let org = try await deps.store.organization(id: caller.orgID) else { throw APIError.notFound("organization") }
        return .json(Self.renderOrg(org, sandboxEnabled: try await deps.store.sandboxEnabled(orgID: org.id)))
    }
}

/// `/api/admin/orgs`: the operator creates organisations, each answered with its first admin key.
struct AdminRoutes {
    let deps: EdgeDependencies
    static let prefix = "/api/admin"

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = Self.prefix
        registry.add(
            RouteSpec(
                .post, "\(p)/orgs", "createOrganization", "Create an organisation and its first admin API key",
                tag: "Organizations", auth: .operatorKey, body: .json("OrganizationInput"), status: 201,
                response: "OrganizationCreated", errors: [400]), on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/orgs", "listOrganizations", "Every organisation", tag: "Organizations",
                      auth: .operatorKey, response: "OrganizationList"), on: group, prefix: p, list)
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["name", "timeZone"])
        let name = (try body.string("name") ?? "").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 200 else {
            throw APIError(.badRequest, "invalid_name", "name is required (1–200 characters)", field: "name")
        }
        let timeZone = try body.string("timeZone") ?? "UTC"
        guard TimeZone(identifier: timeZone) != nil else {
            throw APIError(
                .badRequest, "invalid_time_zone", "'\(Echo.short(timeZone))' is not an IANA time zone (e.g. Europe/Paris)",
                field: "timeZone")
        }
        let created = try await deps.store.createOrganization(name: name, timeZone: timeZone)
        return .json(
            .object([
                ("org", AccountRoutes.renderOrg(created.org, sandboxEnabled: true)),
                ("apiKey", AccountRoutes.renderCreated(key: created.key, created.keyInfo)),
            ]), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let orgs = try await deps.store.organizations()
        let disabled = try await deps.store.sandboxDisabledOrgs()
        let rendered = orgs.map { AccountRoutes.renderOrg($0, sandboxEnabled: !disabled.contains($0.id)) }
        return .json(.object([("data", .array(rendered))]))
    }
}
