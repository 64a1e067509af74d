public import ContactsKit
public import ConversationsKit
public import GRPCCore
public import ServiceKit
import SwiftProtobuf
import SwitchboardProtos

/// The conversations service, in domain types: recording inbound messages and statuses, the inbox, actions.
public struct ConversationsClient<Transport: ClientTransport>: Sendable {
    let client: Switchboard_Conversations_V1_ConversationsService.Client<Transport>
    let caller: RPCCaller

    public init(_ grpc: GRPCClient<Transport>, caller: RPCCaller) {
        client = .init(wrapping: grpc)
        self.caller = caller
    }

    /// One inbound message to record (see `recordInbound`).
    public struct InboundItem: Sendable {
        public var orgID: String
        public var channelID: String
        public var medium: String
        public var contact: ContactSnapshot
        public var mergedContactIDs: [String]
        public var message: InboundMessage

        public init(orgID: String, channelID: String, medium: String, contact: ContactSnapshot,
                    mergedContactIDs: [String], message: InboundMessage) {
            self.orgID = orgID
            self.channelID = channelID
            self.medium = medium
            self.contact = contact
            self.mergedContactIDs = mergedContactIDs
            self.message = message
        }
    }

    /// Records many inbound messages, in order, in one call and one transaction; each item answers its message id
    /// or the reason it was refused. Idempotent (deduplicated by provider message id), so retried on UNAVAILABLE.
    public func recordInbound(_ items: [InboundItem]) async throws(ServiceFailure)
        -> [Result<(messageID: String, conversationID: String, duplicate: Bool), ServiceFailure>]
    {
        let request = Switchboard_Conversations_V1_RecordInboundBatchRequest.with {
            $0.items = items.map { item in
                .with {
                    $0.orgID = item.orgID
                    $0.channelID = item.channelID
                    $0.medium = item.medium
                    $0.contact = .init(item.contact)
                    $0.mergedContactIds = item.mergedContactIDs
                    $0.message = .init(item.message)
                }
            }
        }
        let response = try await caller.call("RecordInboundBatch", idempotent: true) { metadata, options in
            try await client.recordInboundBatch(request, metadata: metadata, options: options)
        }
        guard response.results.count == items.count else {
            throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
        }
        return response.results.map { result in
            if result.failed { return .failure(ServiceFailure(item: result.error)) }
            return .success((result.messageID, result.conversationID, result.duplicate))
        }
    }

    /// Records an accepted outbound message under messaging's message id: idempotent (a second call answers the
    /// stored message), so retried on UNAVAILABLE. Without a conversation id it goes to the contact's open
    /// conversation on the channel, opened when there is none.
    public func recordOutbound(
        orgID: String, messageID: String, conversationID: String?, contact: ContactSnapshot?, channelID: String,
        medium: Medium, type: String, text: String, contentJSON: String, senderAgentID: String?
    ) async throws(ServiceFailure) -> ConversationsKit.Message {
        let request = Switchboard_Conversations_V1_RecordOutboundRequest.with {
            $0.orgID = orgID
            $0.messageID = messageID
            $0.conversationID = conversationID ?? ""
            if let contact { $0.contact = .init(contact) }
            $0.channelID = channelID
            $0.medium = medium.rawValue
            $0.type = type
            $0.text = text
            $0.contentJson = contentJSON
            $0.senderAgentID = senderAgentID ?? ""
        }
        return ConversationsKit.Message(
            try await caller.call("RecordOutbound", idempotent: true) { metadata, options in
                try await client.recordOutbound(request, metadata: metadata, options: options)
            })
    }

    /// One outbound message for `recordOutbound(_:)`.
    public struct OutboundItem: Sendable {
        public var orgID: String
        public var messageID: String
        public var conversationID: String?
        public var contact: ContactSnapshot?
        public var channelID: String
        public var medium: Medium
        public var type: String
        public var text: String
        public var contentJSON: String
        public var senderAgentID: String?

        public init(
            orgID: String, messageID: String, conversationID: String?, contact: ContactSnapshot?, channelID: String,
            medium: Medium, type: String, text: String, contentJSON: String, senderAgentID: String?
        ) {
            self.orgID = orgID
            self.messageID = messageID
            self.conversationID = conversationID
            self.contact = contact
            self.channelID = channelID
            self.medium = medium
            self.type = type
            self.text = text
            self.contentJSON = contentJSON
            self.senderAgentID = senderAgentID
        }
    }

