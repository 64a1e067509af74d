import Foundation
import GRPCCore
import Hummingbird
import HTTPTypes
import Metrics
import NIOCore
import ServiceKit
import SwitchboardClient
import Logging

/// `/webhooks/whatsapp` and `/webhooks/twilio/{channelId}`: provider callbacks. No API key — messaging checks the
/// provider's signature over the raw bytes and journals the body before edge answers 200.
struct WebhookRoutes {
    let deps: EdgeDependencies
    /// WhatsApp sends up to 3 MiB per webhook.
    static let maxBody = 3 << 20
    /// Webhooks that arrive together share one IngestWebhooks call up to this many bytes, well under the services'
    /// 8 MiB request limit, so big bodies never push a call of small ones over it.
    static let maxBatchBytes = 6 << 20

    @Sendable static func weight(_ webhook: MessagingClient<ServiceTransport>.Webhook) -> Int {
        webhook.body.count + (webhook.signature?.utf8.count ?? 0) + (webhook.url?.utf8.count ?? 0) + 64
    }

    func register(on router: Router<EdgeRequestContext>, registry: RouteRegistry) {
        registry.add(
            RouteSpec(
                .get, "/webhooks/whatsapp", "verifyWhatsAppWebhook",
                "The subscription handshake: answers hub.challenge when hub.verify_token is a channel's verify token",
                tag: "Webhooks", auth: .none,
                query: [
                    ("hub.mode", "subscribe", false), ("hub.verify_token", "a channel's verify token", false),
                    ("hub.challenge", "echoed back (required once the token is right)", false),
                ], response: "text", errors: [400, 403]), on: router, verify)
        registry.add(
            RouteSpec(
                .post, "/webhooks/whatsapp", "whatsAppWebhook",
                "WhatsApp Cloud API webhook (X-Hub-Signature-256), journaled before the 200", tag: "Webhooks",
                auth: .none, body: .json("WhatsAppWebhook"), response: "WebhookAccepted", errors: [400, 401, 413]),
            on: router, whatsapp)
        registry.add(
            RouteSpec(
                .post, "/webhooks/twilio/{channelId}", "twilioWebhook",
                "Twilio inbound message or status callback (X-Twilio-Signature), journaled before the 200",
                tag: "Webhooks", auth: .none, response: "xml", errors: [400, 401, 413]), on: router, twilio)
    }

    @Sendable func verify(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let mode = request.query("hub.mode")
        let token = request.query("hub.verify_token") ?? ""
        let challenge = request.query("hub.challenge") ?? ""
        guard mode == "subscribe", !token.isEmpty else {
            throw APIError(.forbidden, "verification_failed", "hub.mode must be subscribe with a known hub.verify_token")
        }
        let verified: Bool
        do {
            try await deps.messaging.verifySubscription(token: token)
            verified = true
        } catch {
            guard error.code == .permissionDenied else { throw error }
            verified = false
        }
        guard verified else {
            throw APIError(.forbidden, "verification_failed", "no WhatsApp channel has this verify token")
        }
        // Meta always sends a challenge; answering 200 without one would tell a misconfigured caller it verified.
        guard !challenge.isEmpty else {
            throw APIError(.badRequest, "missing_challenge", "hub.challenge is required", field: "hub.challenge")
        }
        guard challenge.utf8.count <= 1024 else {
            throw APIError(.badRequest, "invalid_challenge", "hub.challenge is at most 1024 bytes", field: "hub.challenge")
        }
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: challenge)))
        response.headers[.contentType] = "text/plain; charset=utf-8"
        return response
    }

    @Sendable func whatsapp(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        var request = request
        let body = try await request.bodyBytes(limit: Self.maxBody)
        let outcome = try await ingest(
            provider: "whatsapp", body: body, signature: request.headers[HTTPField.Name("X-Hub-Signature-256")!],
            channelID: nil, url: nil)
        return .json(.object([("status", .string(outcome))]))
    }

    @Sendable func twilio(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        var request = request
        let channelID = context.parameters.get("channelId") ?? ""
        let body = try await request.bodyBytes(limit: Self.maxBody)
        // What Twilio signed: the public URL it was configured with, path and query included.
        let url = deps.publicURL + request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        _ = try await ingest(
            provider: "twilio", body: body, signature: request.headers[HTTPField.Name("X-Twilio-Signature")!],
            channelID: channelID, url: url)
        var response = Response(
            status: .ok,
            body: .init(byteBuffer: ByteBuffer(string: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>")))
        response.headers[.contentType] = "text/xml; charset=utf-8"
        return response
    }

    private func ingest(provider: String, body: [UInt8], signature: String?, channelID: String?, url: String?)
        async throws -> String
    {
        // Providers sign every webhook: an unsigned body costs no RPC.
        guard let signature, !signature.isEmpty else {
            Counter(label: "switchboard_webhooks_total", dimensions: [("provider", provider), ("outcome", "missing_signature")])
                .increment()
            throw APIError(.unauthorized, "missing_signature", "the webhook carries no signature header")
        }
        do {
            let outcome = try await deps.webhooks.submit(
                .init(provider: provider, body: Data(body), signature: signature, channelID: channelID, url: url))
            Counter(label: "switchboard_webhooks_total", dimensions: [("provider", provider), ("outcome", outcome)]).increment()
            if outcome == "unknown_channel" {
                deps.logger.warning("\(provider) webhook for a number no channel has: answered 200 so it is not retried")
            }
            return outcome
        } catch {
            Counter(label: "switchboard_webhooks_total", dimensions: [("provider", provider), ("outcome", error.reason)])
                .increment()
            throw error
        }
    }
}
