import GRPCCore
import ContactsKit
import ConversationsKit
import ServiceKit
import Testing

@testable import ConversationsService

@Suite struct DeliveryTests {
    func outbound(_ store: ConversationsStore, _ conversationID: String, providerID: String?) async throws -> Message {
        try await store.recordOutbound(
            orgID: orgA, conversationID: conversationID, type: "text", text: "hello", contentJSON: "{}",
            providerMessageID: providerID, status: .queued, senderAgentID: nil, now: at(1))
    }

    @Test func statusesMoveOnlyForward() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        _ = try await outbound(store, conversation.id, providerID: "p1")
        func update(_ status: DeliveryStatus, _ minute: Int, code: String? = nil) async throws
            -> (found: Bool, changed: Bool, message: Message?)
        {
            try await store.updateDelivery(
                orgID: orgA, channelID: whatsapp, providerMessageID: "p1", status: status, at: at(minute),
                errorCode: code, errorText: code.map { "error \($0)" })
        }
        var result = try await update(.delivered, 2)
        #expect(result.found && result.changed && result.message?.status == .delivered)
        #expect(result.message?.statusAt == at(2))
        result = try await update(.sent, 3)
        #expect(result.found && !result.changed && result.message?.status == .delivered)
        result = try await update(.delivered, 3)
        #expect(!result.changed)
        result = try await update(.failed, 4, code: "131047")
        #expect(!result.changed && result.message?.status == .delivered && result.message?.errorCode == nil)
        result = try await update(.read, 5)
        #expect(result.changed && result.message?.status == .read)
        result = try await update(.played, 6)
        #expect(result.changed && result.message?.status == .played)
    }

    @Test func failedFollowsQueuedOrSentAndIsFinal() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        _ = try await outbound(store, conversation.id, providerID: "p2")
        let failed = try await store.updateDelivery(
            orgID: orgA, channelID: whatsapp, providerMessageID: "p2", status: .failed, at: at(2),
            errorCode: "131026", errorText: "undeliverable")
        #expect(failed.changed && failed.message?.status == .failed)
        #expect(failed.message?.errorCode == "131026" && failed.message?.errorText == "undeliverable")
        let late = try await store.updateDelivery(
            orgID: orgA, channelID: whatsapp, providerMessageID: "p2", status: .delivered, at: at(3), errorCode: nil,
            errorText: nil)
        #expect(!late.changed && late.message?.status == .failed)
    }

    @Test func inboundMessagesKeepReceived() async throws {
        let store = try ConversationsStore.inMemory()
        try await receive(store, person("c1"), providerID: "in.1")
        let result = try await store.updateDelivery(
            orgID: orgA, channelID: whatsapp, providerMessageID: "in.1", status: .read, at: at(2), errorCode: nil,
            errorText: nil)
        #expect(result.found && !result.changed && result.message?.status == .received)
    }

    @Test func statusBeforeTheMessageIsKeptAndAppliedLater() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        for (status, minute) in [(DeliveryStatus.delivered, 2), (.sent, 3), (.read, 4), (.failed, 5)] {
            let result = try await store.updateDelivery(
                orgID: orgA, channelID: whatsapp, providerMessageID: "early", status: status, at: at(minute),
                errorCode: nil, errorText: nil)
            #expect(!result.found && !result.changed && result.message == nil)
        }
        let message = try await outbound(store, conversation.id, providerID: "early")
        #expect(message.status == .read && message.statusAt == at(4))
        let stored = try await store.messages(orgID: orgA, conversationID: conversation.id, cursor: nil, limit: 1)
        #expect(stored.items.first == message)
        // The pending status was consumed: a later message with another id starts queued.
        let other = try await outbound(store, conversation.id, providerID: "other")
        #expect(other.status == .queued)
    }

    @Test func statusesKeptTooLongAreForgotten() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        for (id, minute) in [("old", 2), ("recent", 60)] {
            _ = try await store.updateDelivery(
                orgID: orgA, channelID: whatsapp, providerMessageID: id, status: .delivered, at: at(minute),
                errorCode: nil, errorText: nil)
        }
        #expect(try await store.purgePendingDeliveries(olderThan: at(30)) == 1)
        #expect(try await outbound(store, conversation.id, providerID: "old").status == .queued)
        #expect(try await outbound(store, conversation.id, providerID: "recent").status == .delivered)
    }

    @Test func pendingFailureAppliesToQueuedMessage() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        _ = try await store.updateDelivery(
            orgID: orgA, channelID: whatsapp, providerMessageID: "f1", status: .failed, at: at(2), errorCode: "470",
            errorText: "window closed")
        let message = try await outbound(store, conversation.id, providerID: "f1")
        #expect(message.status == .failed && message.errorCode == "470")
    }

    @Test func outboundRejectsOtherStatusesAndDuplicateProviderIDs() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1"), providerID: "in.9").conversation
        await expectFailure("invalid_status") {
            _ = try await store.recordOutbound(
                orgID: orgA, conversationID: conversation.id, type: "text", text: "x", contentJSON: "{}",
                providerMessageID: nil, status: .delivered, senderAgentID: nil)
        }
        await expectFailure("message_exists") {
            _ = try await self.outbound(store, conversation.id, providerID: "in.9")
        }
        await expectFailure("conversation_not_found") {
            _ = try await store.recordOutbound(
                orgID: orgB, conversationID: conversation.id, type: "text", text: "x", contentJSON: "{}",
                providerMessageID: nil, status: .queued, senderAgentID: nil)
        }
    }

    @Test func messagesPageNewestFirst() async throws {
        let store = try ConversationsStore.inMemory()
        var conversationID = ""
        var ids: [String] = []
        for minute in 0..<7 {
            let result = try await receive(store, person("c1"), "m\(minute)", now: at(minute))
            conversationID = result.conversation.id
            ids.append(result.message.id)
            try await Task.sleep(for: .milliseconds(2))  // UUIDv7 ids order by the millisecond
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await store.messages(orgID: orgA, conversationID: conversationID, cursor: cursor, limit: 3)
            seen += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == ids.reversed())
        await expectFailure("invalid_cursor") {
            _ = try await store.messages(orgID: orgA, conversationID: conversationID, cursor: "???", limit: 3)
        }
    }
}
