import ContactsKit
import ConversationsKit
import ServiceKit
import Testing

@testable import ConversationsService

/// Messaging's accepted sends as conversations records them: idempotent by message id, into the contact's open
/// conversation when no conversation is named, the channel switcher remembered, delivery reports by message id.
@Suite struct OutboundRecordTests {
    func send(
        _ store: ConversationsStore, id: String, conversation: String?, contact: ContactSnapshot? = nil,
        channel: String? = nil, medium: Medium? = nil, now: Millis = at(2)
    ) async throws -> Message {
        try await store.recordOutbound(
            OutboundRecord(
                orgID: orgA, messageID: id, conversationID: conversation, contact: contact, channelID: channel,
                medium: medium, type: "text", text: "reply \(id)", contentJSON: #"{"type":"text"}"#,
                senderAgentID: "agent-1"), now: now)
    }

    @Test func recordingTheSameMessageIDTwiceAnswersTheStoredMessage() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        let first = try await send(store, id: "m-1", conversation: conversation.id)
        let again = try await send(store, id: "m-1", conversation: conversation.id, now: at(5))
        #expect(first == again)
        #expect(first.senderAgentID == "agent-1" && first.status == .queued)
        #expect(try await store.messages(orgID: orgA, conversationID: conversation.id, cursor: nil, limit: 10).items.count == 2)
    }

    @Test func aContactSendUsesTheOpenConversationOrOpensOne() async throws {
        let store = try ConversationsStore.inMemory()
        let open = try await receive(store, person("c1")).conversation
        let into = try await send(store, id: "m-1", conversation: nil, contact: person("c1"), channel: whatsapp, medium: .whatsapp)
        #expect(into.conversationID == open.id)
        let fresh = try await send(store, id: "m-2", conversation: nil, contact: person("c2"), channel: whatsapp, medium: .whatsapp)
        #expect(fresh.conversationID != open.id)
        let opened = try await store.conversation(orgID: orgA, id: fresh.conversationID)
        #expect(opened.status == .open && opened.contact.id == "c2" && opened.lastInboundAt == nil)
        #expect(opened.window?.open != true)  // never written by the contact: no window
    }

    @Test func theChannelSwitcherIsRemembered() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        let viaSMS = try await send(store, id: "m-1", conversation: conversation.id, channel: sms, medium: .sms)
        #expect(viaSMS.channelID == sms)
        var stored = try await store.conversation(orgID: orgA, id: conversation.id)
        #expect(stored.replyChannelID == sms && stored.replyMedium == .sms && stored.channelID == whatsapp)
        _ = try await send(store, id: "m-2", conversation: conversation.id, channel: whatsapp, medium: .whatsapp)
        stored = try await store.conversation(orgID: orgA, id: conversation.id)
        #expect(stored.replyChannelID == nil && stored.replyMedium == nil)
    }

    @Test func deliveryReportsMoveForwardAndPickUpAnEarlierWebhook() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        _ = try await send(store, id: "m-1", conversation: conversation.id)
        // The provider's `delivered` webhook arrives before the worker reported `sent` with the wamid.
        let early = try await store.updateDelivery(
            orgID: orgA, channelID: whatsapp, providerMessageID: "wamid.1", status: .delivered, at: at(4),
            errorCode: nil, errorText: nil)
        #expect(early.found == false)
        let found = try await store.updateDeliveries(
            orgID: orgA,
            [
                DeliveryUpdate(messageID: "m-1", status: .sent, providerMessageID: "wamid.1", at: at(3)),
                DeliveryUpdate(messageID: "nope", status: .sent, providerMessageID: "wamid.2", at: at(3)),
            ])
        #expect(found == [true, false])
        var message = try #require(try await store.messages(orgID: orgA, conversationID: conversation.id, cursor: nil, limit: 1).items.first)
        #expect(message.providerMessageID == "wamid.1" && message.status == .delivered && message.statusAt == at(4))
        // A late `sent` report changes nothing; a failure after delivery is ignored.
        _ = try await store.updateDeliveries(
            orgID: orgA,
            [DeliveryUpdate(messageID: "m-1", status: .failed, at: at(5), errorCode: "131026", errorText: "x", failureReason: "undeliverable")])
        message = try #require(try await store.messages(orgID: orgA, conversationID: conversation.id, cursor: nil, limit: 1).items.first)
        #expect(message.status == .delivered && message.failureReason == nil)
    }

    @Test func aFailureCarriesTheProvidersCodeTextAndReason() async throws {
        let store = try ConversationsStore.inMemory()
        let conversation = try await receive(store, person("c1")).conversation
        _ = try await send(store, id: "m-1", conversation: conversation.id)
        _ = try await store.updateDeliveries(
            orgID: orgA,
            [DeliveryUpdate(messageID: "m-1", status: .failed, at: at(3), errorCode: "131047", errorText: "Re-engagement message", failureReason: "window_closed")])
        let message = try #require(try await store.messages(orgID: orgA, conversationID: conversation.id, cursor: nil, limit: 1).items.first)
        #expect(message.status == .failed && message.errorCode == "131047" && message.failureReason == "window_closed")
    }
}
