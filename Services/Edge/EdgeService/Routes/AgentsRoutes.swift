import Foundation
import Hummingbird
import HTTPTypes
import ServiceKit

/// `/api/whatsapp-api/agents…`: the people who answer conversations.
struct AgentsRoutes {
    let deps: EdgeDependencies
    static let fields: Set<String> = ["name", "email", "role"]

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(.post, "\(p)/agents", "createAgent", "Add an agent", tag: "Agents", body: .json("AgentInput"),
                      status: 201, response: "Agent", errors: [400, 403, 409]), on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/agents", "listAgents", "The org's agents, oldest first", tag: "Agents",
                      response: "AgentList"), on: group, prefix: p, list)
        registry.add(
            RouteSpec(.get, "\(p)/agents/{id}", "getAgent", "Get an agent", tag: "Agents", response: "Agent",
                      errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(.patch, "\(p)/agents/{id}", "updateAgent", "Change an agent", tag: "Agents",
                      body: .json("AgentPatch", required: false), response: "Agent", errors: [400, 403, 404, 409]),
            on: group, prefix: p, update)
        registry.add(
            RouteSpec(.delete, "\(p)/agents/{id}", "deleteAgent", "Remove an agent (ends their sessions)",
                      tag: "Agents", status: 204, errors: [403, 404]), on: group, prefix: p, delete)
        registry.add(
            RouteSpec(.post, "\(p)/agents/{id}/invite", "inviteAgent",
                      "A one-time link (24 h) to set the agent's password: invitation or reset; voids the previous one",
                      tag: "Agents", status: 201, response: "Invite", errors: [403, 404]), on: group, prefix: p, invite)
        registry.add(
            RouteSpec(.delete, "\(p)/agents/{id}/sessions", "endAgentSessions",
                      "End every session of the agent (and their event streams)", tag: "Agents", status: 204,
                      errors: [403, 404]), on: group, prefix: p, endSessions)
    }

    static func render(_ agent: Agent) -> JSONValue {
        .object([
            ("id", .string(agent.id)), ("name", .string(agent.name)), ("email", .string(agent.email)),
            ("role", .string(agent.role)), ("createdAt", .time(agent.createdAt)), ("updatedAt", .time(agent.updatedAt)),
        ])
    }

    /// The validated fields present in a body.
    static func input(_ object: JSONObject) throws(APIError) -> (name: String?, email: String?, role: String?) {
        let name = try object.string("name")?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name, name.isEmpty || name.count > 200 {
            throw APIError(.badRequest, "invalid_name", "name must be 1–200 characters", field: "name")
        }
        let email = try object.string("email")?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if let email, !isEmail(email) {
            throw APIError(.badRequest, "invalid_email", "'\(Echo.short(email))' is not a valid email address", field: "email")
        }
        let role = try object.string("role")
        if let role, role != "admin", role != "agent" {
            throw APIError(.badRequest, "invalid_role", "role must be admin or agent", field: "role")
        }
        return (name, email, role)
    }

    /// One `@`, something before it, a dot after it, no whitespace, at most 254 characters.
    static func isEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && email.count <= 254
            && !email.contains(where: \.isWhitespace)
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let fields = try Self.input(try JSONObject(body: try await request.bodyBytes(), allowed: Self.fields))
        guard let name = fields.name else {
            throw APIError(.badRequest, "missing_field", "'name' is required", field: "name")
        }
        guard let email = fields.email else {
            throw APIError(.badRequest, "missing_field", "'email' is required", field: "email")
        }
        let agent = try await deps.store.createAgent(orgID: caller.orgID, name: name, email: email, role: fields.role ?? "agent")
        return .json(Self.render(agent), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        return .json(.object([("data", .array(try await deps.store.agents(orgID: caller.orgID).map(Self.render)))]))
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard let agent = try await deps.store.agent(orgID: caller.orgID, id: try context.id(notFound: "agent")) else {
            throw APIError.notFound("agent")
        }
        return .json(Self.render(agent))
    }

    @Sendable func update(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let id = try context.id(notFound: "agent")
        let fields = try Self.input(try JSONObject(body: try await request.bodyBytes(), allowed: Self.fields))
        let before = try await deps.store.agent(orgID: caller.orgID, id: id)
        let agent = try await deps.store.updateAgent(
            orgID: caller.orgID, id: id, name: fields.name, email: fields.email, role: fields.role)
        // A new role ends the agent's sessions (the store did) and their event streams.
        if let before, before.role != agent.role { deps.events.closeStreams(ofAgent: id) }
        return .json(Self.render(agent))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        let id = try context.id(notFound: "agent")
        try await deps.store.deleteAgent(orgID: caller.orgID, id: id)
        // Its sessions ended with it; its keys keep working without the agent: their streams reconnect as such.
        deps.events.closeStreams(ofAgent: id)
        return .noContent()
    }

    @Sendable func invite(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        let id = try context.id(notFound: "agent")
        let token = SessionToken.make()
        guard let expiresAt = try await deps.store.createInvite(orgID: caller.orgID, agentID: id, token: token) else {
            throw APIError.notFound("agent")
        }
        var response = Response.json(
            .object([
                ("url", .string(Self.inviteURL(publicURL: deps.publicURL, token: token))), ("token", .string(token)),
                ("expiresAt", .time(expiresAt)),
            ]), status: .created)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Where the console sets the password: the token in the fragment never reaches a server log.
    static func inviteURL(publicURL: String, token: String) -> String { "\(publicURL)/accept-invite#token=\(token)" }

    @Sendable func endSessions(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        let id = try context.id(notFound: "agent")
        guard try await deps.store.agent(orgID: caller.orgID, id: id) != nil else { throw APIError.notFound("agent") }
        for session in try await deps.store.endSessions(agentID: id) {
            deps.events.closeStreams(ofKey: PeopleAuth.streamKey(session))
        }
        return .noContent()
    }
}