    /// Many accepted outbound messages in one call and one transaction, each answered on its own. Idempotent
    /// per message id, so retried on UNAVAILABLE.
    public func recordOutbound(_ items: [OutboundItem]) async throws(ServiceFailure)
        -> [Result<ConversationsKit.Message, ServiceFailure>]
    {
        let request = Switchboard_Conversations_V1_RecordOutboundBatchRequest.with {
            $0.items = items.map { item in
                .with {
                    $0.orgID = item.orgID
                    $0.messageID = item.messageID
                    $0.conversationID = item.conversationID ?? ""
                    if let contact = item.contact { $0.contact = .init(contact) }
                    $0.channelID = item.channelID
                    $0.medium = item.medium.rawValue
                    $0.type = item.type
                    $0.text = item.text
                    $0.contentJson = item.contentJSON
                    $0.senderAgentID = item.senderAgentID ?? ""
                }
            }
        }
        let response = try await caller.call("RecordOutboundBatch", idempotent: true) { metadata, options in
            try await client.recordOutboundBatch(request, metadata: metadata, options: options)
        }
        guard response.results.count == items.count else {
            throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
        }
        return response.results.map { result in
            result.failed ? .failure(ServiceFailure(item: result.error)) : .success(ConversationsKit.Message(result.message))
        }
    }

    /// Many point reads in one call (nil: no such conversation).
    public func batchGet(_ keys: [(orgID: String, id: String)]) async throws(ServiceFailure) -> [Conversation?] {
        let request = Switchboard_Conversations_V1_BatchGetConversationsRequest.with {
            $0.keys = keys.map { key in
                .with {
                    $0.orgID = key.orgID
                    $0.id = key.id
                }
            }
        }
        let response = try await caller.call("BatchGetConversations", idempotent: true) { metadata, options in
            try await client.batchGetConversations(request, metadata: metadata, options: options)
        }
        guard response.results.count == keys.count else {
            throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
        }
        return response.results.map { $0.found ? Conversation($0.conversation) : nil }
    }

    /// Delivery progress of accepted messages, by message id (at most 1,000 per call). Statuses only move
    /// forward, so a retry is harmless. Answers, per update, whether the message is known.
    public func updateDeliveries(orgID: String, _ updates: [DeliveryUpdate]) async throws(ServiceFailure) -> [Bool] {
        let request = Switchboard_Conversations_V1_UpdateDeliveriesRequest.with {
            $0.orgID = orgID
            $0.updates = updates.map(Switchboard_Conversations_V1_DeliveryUpdate.init)
        }
        return try await caller.call("UpdateDeliveries", idempotent: true) { metadata, options in
            try await client.updateDeliveries(request, metadata: metadata, options: options)
        }.found
    }

    /// Statuses only move forward on the server, so a retry is harmless. Answers the message when it is recorded.
    @discardableResult
    public func updateDelivery(
        orgID: String, channelID: String, providerMessageID: String, status: String, at: Millis, errorCode: String?,
        errorText: String?, failureReason: String? = nil
    ) async throws(ServiceFailure) -> ConversationsKit.Message? {
        let request = Switchboard_Conversations_V1_UpdateDeliveryRequest.with {
            $0.orgID = orgID
            $0.channelID = channelID
            $0.providerMessageID = providerMessageID
            $0.status = status
            $0.at = .init(millis: at)
            $0.errorCode = errorCode ?? ""
            $0.errorText = errorText ?? ""
            $0.failureReason = failureReason ?? ""
        }
        let response = try await caller.call("UpdateDelivery", idempotent: true) { metadata, options in
            try await client.updateDelivery(request, metadata: metadata, options: options)
        }
        return response.hasMessage ? ConversationsKit.Message(response.message) : nil
    }

    public func list(
        orgID: String, filter: InboxFilter, sort: InboxSort = .activity, cursor: String?, limit: Int
    ) async throws(ServiceFailure) -> Page<Conversation> {
        let request = Switchboard_Conversations_V1_ListConversationsRequest.with {
            $0.orgID = orgID
            $0.filter = .init(filter)
            $0.sort = sort == .activity ? "" : sort.rawValue
            $0.page.cursor = cursor ?? ""
            $0.page.limit = Int32(limit)
        }
        let response = try await caller.call("ListConversations", idempotent: true) { metadata, options in
            try await client.listConversations(request, metadata: metadata, options: options)
        }
        return Page(
            items: response.conversations.map(Conversation.init),
            nextCursor: response.page.nextCursor.isEmpty ? nil : response.page.nextCursor)
    }

    /// How many conversations `list` answers for the filter over all its pages.
    public func count(orgID: String, filter: InboxFilter, sort: InboxSort = .activity) async throws(ServiceFailure) -> Int {
        let request = Switchboard_Conversations_V1_CountConversationsRequest.with {
            $0.orgID = orgID
            $0.filter = .init(filter)
            $0.sort = sort == .activity ? "" : sort.rawValue
        }
        let response = try await caller.call("CountConversations", idempotent: true) { metadata, options in
            try await client.countConversations(request, metadata: metadata, options: options)
        }
        return Int(response.count)
    }

    public func get(orgID: String, id: String) async throws(ServiceFailure) -> Conversation {
        let request = Switchboard_Conversations_V1_GetConversationRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        return Conversation(
            try await caller.call("GetConversation", idempotent: true) { metadata, options in
                try await client.getConversation(request, metadata: metadata, options: options)
            })
    }

