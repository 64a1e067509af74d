import ContactsKit
import Hummingbird
import HTTPTypes
import SwitchboardClient

/// `/api/whatsapp-api/auto-tag-rules…`: keyword rules that tag contacts from their inbound messages.
struct RulesRoutes {
    let deps: EdgeDependencies
    static let fields: Set<String> = ["matchType", "keyword", "tag", "enabled"]

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .post, "\(p)/auto-tag-rules", "createRule", "Create an auto-tag rule", tag: "Auto-tagging",
                body: .json("RuleInput"), status: 201, response: "Rule", errors: [400, 409]), on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/auto-tag-rules", "listRules", "The org's rules, oldest first", tag: "Auto-tagging",
                      response: "RuleList"), on: group, prefix: p, list)
        registry.add(
            RouteSpec(
                .post, "\(p)/auto-tag-rules/evaluate", "evaluateRules",
                "The tags the enabled rules would apply to a message (every matching rule applies)",
                tag: "Auto-tagging", body: .json("EvaluateInput"), response: "EvaluateResult", errors: [400]),
            on: group, prefix: p, evaluate)
        registry.add(
            RouteSpec(.get, "\(p)/auto-tag-rules/{id}", "getRule", "Get a rule", tag: "Auto-tagging", response: "Rule",
                      errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(
                .patch, "\(p)/auto-tag-rules/{id}", "updateRule", "Change a rule", tag: "Auto-tagging",
                body: .json("RulePatch", required: false), response: "Rule", errors: [400, 404, 409]), on: group, prefix: p, update)
        registry.add(
            RouteSpec(.delete, "\(p)/auto-tag-rules/{id}", "deleteRule", "Delete a rule", tag: "Auto-tagging",
                      status: 204, errors: [404]), on: group, prefix: p, delete)
    }

    static func input(_ body: [UInt8]) throws(APIError) -> AutoTagRuleInput {
        let object = try JSONObject(body: body, allowed: fields)
        return AutoTagRuleInput(
            matchType: try object.string("matchType"), keyword: try object.string("keyword"),
            tag: try object.string("tag"), enabled: try object.bool("enabled"))
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let rule = try await deps.contacts.createRule(
            orgID: caller.orgID, input: try Self.input(try await request.bodyBytes()))
        return .json(Render.rule(rule), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let rules = try await deps.contacts.rules(orgID: caller.orgID)
        return .json(.object([("data", .array(rules.map(Render.rule)))]))
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        return .json(Render.rule(try await deps.contacts.rule(orgID: caller.orgID, id: try context.id(notFound: "rule"))))
    }

    @Sendable func update(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "rule")
        let rule = try await deps.contacts.updateRule(
            orgID: caller.orgID, id: id, patch: try Self.input(try await request.bodyBytes()))
        return .json(Render.rule(rule))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await deps.contacts.deleteRule(orgID: caller.orgID, id: try context.id(notFound: "rule"))
        return .noContent()
    }

    @Sendable func evaluate(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["text"])
        guard let text = try body.string("text") else {
            throw APIError(.badRequest, "missing_field", "'text' is required", field: "text")
        }
        let result = try await deps.contacts.evaluateRules(orgID: caller.orgID, text: text)
        return .json(
            .object([
                ("tags", .array(result.tags.map(JSONValue.string))),
                ("matchedRuleIds", .array(result.ruleIDs.map(JSONValue.string))),
            ]))
    }
}
