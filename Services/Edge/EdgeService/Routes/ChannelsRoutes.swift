import Foundation
import Hummingbird
import HTTPTypes
import MessagingKit
import ServiceKit
import SwitchboardClient

/// `/api/whatsapp-api/channels…` (WhatsApp Cloud numbers, Twilio accounts, the sandbox) and `/sandbox/inbound`.
struct ChannelsRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .post, "\(p)/channels", "createChannel", "Connect a WhatsApp Cloud API number or a Twilio account",
                tag: "Channels", body: .json("ChannelInput"), status: 201, response: "Channel",
                errors: [400, 403, 409]), on: group, prefix: p, create)
        registry.add(
            RouteSpec(.get, "\(p)/channels", "listChannels", "The org's channels (the sandbox included), oldest first",
                      tag: "Channels", response: "ChannelList"), on: group, prefix: p, list)
        registry.add(
            RouteSpec(.get, "\(p)/channels/{id}", "getChannel", "Get a channel", tag: "Channels", response: "Channel",
                      errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(
                .patch, "\(p)/channels/{id}", "updateChannel", "Change a channel's settings", tag: "Channels",
                body: .json("ChannelPatch", required: false), response: "Channel", errors: [400, 403, 404, 409]),
            on: group, prefix: p, update)
        registry.add(
            RouteSpec(.delete, "\(p)/channels/{id}", "deleteChannel", "Disconnect a channel", tag: "Channels",
                      status: 204, errors: [403, 404, 409]), on: group, prefix: p, delete)
        registry.add(
            RouteSpec(
                .post, "\(p)/sandbox/inbound", "simulateInbound",
                "Simulate a customer message on the sandbox channel (processed exactly like a webhook)",
                tag: "Channels", body: .json("SandboxInbound"), status: 202, response: "SandboxAccepted",
                errors: [400, 403, 409]), on: group, prefix: p, simulate)
    }

    static let settingFields = Set(ChannelSetting.allCases.map(\.rawValue))

    /// The settings a body gives (every value as text; `messagesPerSecond` must be an integer).
    static func settings(_ object: JSONObject) throws(APIError) -> [ChannelSetting: String] {
        var settings: [ChannelSetting: String] = [:]
        for setting in ChannelSetting.allCases where object.has(setting.rawValue) {
            if setting == .messagesPerSecond {
                if let rate = try object.int(setting.rawValue) { settings[setting] = String(rate) }
            } else {
                settings[setting] = try object.string(setting.rawValue, nullClears: true) ?? ""
            }
        }
        return settings
    }

    static func render(_ channel: Channel, publicURL: String) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(channel.id)), ("kind", .string(channel.kind.rawValue)),
            ("name", .string(channel.settings[.name])), ("status", .string(channel.status)),
        ]
        if channel.kind == .twilioSMS {
            pairs.append(("webhookUrl", .string(channel.settings[.webhookURL] ?? "\(publicURL)/webhooks/twilio/\(channel.id)")))
        } else if channel.kind == .whatsappCloud {
            pairs.append(("webhookUrl", .string("\(publicURL)/webhooks/whatsapp")))
        } else {
            pairs.append(("webhookUrl", .null))
        }
        for setting in ChannelSetting.allCases
        where setting != .name && setting != .webhookURL && setting.kinds.contains(channel.kind) {
            if setting.isSecret {
                pairs.append((setting.rawValue, channel.secretsSet.contains(setting) ? .string("********") : .null))
            } else if setting == .messagesPerSecond {
                pairs.append((setting.rawValue, channel.settings[setting].flatMap { Int64($0) }.map(JSONValue.int) ?? .null))
            } else {
                pairs.append((setting.rawValue, .string(channel.settings[setting])))
            }
        }
        pairs += [("createdAt", .time(channel.createdAt)), ("updatedAt", .time(channel.updatedAt))]
        return .object(pairs)
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: Self.settingFields.union(["kind"]))
        guard let kind = try body.string("kind") else {
            throw APIError(.badRequest, "missing_field", "'kind' is required: whatsapp_cloud or twilio_sms", field: "kind")
        }
        let channel = try await deps.messaging.createChannel(orgID: caller.orgID, kind: kind, settings: try Self.settings(body))
        return .json(Self.render(channel, publicURL: deps.publicURL), status: .created)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let channels = try await deps.messaging.channels(orgID: caller.orgID)
        return .json(.object([("data", .array(channels.map { Self.render($0, publicURL: deps.publicURL) }))]))
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let channel = try await deps.messaging.channel(orgID: caller.orgID, id: try context.id(notFound: "channel"))
        return .json(Self.render(channel, publicURL: deps.publicURL))
    }

    @Sendable func update(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        var request = request
        let id = try context.id(notFound: "channel")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: Self.settingFields)
        let channel = try await deps.messaging.updateChannel(orgID: caller.orgID, id: id, patch: try Self.settings(body))
        return .json(Self.render(channel, publicURL: deps.publicURL))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        try await deps.messaging.deleteChannel(orgID: caller.orgID, id: try context.id(notFound: "channel"))
        return .noContent()
    }

    /// Admin keys only (a simulated message can opt a contact in), and only while the org's sandbox is on.
    @Sendable func simulate(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireAdmin()
        guard try await deps.store.sandboxEnabled(orgID: caller.orgID) else {
            throw APIError(
                .conflict, "sandbox_disabled",
                "the sandbox is turned off for this organisation (PATCH /org sandboxEnabled)")
        }
        var request = request
        let body = try JSONObject(
            body: try await request.bodyBytes(),
            allowed: ["from", "whatsappUserId", "username", "name", "text", "referral", "messageId"])
        guard let text = try body.string("text") else {
            throw APIError(.badRequest, "missing_field", "'text' is required", field: "text")
        }
        let accepted = try await deps.messaging.simulateInbound(
            orgID: caller.orgID, fromPhone: try body.string("from"), whatsappUserID: try body.string("whatsappUserId"),
            username: try body.string("username"), name: try body.string("name"), text: text,
            referralJSON: try body.object("referral")?.serialized, messageID: try body.string("messageId"))
        return .json(
            .object([
                ("channelId", .string(accepted.channelID)), ("messageId", .string(accepted.messageID)),
                ("journalId", .string(accepted.journalID)),
            ]), status: .accepted)
    }
}
