import Foundation
public import GRPCCore
import ConversationsKit
import MessagingKit
import ServiceKit
import SwiftProtobuf
public import SwitchboardProtos

/// The messaging gRPC service: channels, webhook intake (signature check → durable journal), the sandbox.
public struct MessagingAPI: Switchboard_Messaging_V1_MessagingService.SimpleServiceProtocol {
    let store: MessagingStore
    let journal: JournalWriter
    /// Absent in tests that exercise only the inbound side.
    let sender: Sender?

    init(store: MessagingStore, journal: JournalWriter, sender: Sender? = nil) {
        self.store = store
        self.journal = journal
        self.sender = sender
    }

    public func send(
        request: Switchboard_Messaging_V1_SendRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_SendResponse {
        guard let sender else { throw ServiceFailure(.unimplemented, "unimplemented", "sending is not configured") }
        var medium: Medium?
        if !request.medium.isEmpty {
            guard let parsed = Medium(rawValue: request.medium) else {
                throw ServiceFailure.invalid("invalid_channel", "channel must be whatsapp or sms", field: "channel")
            }
            medium = parsed
        }
        func value(_ text: String) -> String? { text.isEmpty ? nil : text }
        let sent = try await sender.send(
            SendCommand(
                orgID: try requireOrg(request.orgID), conversationID: value(request.conversationID),
                contactID: value(request.contactID), channelID: value(request.channelID), medium: medium,
                idempotencyKey: value(request.idempotencyKey), senderAgentID: value(request.senderAgentID),
                messageJSON: request.messageJson))
        return .with {
            $0.message = .init(sent.message)
            $0.replayed = sent.replayed
        }
    }

    public func subscribe(
        request: Switchboard_Common_V1_SubscribeRequest, response: RPCWriter<Switchboard_Common_V1_EventBatch>,
        context: ServerContext
    ) async throws {
        try await EventLog.serve(request, reader: store.writer, writer: response)
    }

    public func createChannel(
        request: Switchboard_Messaging_V1_CreateChannelRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_Channel {
        guard let kind = ChannelKind(rawValue: request.kind) else {
            throw ServiceFailure.invalid(
                "invalid_kind", "kind must be one of whatsapp_cloud, twilio_sms", field: "kind")
        }
        return .init(try await store.createChannel(orgID: try requireOrg(request.orgID), kind: kind, settings: request.settings.values))
    }

    public func getChannel(
        request: Switchboard_Messaging_V1_GetChannelRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_Channel {
        .init(try await store.channel(orgID: try requireOrg(request.orgID), id: request.id))
    }

    public func listChannels(
        request: Switchboard_Messaging_V1_ListChannelsRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_ListChannelsResponse {
        let channels = try await store.channels(orgID: try requireOrg(request.orgID))
        return .with { $0.channels = channels.map(Switchboard_Messaging_V1_Channel.init) }
    }

    public func updateChannel(
        request: Switchboard_Messaging_V1_UpdateChannelRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_Channel {
        .init(try await store.updateChannel(orgID: try requireOrg(request.orgID), id: request.id, patch: request.patch.values))
    }

    public func deleteChannel(
        request: Switchboard_Messaging_V1_DeleteChannelRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_DeleteChannelResponse {
        try await store.deleteChannel(orgID: try requireOrg(request.orgID), id: request.id)
        return .init()
    }

    public func verifySubscription(
        request: Switchboard_Messaging_V1_VerifySubscriptionRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_VerifySubscriptionResponse {
        let token = request.verifyToken
        let matches = try await store.whatsappChannels().contains { stored in
            guard let expected = stored.secrets[.verifyToken], !token.isEmpty else { return false }
            return constantTimeEqual(expected, token)
        }
        guard matches else {
            throw ServiceFailure(.permissionDenied, "verification_failed", "no WhatsApp channel has this verify token")
        }
        return .init()
    }

    public func ingestWebhook(
        request: Switchboard_Messaging_V1_IngestWebhookRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_IngestWebhookResponse {
        var known: [String: [StoredChannel]] = [:]
        let checked = try await check(request, known: &known)
        guard let entry = checked.entry else { return checked.response }
        try await journal.append([entry])
        return checked.response
    }

    public func ingestWebhooks(
        request: Switchboard_Messaging_V1_IngestWebhooksRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_IngestWebhooksResponse {
        guard request.items.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 webhooks per call", field: "items")
        }
        var results: [Switchboard_Messaging_V1_IngestWebhookResult] = []
        var entries: [JournalEntry] = []
        var known: [String: [StoredChannel]] = [:]  // a batch mostly names one number: look each up once
        for item in request.items {
            do {
                let checked = try await check(item, known: &known)
                if let entry = checked.entry { entries.append(entry) }
                results.append(.with { $0.response = checked.response })
            } catch let failure as ServiceFailure {
                results.append(
                    .with {
                        $0.failed = true
                        $0.code = Int32(Status.Code(failure.code).rawValue)
                        $0.message = failure.message
                        $0.error = failure.errorReason
                    })
            }
        }
        // Every accepted webhook is on disk before any of them is answered.
        if !entries.isEmpty { try await journal.append(entries) }
        return .with { $0.results = results }
    }

    /// Finds the channel and checks the signature: the journal entry to write (nil for an unknown channel) and the
    /// answer to give once it is written. `known` remembers the channels looked up for earlier webhooks of a call.
    private func check(
        _ request: Switchboard_Messaging_V1_IngestWebhookRequest, known: inout [String: [StoredChannel]]
    ) async throws -> (entry: JournalEntry?, response: Switchboard_Messaging_V1_IngestWebhookResponse) {
        let body = request.body
        let signature = request.signature.isEmpty ? nil : request.signature
        let channel: StoredChannel
        switch request.provider {
        case "whatsapp":
            // Meta signs every webhook: an unsigned body is refused before any work is spent on it.
            guard signature != nil else { throw MessagingFailure.missingSignature }
            let phoneNumberIDs: [String]
            do {
                phoneNumberIDs = try WhatsAppWebhook.phoneNumberIDs(in: body)
            } catch {
                throw MessagingFailure.invalidPayload("not a WhatsApp Cloud API webhook body: \(error.reason)")
            }
            let key = "pn:" + phoneNumberIDs.joined(separator: ",")
            let candidates: [StoredChannel]
            if let cached = known[key] {
                candidates = cached
            } else {
                candidates = try await store.whatsappChannels(phoneNumberIDs: phoneNumberIDs)
                known[key] = candidates
            }
            guard !candidates.isEmpty else { return (nil, .with { $0.outcome = "unknown_channel" }) }
            channel = try WebhookAuthority.verifiedChannel(
                body: body, signature: signature, phoneNumberIDs: phoneNumberIDs, candidates: candidates)
        case "twilio":
            guard Identifier.isValid(request.channelID), let stored = try await store.channel(id: request.channelID),
                stored.channel.kind == .twilioSMS
            else { return (nil, .with { $0.outcome = "unknown_channel" }) }
            guard signature != nil else { throw MessagingFailure.missingSignature }
            let parameters: [(name: String, value: String)]
            do {
                parameters = try TwilioWebhook.formParameters(body)
            } catch {
                throw MessagingFailure.invalidPayload("not a form body: \(error)")
            }
            let url = stored.channel.settings[.webhookURL] ?? request.url
            guard let token = stored.secrets[.authToken],
                WebhookSignature.verifyTwilio(url: url, parameters: parameters, signature: signature, authToken: token)
            else { throw MessagingFailure.invalidSignature }
            channel = stored
        default:
            throw ServiceFailure.invalid("invalid_provider", "provider must be whatsapp or twilio", field: "provider")
        }
        let entry = JournalEntry(
            id: Identifier.make(), provider: request.provider, channelID: channel.channel.id, body: body,
            receivedAt: Millis.now())
        return (
            entry,
            .with {
                $0.outcome = "accepted"
                $0.journalID = entry.id
            }
        )
    }

    public func createTemplate(
        request: Switchboard_Messaging_V1_CreateTemplateRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_Template {
        .init(
            try await store.createTemplate(
                orgID: try requireOrg(request.orgID), channelID: request.channelID, name: request.name,
                language: request.language, category: request.category, status: request.status,
                componentsJSON: request.componentsJson))
    }

    public func listTemplates(
        request: Switchboard_Messaging_V1_ListTemplatesRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_ListTemplatesResponse {
        let templates = try await store.templates(orgID: try requireOrg(request.orgID), channelID: request.channelID)
        return .with { $0.templates = templates.map(Switchboard_Messaging_V1_Template.init) }
    }

    public func getTemplate(
        request: Switchboard_Messaging_V1_GetTemplateRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_Template {
        .init(try await store.template(orgID: try requireOrg(request.orgID), channelID: request.channelID, id: request.id))
    }

    public func deleteTemplate(
        request: Switchboard_Messaging_V1_DeleteTemplateRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_DeleteTemplateResponse {
        try await store.deleteTemplate(orgID: try requireOrg(request.orgID), channelID: request.channelID, id: request.id)
        return .init()
    }

    public func simulateInbound(
        request: Switchboard_Messaging_V1_SimulateInboundRequest, context: ServerContext
    ) async throws -> Switchboard_Messaging_V1_SimulateInboundResponse {
        let orgID = try requireOrg(request.orgID)
        let message = try SandboxMessage(request)
        let channel = try await store.sandbox(orgID: orgID)
        let entry = JournalEntry(
            id: Identifier.make(), provider: "sandbox", channelID: channel.id, body: message.webhookBody(),
            receivedAt: Millis.now())
        try await journal.append([entry])
        return .with {
            $0.channelID = channel.id
            $0.providerMessageID = message.messageID
            $0.journalID = entry.id
        }
    }

}
