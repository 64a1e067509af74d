public import GRPCCore
public import MessagingKit
public import ServiceKit
public import Foundation
public import ConversationsKit
import SwiftProtobuf
import SwitchboardProtos

/// The messaging service, in domain types: channels, webhook intake, the sandbox.
public struct MessagingClient<Transport: ClientTransport>: Sendable {
    let client: Switchboard_Messaging_V1_MessagingService.Client<Transport>
    let caller: RPCCaller

    public init(_ grpc: GRPCClient<Transport>, caller: RPCCaller) {
        client = .init(wrapping: grpc)
        self.caller = caller
    }

    public func createChannel(orgID: String, kind: String, settings: [ChannelSetting: String])
        async throws(ServiceFailure) -> Channel
    {
        let request = Switchboard_Messaging_V1_CreateChannelRequest.with {
            $0.orgID = orgID
            $0.kind = kind
            $0.settings = .init(settings)
        }
        return Channel(
            try await caller.call("CreateChannel", idempotent: false) { metadata, options in
                try await client.createChannel(request, metadata: metadata, options: options)
            })
    }

    public func channel(orgID: String, id: String) async throws(ServiceFailure) -> Channel {
        let request = Switchboard_Messaging_V1_GetChannelRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        return Channel(
            try await caller.call("GetChannel", idempotent: true) { metadata, options in
                try await client.getChannel(request, metadata: metadata, options: options)
            })
    }

    public func channels(orgID: String) async throws(ServiceFailure) -> [Channel] {
        let request = Switchboard_Messaging_V1_ListChannelsRequest.with { $0.orgID = orgID }
        return try await caller.call("ListChannels", idempotent: true) { metadata, options in
            try await client.listChannels(request, metadata: metadata, options: options)
        }.channels.map(Channel.init)
    }

