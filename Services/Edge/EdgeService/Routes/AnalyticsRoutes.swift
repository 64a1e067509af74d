import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import ServiceKit
import SwitchboardClient
import SwitchboardProtos

/// `/api/whatsapp-api/contacts/{id}/timeline`, `/analytics/{csat,ctwa,overview}` (from the analytics service) and
/// `/csat/settings` (conversations).
struct AnalyticsRoutes {
    let deps: EdgeDependencies

    static let period: [(name: String, description: String, repeated: Bool)] = [
        ("from", "first day, YYYY-MM-DD (UTC); default 29 days before `to`", false),
        ("to", "last day, YYYY-MM-DD (UTC); default today", false),
    ]

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .get, "\(p)/contacts/{id}/timeline", "contactTimeline",
                "A contact's messages, conversations and audit events, newest first", tag: "Contacts",
                query: [
                    ("kind", "message, conversation, consent, tags, contact, import, csat, attribution (comma-separated or repeated)", true),
                    ("cursor", "from nextCursor", false), ("limit", "1..200, default 50", false),
                ], response: "Timeline", errors: [400, 404]), on: group, prefix: p, timeline)
        for (name, summary) in [
            ("csat", "CSAT: average, count, distribution, share satisfied, by agent, channel and day"),
            ("ctwa", "Click-to-WhatsApp ads: contacts acquired, conversations started and resolved, CSAT, per day"),
            ("overview", "Messages per channel and day, conversations, first-response and resolution times, per agent"),
        ] {
            let report: AnalyticsClient<ServiceTransport>.Report =
                name == "csat" ? .csat : name == "ctwa" ? .ctwa : .overview
            registry.add(
                RouteSpec(
                    .get, "\(p)/analytics/\(name)", "analytics\(name.prefix(1).uppercased() + name.dropFirst())", summary,
                    tag: "Analytics", query: Self.period, response: "Report", errors: [400]),
                on: group, prefix: p
            ) { request, context in try await self.report(report, request, context) }
        }
        registry.add(
            RouteSpec(.get, "\(p)/csat/settings", "getCsatSettings", "The organisation's CSAT survey settings",
                      tag: "Analytics", response: "CsatSettings"), on: group, prefix: p, settings)
        registry.add(
            RouteSpec(
                .put, "\(p)/csat/settings", "setCsatSettings", "Change the CSAT survey settings (admin keys only)",
                tag: "Analytics", body: .json("CsatSettingsInput", required: false), response: "CsatSettings", errors: [400, 403]),
            on: group, prefix: p, setSettings)
    }

    @Sendable func timeline(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let contactID = try context.id(notFound: "contact")
        let limit = try request.pageLimit()
        let kinds = request.queryValues("kind").flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        _ = try await deps.contactReader.get(orgID: caller.orgID, id: contactID)
        let json = try await deps.analytics.timeline(
            orgID: caller.orgID, contactID: contactID, kinds: kinds, cursor: request.query("cursor"), limit: limit)
        return .rawJSON(json)
    }

    func report(
        _ report: AnalyticsClient<ServiceTransport>.Report, _ request: Request, _ context: EdgeRequestContext
    ) async throws -> Response {
        let caller = try context.requireCaller()
        let json = try await deps.analytics.report(
            report, orgID: caller.orgID, from: request.query("from"), to: request.query("to"))
        return .rawJSON(json)
    }

    static func render(_ settings: Switchboard_Conversations_V1_CsatSettings) -> JSONValue {
        .object([
            ("enabled", .bool(settings.enabled)), ("question", .string(settings.question)),
            ("templateName", settings.templateName.isEmpty ? .null : .string(settings.templateName)),
            ("templateLanguage", .string(settings.templateLanguage)),
            ("cooldownHours", .int(Int64(settings.cooldownHours))),
        ])
    }

    @Sendable func settings(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        return .json(Self.render(try await deps.conversations.csatSettings(orgID: caller.orgID)))
    }

    /// PUT with any subset of the fields: the others keep their values.
    @Sendable func setSettings(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let body = try JSONObject(
            body: try await request.bodyBytes(),
            allowed: ["enabled", "question", "templateName", "templateLanguage", "cooldownHours"])
        var settings = try await deps.conversations.csatSettings(orgID: caller.orgID)
        if body.has("enabled") {
            guard let enabled = try body.bool("enabled") else {
                throw APIError(.badRequest, "invalid_field", "'enabled' must be true or false", field: "enabled")
            }
            settings.enabled = enabled
        }
        if body.has("question") {
            guard let question = try body.string("question") else {
                throw APIError(.badRequest, "invalid_field", "'question' must be a string", field: "question")
            }
            settings.question = question
        }
        if body.has("templateName") { settings.templateName = try body.string("templateName", nullClears: true) ?? "" }
        if body.has("templateLanguage") {
            guard let language = try body.string("templateLanguage") else {
                throw APIError(.badRequest, "invalid_field", "'templateLanguage' must be a string", field: "templateLanguage")
            }
            settings.templateLanguage = language
        }
        if body.has("cooldownHours") {
            guard let hours = try body.int("cooldownHours"), (0...720).contains(hours) else {
                throw APIError(
                    .badRequest, "invalid_field", "'cooldownHours' must be an integer between 0 and 720",
                    field: "cooldownHours")
            }
            settings.cooldownHours = Int32(hours)
        }
        return .json(Self.render(try await deps.conversations.setCsatSettings(orgID: caller.orgID, settings)))
    }
}

extension Response {
    /// A JSON document produced by a service, passed through.
    static func rawJSON(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
    }
}
