import ConversationsKit
import Foundation
import Hummingbird
import HTTPTypes
import ServiceKit
import SwitchboardClient

/// `POST …/conversations/{id}/messages` and `POST …/contacts/{id}/messages`: sending, under the rules messaging
/// enforces for every send path. Answers 202 with the accepted message (status `queued`); the same
/// `Idempotency-Key` answers the same message again (`Idempotent-Replayed: true`) and never sends twice.
struct SendRoutes {
    let deps: EdgeDependencies

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .post, "\(p)/conversations/{id}/messages", "sendMessage",
                "Send a text, media, template or interactive message (Idempotency-Key header; `channel` switches WhatsApp/SMS)",
                tag: "Conversations", body: .json("SendInput"), status: 202, response: "Message",
                errors: [400, 404, 409, 422]),
            on: group, prefix: p, { request, context in try await self.send(request, context, toContact: false) })
        registry.add(
            RouteSpec(
                .post, "\(p)/contacts/{id}/messages", "sendToContact",
                "Start (or continue) a conversation with a contact: a template, or free-form while the window is open",
                tag: "Contacts", body: .json("ContactSendInput"), status: 202, response: "Message",
                errors: [400, 404, 409, 422]),
            on: group, prefix: p, { request, context in try await self.send(request, context, toContact: true) })
    }

    func send(_ request: Request, _ context: EdgeRequestContext, toContact: Bool) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: toContact ? "contact" : "conversation")
        let key = request.headers[Self.idempotencyKey]
        let bytes = try await request.bodyBytes(limit: 256 * 1024)
        guard var body = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw APIError(.badRequest, "invalid_json", "the body must be a JSON object")
        }
        let medium = try Self.optionalString(body.removeValue(forKey: "channel"), "channel")
        if let medium, medium != "whatsapp", medium != "sms" {
            throw APIError(.badRequest, "invalid_field", "channel must be whatsapp or sms", field: "channel")
        }
        let channelID = toContact ? try Self.optionalString(body.removeValue(forKey: "channelId"), "channelId") : nil
        let message = String(
            decoding: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
        let sent = try await deps.messaging.send(
            orgID: caller.orgID, conversationID: toContact ? nil : id, contactID: toContact ? id : nil,
            channelID: channelID, medium: medium, idempotencyKey: key, senderAgentID: caller.agentID,
            messageJSON: message)
        var response = Response.json(ConversationsRoutes.render(sent.message), status: .accepted)
        if sent.replayed { response.headers[Self.replayed] = "true" }
        return response
    }

    static func optionalString(_ value: Any?, _ field: String) throws(APIError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String, !text.isEmpty, text.count <= 64 else {
            throw APIError(.badRequest, "invalid_field", "\(field) must be a non-empty string", field: field)
        }
        return text
    }
}