    public func updateChannel(orgID: String, id: String, patch: [ChannelSetting: String]) async throws(ServiceFailure)
        -> Channel
    {
        let request = Switchboard_Messaging_V1_UpdateChannelRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.patch = .init(patch)
        }
        return Channel(
            try await caller.call("UpdateChannel", idempotent: true) { metadata, options in
                try await client.updateChannel(request, metadata: metadata, options: options)
            })
    }

    public func deleteChannel(orgID: String, id: String) async throws(ServiceFailure) {
        let request = Switchboard_Messaging_V1_DeleteChannelRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        _ = try await caller.call("DeleteChannel", idempotent: true) { metadata, options in
            try await client.deleteChannel(request, metadata: metadata, options: options)
        }
    }

    /// Succeeds when a WhatsApp channel has this verify token (PERMISSION_DENIED otherwise).
    public func verifySubscription(token: String) async throws(ServiceFailure) {
        let request = Switchboard_Messaging_V1_VerifySubscriptionRequest.with { $0.verifyToken = token }
        _ = try await caller.call("VerifySubscription", idempotent: true) { metadata, options in
            try await client.verifySubscription(request, metadata: metadata, options: options)
        }
    }

    /// One webhook to journal (see `ingestWebhooks`).
    public struct Webhook: Sendable {
        public var provider: String
        public var body: Data
        public var signature: String?
        public var channelID: String?
        public var url: String?

        public init(provider: String, body: Data, signature: String?, channelID: String?, url: String?) {
            self.provider = provider
            self.body = body
            self.signature = signature
            self.channelID = channelID
            self.url = url
        }
    }

    /// Journals many webhooks in one call; each answers its outcome or the failure it would have had alone.
    public func ingestWebhooks(_ webhooks: [Webhook]) async throws(ServiceFailure) -> [Result<String, ServiceFailure>] {
        let request = Switchboard_Messaging_V1_IngestWebhooksRequest.with {
            $0.items = webhooks.map { webhook in
                .with {
                    $0.provider = webhook.provider
                    $0.body = webhook.body
                    $0.signature = webhook.signature ?? ""
                    $0.channelID = webhook.channelID ?? ""
                    $0.url = webhook.url ?? ""
                }
            }
        }
        let response = try await caller.call("IngestWebhooks", idempotent: false) { metadata, options in
            try await client.ingestWebhooks(request, metadata: metadata, options: options)
        }
        return response.results.map { result in
            guard result.failed else { return .success(result.response.outcome) }
            let code = Status.Code(rawValue: Int(result.code)).flatMap(RPCError.Code.init) ?? .internalError
            return .failure(
                ServiceFailure(
                    code, result.error.reason, result.message, field: result.error.field.isEmpty ? nil : result.error.field,
                    details: result.error.details))
        }
    }

    public func simulateInbound(
        orgID: String, fromPhone: String?, whatsappUserID: String?, username: String?, name: String?, text: String,
        referralJSON: String?, messageID: String?
    ) async throws(ServiceFailure) -> (channelID: String, messageID: String, journalID: String) {
        let request = Switchboard_Messaging_V1_SimulateInboundRequest.with {
            $0.orgID = orgID
            $0.fromPhone = fromPhone ?? ""
            $0.whatsappUserID = whatsappUserID ?? ""
            $0.username = username ?? ""
            $0.name = name ?? ""
            $0.text = text
            $0.referralJson = referralJSON ?? ""
            $0.messageID = messageID ?? ""
        }
        let response = try await caller.call("SimulateInbound", idempotent: false) { metadata, options in
            try await client.simulateInbound(request, metadata: metadata, options: options)
        }
        return (response.channelID, response.providerMessageID, response.journalID)
    }

    // MARK: sending

    /// One send (see `SendRequest`): the accepted message (status queued) and whether it is the replay of an
    /// earlier send with the same idempotency key. Retried on UNAVAILABLE only with a key (then it is safe).
    public func send(
        orgID: String, conversationID: String?, contactID: String?, channelID: String?, medium: String?,
        idempotencyKey: String?, senderAgentID: String?, messageJSON: String
    ) async throws(ServiceFailure) -> (message: ConversationsKit.Message, replayed: Bool) {
        let request = Switchboard_Messaging_V1_SendRequest.with {
            $0.orgID = orgID
            $0.conversationID = conversationID ?? ""
            $0.contactID = contactID ?? ""
            $0.channelID = channelID ?? ""
            $0.medium = medium ?? ""
            $0.idempotencyKey = idempotencyKey ?? ""
            $0.senderAgentID = senderAgentID ?? ""
            $0.messageJson = messageJSON
        }
        let response = try await caller.call("Send", idempotent: idempotencyKey != nil) { metadata, options in
            try await client.send(request, metadata: metadata, options: options)
        }
        return (ConversationsKit.Message(response.message), response.replayed)
    }

    // MARK: templates

    public func createTemplate(
        orgID: String, channelID: String, name: String, language: String, category: String, status: String,
        componentsJSON: String
    ) async throws(ServiceFailure) -> Template {
        let request = Switchboard_Messaging_V1_CreateTemplateRequest.with {
            $0.orgID = orgID
            $0.channelID = channelID
            $0.name = name
            $0.language = language
            $0.category = category
            $0.status = status
            $0.componentsJson = componentsJSON
        }
        return Template(
            try await caller.call("CreateTemplate", idempotent: false) { metadata, options in
                try await client.createTemplate(request, metadata: metadata, options: options)
            })
    }

    public func templates(orgID: String, channelID: String) async throws(ServiceFailure) -> [Template] {
        let request = Switchboard_Messaging_V1_ListTemplatesRequest.with {
            $0.orgID = orgID
            $0.channelID = channelID
        }
        return try await caller.call("ListTemplates", idempotent: true) { metadata, options in
            try await client.listTemplates(request, metadata: metadata, options: options)
        }.templates.map(Template.init)
    }

    public func template(orgID: String, channelID: String, id: String) async throws(ServiceFailure) -> Template {
        let request = Switchboard_Messaging_V1_GetTemplateRequest.with {
            $0.orgID = orgID
            $0.channelID = channelID
            $0.id = id
        }
        return Template(
            try await caller.call("GetTemplate", idempotent: true) { metadata, options in
                try await client.getTemplate(request, metadata: metadata, options: options)
            })
    }

    public func deleteTemplate(orgID: String, channelID: String, id: String) async throws(ServiceFailure) {
        let request = Switchboard_Messaging_V1_DeleteTemplateRequest.with {
            $0.orgID = orgID
            $0.channelID = channelID
            $0.id = id
        }
        _ = try await caller.call("DeleteTemplate", idempotent: true) { metadata, options in
            try await client.deleteTemplate(request, metadata: metadata, options: options)
        }
    }
}
