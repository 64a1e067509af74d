import ContactsKit
import ConversationsKit
import Foundation
import Hummingbird
import HTTPTypes
import ServiceKit
import SwitchboardClient

/// `/api/whatsapp-api/quick-replies…`: saved messages behind a `/shortcut`, rendered with the contact's, the org's
/// and the agent's values.
struct QuickRepliesRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        let t = "Quick replies"
        registry.add(
            RouteSpec(.post, "\(p)/quick-replies", "createQuickReply", "Save a quick reply", tag: t,
                      body: .json("QuickReplyInput"), status: 201, response: "QuickReply", errors: [400, 409]),
            on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/quick-replies", "listQuickReplies", "Quick replies by shortcut (the `/` picker)",
                      tag: t, query: [("prefix", "shortcuts starting with this, e.g. /gr", false)],
                      response: "QuickReplyList"), on: group, prefix: p, list)
        registry.add(
            RouteSpec(.get, "\(p)/quick-replies/{id}", "getQuickReply", "Get a quick reply", tag: t,
                      response: "QuickReply", errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(.patch, "\(p)/quick-replies/{id}", "updateQuickReply", "Change a quick reply", tag: t,
                      body: .json("QuickReplyPatch", required: false), response: "QuickReply", errors: [400, 404, 409]),
            on: group, prefix: p, update)
        registry.add(
            RouteSpec(.delete, "\(p)/quick-replies/{id}", "deleteQuickReply", "Delete a quick reply", tag: t,
                      status: 204, errors: [404]), on: group, prefix: p, delete)
        registry.add(
            RouteSpec(
                .post, "\(p)/quick-replies/{id}/render", "renderQuickReply",
                "The text with the contact's, the org's and the calling agent's values", tag: t,
                body: .json("RenderInput", required: false), response: "Rendered", errors: [400, 404]), on: group, prefix: p, render)
    }

    static func render(_ reply: QuickReply) -> JSONValue {
        .object([
            ("id", .string(reply.id)), ("shortcut", .string(reply.shortcut)), ("content", .string(reply.content)),
            ("variables", .array(reply.variables.map(JSONValue.string))), ("createdAt", .time(reply.createdAt)),
            ("updatedAt", .time(reply.updatedAt)),
        ])
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["shortcut", "content"])
        guard let shortcut = try body.string("shortcut") else {
            throw APIError(.badRequest, "missing_field", "'shortcut' is required (e.g. /greeting)", field: "shortcut")
        }
        guard let content = try body.string("content") else {
            throw APIError(.badRequest, "missing_field", "'content' is required", field: "content")
        }
        let reply = try await deps.conversations.createQuickReply(orgID: caller.orgID, shortcut: shortcut, content: content)
        return .json(Self.render(reply), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let replies = try await deps.conversations.quickReplies(orgID: caller.orgID, prefix: request.query("prefix"))
        return .json(.object([("data", .array(replies.map(Self.render)))]))
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        return .json(
            Self.render(try await deps.conversations.quickReply(orgID: caller.orgID, id: try context.id(notFound: "quick_reply"))))
    }

    @Sendable func update(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "quick_reply")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["shortcut", "content"])
        let reply = try await deps.conversations.updateQuickReply(
            orgID: caller.orgID, id: id, shortcut: try body.string("shortcut"), content: try body.string("content"))
        return .json(Self.render(reply))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await deps.conversations.deleteQuickReply(orgID: caller.orgID, id: try context.id(notFound: "quick_reply"))
        return .noContent()
    }

    /// Gathers the values (contact from `contactId` or the conversation's contact, org, calling agent, date and time
    /// in the org's time zone) and lets conversations fill them in.
    @Sendable func render(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "quick_reply")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["contactId", "conversationId"])
        var contactID = try body.string("contactId")
        if let conversationID = try body.string("conversationId") {
            guard conversationID.count <= 64 else { throw APIError.notFound("conversation") }
            contactID = try await deps.conversations.get(orgID: caller.orgID, id: conversationID).contact.id
        }
        var values: [String: String] = [:]
        if let contactID {
            guard contactID.count <= 64 else { throw APIError.notFound("contact") }
            let contact = try await deps.contacts.get(orgID: caller.orgID, id: contactID)
            values["contact.name"] = contact.name
        }
        let org = try await deps.store.organization(id: caller.orgID)
        values["org.name"] = org?.name
        if let agentID = caller.agentID, let agent = try await deps.store.agent(orgID: caller.orgID, id: agentID) {
            values["agent.name"] = agent.name
        }
        let zone = TimeZone(identifier: org?.timeZone ?? "UTC") ?? .gmt
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: Date())
        values["date"] = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        values["time"] = String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
        let text = try await deps.conversations.renderQuickReply(orgID: caller.orgID, id: id, values: values)
        return .json(.object([("text", .string(text))]))
    }
}
