import Foundation
import Hummingbird
import HTTPTypes
import MessagingKit
import ServiceKit
import SwitchboardClient

/// `/api/whatsapp-api/channels/{id}/templates…`: the message templates of a WhatsApp channel.
struct TemplatesRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        let t = "Templates"
        registry.add(
            RouteSpec(
                .post, "\(p)/channels/{id}/templates", "createTemplate", "Register a message template", tag: t,
                body: .json("TemplateInput"), status: 201, response: "Template", errors: [400, 403, 404, 409]),
            on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/channels/{id}/templates", "listTemplates", "A channel's templates by name", tag: t,
                      response: "TemplateList", errors: [404]), on: group, prefix: p, list)
        registry.add(
            RouteSpec(.get, "\(p)/channels/{id}/templates/{templateId}", "getTemplate", "Get a template", tag: t,
                      response: "Template", errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(.delete, "\(p)/channels/{id}/templates/{templateId}", "deleteTemplate", "Delete a template",
                      tag: t, status: 204, errors: [403, 404]), on: group, prefix: p, delete)
    }

    static func render(_ template: Template) -> JSONValue {
        .object([
            ("id", .string(template.id)), ("channelId", .string(template.channelID)), ("name", .string(template.name)),
            ("language", .string(template.language)), ("category", .string(template.category)),
            ("status", .string(template.status)), ("components", Render.rawJSON(template.componentsJSON)),
            (
                "parameters",
                .object([
                    ("header", .int(Int64(template.headerParameters))), ("body", .int(Int64(template.bodyParameters))),
                    ("buttons", .array(template.buttonParameters.map { .int(Int64($0)) })),
                ])
            ),
            ("createdAt", .time(template.createdAt)),
        ])
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let channelID = try context.id(notFound: "channel")
        let body = try JSONObject(
            body: try await request.bodyBytes(), allowed: ["name", "language", "category", "components", "status"])
        guard let name = try body.string("name") else {
            throw APIError(.badRequest, "missing_field", "'name' is required", field: "name")
        }
        guard let language = try body.string("language") else {
            throw APIError(.badRequest, "missing_field", "'language' is required (e.g. en_US)", field: "language")
        }
        guard case .array(let components)? = body.pairs["components"] else {
            throw APIError(.badRequest, "invalid_field", "'components' must be an array of components", field: "components")
        }
        let template = try await deps.messaging.createTemplate(
            orgID: caller.orgID, channelID: channelID, name: name, language: language,
            category: try body.string("category") ?? "", status: try body.string("status") ?? "",
            componentsJSON: JSONValue.array(components).serialized)
        return .json(Self.render(template), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let templates = try await deps.messaging.templates(orgID: caller.orgID, channelID: try context.id(notFound: "channel"))
        return .json(.object([("data", .array(templates.map(Self.render)))]))
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let template = try await deps.messaging.template(
            orgID: caller.orgID, channelID: try context.id(notFound: "channel"),
            id: try context.id("templateId", notFound: "template"))
        return .json(Self.render(template))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        try await deps.messaging.deleteTemplate(
            orgID: caller.orgID, channelID: try context.id(notFound: "channel"),
            id: try context.id("templateId", notFound: "template"))
        return .noContent()
    }
}
