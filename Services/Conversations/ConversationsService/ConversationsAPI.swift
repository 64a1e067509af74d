import ContactsKit
import ConversationsKit
import Foundation
public import GRPCCore
import ServiceKit
import SwiftProtobuf
public import SwitchboardProtos

/// The conversations gRPC service: maps protobuf messages to store calls and back, nothing more.
public struct ConversationsAPI: Switchboard_Conversations_V1_ConversationsService.SimpleServiceProtocol {
    let store: ConversationsStore

    public init(store: ConversationsStore) {
        self.store = store
    }

    public func recordInbound(
        request: Switchboard_Conversations_V1_RecordInboundRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_RecordInboundResponse {
        let item = try Self.record(request)
        let result = try await store.recordInbound(
            orgID: item.orgID, channelID: item.channelID, medium: item.medium, contact: item.contact,
            mergedContactIDs: item.mergedContactIDs, message: item.message)
        return .with {
            $0.message = .init(result.message)
            $0.conversation = .init(result.conversation)
            $0.duplicate = result.duplicate
            $0.opened = result.opened
        }
    }

    public func recordInboundBatch(
        request: Switchboard_Conversations_V1_RecordInboundBatchRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_RecordInboundBatchResponse {
        guard request.items.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 messages per batch", field: "items")
        }
        var records: [InboundRecord?] = []
        var refusals: [Int: ServiceFailure] = [:]
        for (index, item) in request.items.enumerated() {
            do {
                records.append(try Self.record(item))
            } catch {
                records.append(nil)
                refusals[index] = error
            }
        }
        let recorded = try await store.recordInbound(records.compactMap { $0 })
        var next = recorded.makeIterator()
        return .with {
            $0.results = records.enumerated().map { index, record in
                .with { result in
                    guard record != nil, let outcome = next.next() else {
                        result.failed = true
                        result.error = (refusals[index] ?? ServiceFailure(.internalError, "internal_error", "")).errorReason
                        return
                    }
                    switch outcome {
                    case .success(let value):
                        result.messageID = value.message.id
                        result.conversationID = value.conversation.id
                        result.duplicate = value.duplicate
                    case .failure(let failure):
                        result.failed = true
                        result.error = failure.errorReason
                    }
                }
            }
        }
    }

    /// A request item as the store's record, or the reason it cannot be one.
    static func record(_ request: Switchboard_Conversations_V1_RecordInboundRequest) throws(ServiceFailure) -> InboundRecord {
        guard let medium = Medium(rawValue: request.medium) else {
            throw ServiceFailure.invalid("invalid_medium", "medium must be whatsapp or sms", field: "medium")
        }
        guard !request.contact.id.isEmpty else {
            throw ServiceFailure.invalid("missing_contact", "contact.id is required", field: "contact")
        }
        guard !request.channelID.isEmpty else {
            throw ServiceFailure.invalid("missing_channel", "channel_id is required", field: "channel_id")
        }
        guard !request.orgID.isEmpty else { throw .invalid("missing_org", "org_id is required", field: "org_id") }
        return InboundRecord(
            orgID: request.orgID, channelID: request.channelID, medium: medium,
            contact: ContactSnapshot(request.contact), mergedContactIDs: request.mergedContactIds,
            message: InboundMessage(request.message))
    }

    public func recordOutbound(
        request: Switchboard_Conversations_V1_RecordOutboundRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_Message {
        .init(try await store.recordOutbound(try Self.outbound(request)))
    }

    public func recordOutboundBatch(
        request: Switchboard_Conversations_V1_RecordOutboundBatchRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_RecordOutboundBatchResponse {
        guard request.items.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 messages per call", field: "items")
        }
        var results = [Switchboard_Conversations_V1_RecordOutboundResult](repeating: .init(), count: request.items.count)
        var items: [OutboundRecord] = []
        var positions: [Int] = []
        for (index, item) in request.items.enumerated() {
            do {
                items.append(try Self.outbound(item))
                positions.append(index)
            } catch let failure as ServiceFailure {
                results[index] = .with {
                    $0.failed = true
                    $0.error = failure.errorReason
                }
            }
        }
        for (position, result) in zip(positions, try await store.recordOutbound(items)) {
            switch result {
            case .success(let message): results[position] = .with { $0.message = .init(message) }
            case .failure(let failure):
                results[position] = .with {
                    $0.failed = true
                    $0.error = failure.errorReason
                }
            }
        }
        return .with { $0.results = results }
    }

    static func outbound(_ request: Switchboard_Conversations_V1_RecordOutboundRequest) throws -> OutboundRecord {
        let status = request.status.isEmpty ? DeliveryStatus.queued : DeliveryStatus(rawValue: request.status)
        guard let status else {
            throw ServiceFailure.invalid("invalid_status", "status must be queued or sent", field: "status")
        }
        let medium = request.medium.isEmpty ? nil : Medium(rawValue: request.medium)
        guard request.medium.isEmpty || medium != nil else {
            throw ServiceFailure.invalid("invalid_medium", "medium must be whatsapp or sms", field: "medium")
        }
        return OutboundRecord(
            orgID: try requireOrg(request.orgID), messageID: request.messageID.nonEmptyValue,
            conversationID: request.conversationID.nonEmptyValue,
            contact: request.hasContact ? ContactSnapshot(request.contact) : nil,
            channelID: request.channelID.nonEmptyValue, medium: medium,
            type: request.type.isEmpty ? "text" : request.type, text: request.text,
            contentJSON: request.contentJson.isEmpty ? "{}" : request.contentJson,
            providerMessageID: request.providerMessageID, status: status, senderAgentID: request.senderAgentID)
    }

    public func batchGetConversations(
        request: Switchboard_Conversations_V1_BatchGetConversationsRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_BatchGetConversationsResponse {
        guard request.keys.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 keys per call", field: "keys")
        }
        let found = try await store.conversations(request.keys.map { (orgID: $0.orgID, id: $0.id) })
        return .with {
            $0.results = found.map { conversation in
                .with {
                    $0.found = conversation != nil
                    if let conversation { $0.conversation = .init(conversation) }
                }
            }
        }
    }

    public func updateDeliveries(
        request: Switchboard_Conversations_V1_UpdateDeliveriesRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_UpdateDeliveriesResponse {
        guard request.updates.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 updates per call", field: "updates")
        }
        var updates: [DeliveryUpdate] = []
        for (index, proto) in request.updates.enumerated() {
            guard let update = DeliveryUpdate(proto) else {
                throw ServiceFailure.invalid(
                    "invalid_update", "each update needs a message id and a status sent, delivered, read or failed",
                    field: "updates[\(index)]")
            }
            updates.append(update)
        }
        let found = try await store.updateDeliveries(orgID: try requireOrg(request.orgID), updates)
        return .with { $0.found = found }
    }

    public func updateDelivery(
        request: Switchboard_Conversations_V1_UpdateDeliveryRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_UpdateDeliveryResponse {
        guard let status = DeliveryStatus(rawValue: request.status), status != .received, status != .queued else {
            throw ServiceFailure.invalid(
                "invalid_status", "status must be sent, delivered, read, played or failed", field: "status")
        }
        guard !request.providerMessageID.isEmpty else {
            throw ServiceFailure.invalid("missing_provider_message_id", "provider_message_id is required", field: "provider_message_id")
        }
        let result = try await store.updateDelivery(
            orgID: try requireOrg(request.orgID), channelID: request.channelID,
            providerMessageID: request.providerMessageID, status: status,
            at: request.hasAt ? request.at.millis : Millis.now(), errorCode: request.errorCode.nonEmptyValue,
            errorText: request.errorText.nonEmptyValue, failureReason: request.failureReason.nonEmptyValue)
        return .with {
            $0.found = result.found
            $0.changed = result.changed
            if let message = result.message { $0.message = .init(message) }
        }
    }

    public func listConversations(
        request: Switchboard_Conversations_V1_ListConversationsRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_ListConversationsResponse {
        let page = try await store.conversations(
            orgID: try requireOrg(request.orgID), filter: try InboxFilter(request.filter), sort: try Self.sort(request.sort),
            cursor: request.page.cursor.nonEmptyValue, limit: try PageCursor.limit(request.page.limit))
        return .with {
            $0.conversations = page.items.map(Switchboard_Conversations_V1_Conversation.init)
            $0.page.nextCursor = page.nextCursor ?? ""
        }
    }

    public func countConversations(
        request: Switchboard_Conversations_V1_CountConversationsRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_CountConversationsResponse {
        let count = try await store.countConversations(
            orgID: try requireOrg(request.orgID), filter: try InboxFilter(request.filter), sort: try Self.sort(request.sort))
        return .with { $0.count = Int64(count) }
    }

    /// The order a list or count request names: empty is the newest activity first.
    static func sort(_ raw: String) throws(ServiceFailure) -> InboxSort {
        guard let sort = raw.isEmpty ? .activity : InboxSort(rawValue: raw) else {
            throw ServiceFailure.invalid("invalid_sort", "sort is activity or waiting", field: "sort")
        }
        return sort
    }

    public func getConversation(
        request: Switchboard_Conversations_V1_GetConversationRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_Conversation {
        .init(try await store.conversation(orgID: try requireOrg(request.orgID), id: request.id))
    }

    public func listMessages(
        request: Switchboard_Conversations_V1_ListMessagesRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_ListMessagesResponse {
        let page = try await store.messages(
            orgID: try requireOrg(request.orgID), conversationID: request.conversationID,
            cursor: request.page.cursor.nonEmptyValue, limit: try PageCursor.limit(request.page.limit))
        return .with {
            $0.messages = page.items.map(Switchboard_Conversations_V1_Message.init)
            $0.page.nextCursor = page.nextCursor ?? ""
        }
    }

    public func assign(
        request: Switchboard_Conversations_V1_AssignRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_Conversation {
        .init(try await store.assign(orgID: try requireOrg(request.orgID), id: request.id, agentID: request.agentID.nonEmptyValue))
    }

    public func setStatus(
        request: Switchboard_Conversations_V1_SetStatusRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_Conversation {
        guard let status = ConversationStatus(rawValue: request.status) else {
            throw ServiceFailure.invalid(
                "invalid_status", "unknown status '\(Echo.short(request.status))'", field: "status")
        }
        let agentID = request.actor.kind == "agent" && !request.actor.id.isEmpty ? request.actor.id : nil
        return .init(
            try await store.setStatus(orgID: try requireOrg(request.orgID), id: request.id, status: status, agentID: agentID))
    }

    public func bulk(
        request: Switchboard_Conversations_V1_BulkRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_BulkResponse {
        guard let action = BulkAction(rawValue: request.action) else {
            throw ServiceFailure.invalid(
                "invalid_action", "unknown bulk action '\(Echo.short(request.action))'", field: "action")
        }
        let affected = try await store.bulk(
            orgID: try requireOrg(request.orgID), action: action, ids: request.allMatching ? nil : request.ids,
            filter: request.allMatching ? try InboxFilter(request.filter) : nil)
        return .with { $0.affected = Int64(affected) }
    }

    public func createQuickReply(
        request: Switchboard_Conversations_V1_CreateQuickReplyRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_QuickReply {
        .init(
            try await store.createQuickReply(
                orgID: try requireOrg(request.orgID), shortcut: request.shortcut, content: request.content))
    }

    public func getQuickReply(
        request: Switchboard_Conversations_V1_GetQuickReplyRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_QuickReply {
        .init(try await store.quickReply(orgID: try requireOrg(request.orgID), id: request.id))
    }

    public func listQuickReplies(
        request: Switchboard_Conversations_V1_ListQuickRepliesRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_ListQuickRepliesResponse {
        let replies = try await store.quickReplies(orgID: try requireOrg(request.orgID), prefix: request.prefix.nonEmptyValue)
        return .with { $0.quickReplies = replies.map(Switchboard_Conversations_V1_QuickReply.init) }
    }

    public func updateQuickReply(
        request: Switchboard_Conversations_V1_UpdateQuickReplyRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_QuickReply {
        .init(
            try await store.updateQuickReply(
                orgID: try requireOrg(request.orgID), id: request.id,
                shortcut: request.hasShortcut ? request.shortcut : nil, content: request.hasContent ? request.content : nil))
    }

    public func deleteQuickReply(
        request: Switchboard_Conversations_V1_DeleteQuickReplyRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_DeleteQuickReplyResponse {
        try await store.deleteQuickReply(orgID: try requireOrg(request.orgID), id: request.id)
        return .init()
    }

    public func renderQuickReply(
        request: Switchboard_Conversations_V1_RenderQuickReplyRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_RenderQuickReplyResponse {
        let text = try await store.renderQuickReply(orgID: try requireOrg(request.orgID), id: request.id, values: request.values)
        return .with { $0.text = text }
    }

    public func getCsatSettings(
        request: Switchboard_Conversations_V1_GetCsatSettingsRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_CsatSettings {
        .init(try await store.csatSettings(orgID: try requireOrg(request.orgID)))
    }

    public func setCsatSettings(
        request: Switchboard_Conversations_V1_SetCsatSettingsRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_CsatSettings {
        .init(try await store.setCsatSettings(orgID: try requireOrg(request.orgID), CsatSettings(request.settings)))
    }

    public func markCsatSurvey(
        request: Switchboard_Conversations_V1_MarkCsatSurveyRequest, context: ServerContext
    ) async throws -> Switchboard_Conversations_V1_MarkCsatSurveyResponse {
        let status = try await store.markCsatSurvey(
            orgID: try requireOrg(request.orgID), surveyID: request.surveyID, messageID: request.messageID.nonEmptyValue,
            failure: request.failureReason.nonEmptyValue)
        return .with { $0.status = status }
    }

    public func subscribe(
        request: Switchboard_Common_V1_SubscribeRequest, response: RPCWriter<Switchboard_Common_V1_EventBatch>,
        context: ServerContext
    ) async throws {
        try await EventLog.serve(request, reader: store.writer, writer: response)
    }
}

extension String {
    fileprivate var nonEmptyValue: String? { isEmpty ? nil : self }
}

extension Switchboard_Conversations_V1_CsatSettings {
    init(_ settings: CsatSettings) {
        self.init()
        enabled = settings.enabled
        question = settings.question
        templateName = settings.templateName ?? ""
        templateLanguage = settings.templateLanguage
        cooldownHours = Int32(settings.cooldownHours)
    }
}

extension CsatSettings {
    init(_ proto: Switchboard_Conversations_V1_CsatSettings) {
        self.init()
        enabled = proto.enabled
        question = proto.question
        templateName = proto.templateName.isEmpty ? nil : proto.templateName
        if !proto.templateLanguage.isEmpty { templateLanguage = proto.templateLanguage }
        cooldownHours = Int(proto.cooldownHours)
    }
}
