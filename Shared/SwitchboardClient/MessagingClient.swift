public import GRPCCore
public import MessagingKit
public import ServiceKit
public import Foundation
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

    /// Journals a webhook; answers `accepted` or `unknown_channel`. Not retried here: the provider retries.
    public func ingestWebhook(provider: String, body: Data, signature: String?, channelID: String?, url: String?)
        async throws(ServiceFailure) -> String
    {
        let request = Switchboard_Messaging_V1_IngestWebhookRequest.with {
            $0.provider = provider
            $0.body = body
            $0.signature = signature ?? ""
            $0.channelID = channelID ?? ""
            $0.url = url ?? ""
        }
        return try await caller.call("IngestWebhook", idempotent: false) { metadata, options in
            try await client.ingestWebhook(request, metadata: metadata, options: options)
        }.outcome
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
}