    public func messages(orgID: String, conversationID: String, cursor: String?, limit: Int)
        async throws(ServiceFailure) -> Page<ConversationsKit.Message>
    {
        let request = Switchboard_Conversations_V1_ListMessagesRequest.with {
            $0.orgID = orgID
            $0.conversationID = conversationID
            $0.page.cursor = cursor ?? ""
            $0.page.limit = Int32(limit)
        }
        let response = try await caller.call("ListMessages", idempotent: true) { metadata, options in
            try await client.listMessages(request, metadata: metadata, options: options)
        }
        return Page(
            items: response.messages.map(ConversationsKit.Message.init),
            nextCursor: response.page.nextCursor.isEmpty ? nil : response.page.nextCursor)
    }

    /// Assigns (or with nil, unassigns) the conversation.
    public func assign(orgID: String, id: String, agentID: String?, actor: Actor) async throws(ServiceFailure)
        -> Conversation
    {
        let request = Switchboard_Conversations_V1_AssignRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.agentID = agentID ?? ""
            $0.actor = .init(actor)
        }
        return Conversation(
            try await caller.call("Assign", idempotent: false) { metadata, options in
                try await client.assign(request, metadata: metadata, options: options)
            })
    }

    public func setStatus(orgID: String, id: String, status: ConversationStatus, actor: Actor)
        async throws(ServiceFailure) -> Conversation
    {
        let request = Switchboard_Conversations_V1_SetStatusRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.status = status.rawValue
            $0.actor = .init(actor)
        }
        return Conversation(
            try await caller.call("SetStatus", idempotent: false) { metadata, options in
                try await client.setStatus(request, metadata: metadata, options: options)
            })
    }

    /// Applies an action to the listed conversations, or (with `filter`) to every one the inbox would list.
    public func bulk(orgID: String, action: BulkAction, ids: [String]?, filter: InboxFilter?, actor: Actor)
        async throws(ServiceFailure) -> Int
    {
        let request = Switchboard_Conversations_V1_BulkRequest.with {
            $0.orgID = orgID
            $0.action = action.rawValue
            $0.ids = ids ?? []
            if let filter {
                $0.filter = .init(filter)
                $0.allMatching = true
            }
            $0.actor = .init(actor)
        }
        return Int(
            try await caller.call("Bulk", idempotent: true) { metadata, options in
                try await client.bulk(request, metadata: metadata, options: options)
            }.affected)
    }

    // MARK: quick replies

    public func createQuickReply(orgID: String, shortcut: String, content: String) async throws(ServiceFailure)
        -> QuickReply
    {
        let request = Switchboard_Conversations_V1_CreateQuickReplyRequest.with {
            $0.orgID = orgID
            $0.shortcut = shortcut
            $0.content = content
        }
        return QuickReply(
            try await caller.call("CreateQuickReply", idempotent: false) { metadata, options in
                try await client.createQuickReply(request, metadata: metadata, options: options)
            })
    }

    public func quickReply(orgID: String, id: String) async throws(ServiceFailure) -> QuickReply {
        let request = Switchboard_Conversations_V1_GetQuickReplyRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        return QuickReply(
            try await caller.call("GetQuickReply", idempotent: true) { metadata, options in
                try await client.getQuickReply(request, metadata: metadata, options: options)
            })
    }

    public func quickReplies(orgID: String, prefix: String?) async throws(ServiceFailure) -> [QuickReply] {
        let request = Switchboard_Conversations_V1_ListQuickRepliesRequest.with {
            $0.orgID = orgID
            $0.prefix = prefix ?? ""
        }
        return try await caller.call("ListQuickReplies", idempotent: true) { metadata, options in
            try await client.listQuickReplies(request, metadata: metadata, options: options)
        }.quickReplies.map(QuickReply.init)
    }

    public func updateQuickReply(orgID: String, id: String, shortcut: String?, content: String?)
        async throws(ServiceFailure) -> QuickReply
    {
        let request = Switchboard_Conversations_V1_UpdateQuickReplyRequest.with {
            $0.orgID = orgID
            $0.id = id
            if let shortcut { $0.shortcut = shortcut }
            if let content { $0.content = content }
        }
        return QuickReply(
            try await caller.call("UpdateQuickReply", idempotent: true) { metadata, options in
                try await client.updateQuickReply(request, metadata: metadata, options: options)
            })
    }

    public func deleteQuickReply(orgID: String, id: String) async throws(ServiceFailure) {
        let request = Switchboard_Conversations_V1_DeleteQuickReplyRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        _ = try await caller.call("DeleteQuickReply", idempotent: true) { metadata, options in
            try await client.deleteQuickReply(request, metadata: metadata, options: options)
        }
    }

    public func renderQuickReply(orgID: String, id: String, values: [String: String]) async throws(ServiceFailure)
        -> String
    {
        let request = Switchboard_Conversations_V1_RenderQuickReplyRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.values = values
        }
        return try await caller.call("RenderQuickReply", idempotent: true) { metadata, options in
            try await client.renderQuickReply(request, metadata: metadata, options: options)
        }.text
    }
}
