import GRPCCore
import ContactsKit
import ConversationsKit
import ServiceKit
import Testing

@testable import ConversationsService

@Suite struct InboundTests {
    @Test func opensReusesAndOpensAgainAfterResolve() async throws {
        let store = try ConversationsStore.inMemory()
        let ana = person("c-ana")
        let first = try await receive(store, ana, "hello", now: at(0))
        #expect(first.opened && !first.duplicate)
        #expect(first.conversation.status == .open)
        #expect(first.message.direction == .inbound && first.message.status == .received)
        #expect(first.message.recordedAt == at(0))

        let second = try await receive(store, ana, "again", now: at(1))
        #expect(!second.opened)
        #expect(second.conversation.id == first.conversation.id)
        #expect(second.conversation.unreadCount == 2)
        #expect(second.conversation.lastMessage?.text == "again")

        // Another channel is another conversation.
        let onSMS = try await receive(store, channel: sms, medium: .sms, ana, "sms", now: at(2))
        #expect(onSMS.opened && onSMS.conversation.id != first.conversation.id)
        #expect(onSMS.conversation.window == nil && !onSMS.conversation.hasWindow)

        _ = try await store.setStatus(orgID: orgA, id: first.conversation.id, status: .resolved, now: at(3))
        let third = try await receive(store, ana, "back", now: at(4))
        #expect(third.opened && third.conversation.id != first.conversation.id)
        let resolved = try await store.conversation(orgID: orgA, id: first.conversation.id)
        #expect(resolved.status == .resolved && resolved.resolvedAt == at(3))
    }

    /// Activity is when the message was recorded; the 24-hour window runs from when the customer wrote (the
    /// provider's timestamp, never later than the recording: a clock ahead cannot stretch the window).
    @Test func activityAtRecordingWindowFromTheCustomersTimeAndSnapshotRefreshed() async throws {
        let store = try ConversationsStore.inMemory()
        var message = text("hi")
        message.sentAt = at(-500)
        let first = try await store.recordInbound(
            orgID: orgA, channelID: whatsapp, medium: .whatsapp, contact: person("c1", name: "Old"),
            mergedContactIDs: [], message: message, now: at(10))
        #expect(first.conversation.lastActivityAt == at(10))
        #expect(first.conversation.lastInboundAt == at(-500))
        #expect(first.message.sentAt == at(-500))
        var ahead = text("from the future")
        ahead.sentAt = at(60)
        let later = try await store.recordInbound(
            orgID: orgA, channelID: whatsapp, medium: .whatsapp, contact: person("c1", name: "Old"),
            mergedContactIDs: [], message: ahead, now: at(10))
        #expect(later.conversation.lastInboundAt == at(10))
        let second = try await receive(
            store, ContactSnapshot(id: "c1", name: "New", phone: "+1555", whatsappUsername: "newbie"), now: at(11))
        #expect(second.conversation.contact.name == "New")
        #expect(second.conversation.contact.whatsappUsername == "newbie")
    }

    @Test func redeliveredMessageIsAnsweredNotStored() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), providerID: "wamid.1", now: at(0))
        for minute in 1...2 {
            let again = try await receive(store, person("c1"), "other text", providerID: "wamid.1", now: at(minute))
            #expect(again.duplicate && !again.opened)
            #expect(again.message == first.message)
            #expect(again.conversation.unreadCount == 1)
            #expect(again.conversation.lastActivityAt == at(0))
        }
        let page = try await store.messages(orgID: orgA, conversationID: first.conversation.id, cursor: nil, limit: 10)
        #expect(page.items.count == 1)
    }

    @Test func concurrentRedeliveriesStoreOneMessage() async throws {
        let store = try ConversationsStore.inMemory()
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { try await receive(store, person("c1"), providerID: "wamid.same").duplicate }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { !$0 }.count == 1)
        let inbox = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: nil, limit: 10)
        #expect(inbox.items.count == 1)
        #expect(inbox.items[0].unreadCount == 1)
        let messages = try await store.messages(orgID: orgA, conversationID: inbox.items[0].id, cursor: nil, limit: 10)
        #expect(messages.items.count == 1)
    }

    @Test func sameProviderIDInAnotherOrgIsAnotherMessage() async throws {
        let store = try ConversationsStore.inMemory()
        let a = try await receive(store, org: orgA, person("c1"), providerID: "wamid.x")
        let b = try await receive(store, org: orgB, person("c1"), providerID: "wamid.x")
        #expect(!b.duplicate && b.message.id != a.message.id)
    }

    @Test func mergeMovesConversationsAndKeepsOneOpen() async throws {
        let store = try ConversationsStore.inMemory()
        // The merged contact has an older open conversation on WhatsApp and one on SMS; the survivor a newer one.
        let oldWA = try await receive(store, person("c-old"), now: at(0))
        let oldSMS = try await receive(store, channel: sms, medium: .sms, person("c-old"), now: at(1))
        let keptWA = try await receive(store, person("c-new"), now: at(2))

        let merged = try await receive(store, person("c-new", name: "Merged"), merged: ["c-old"], now: at(3))
        #expect(merged.conversation.id == keptWA.conversation.id)

        let movedWA = try await store.conversation(orgID: orgA, id: oldWA.conversation.id)
        #expect(movedWA.contact.id == "c-new" && movedWA.status == .resolved)
        let movedSMS = try await store.conversation(orgID: orgA, id: oldSMS.conversation.id)
        #expect(movedSMS.contact.id == "c-new" && movedSMS.status == .open && movedSMS.contact.name == "Merged")
        let messages = try await store.messages(orgID: orgA, conversationID: oldSMS.conversation.id, cursor: nil, limit: 5)
        #expect(messages.items.allSatisfy { $0.contactID == "c-new" })

        let byContact = try await store.conversations(
            orgID: orgA, filter: InboxFilter(contactID: "c-old"), cursor: nil, limit: 10)
        #expect(byContact.items.isEmpty)
    }

    @Test func mergeResolvesTheSurvivorsOlderConversation() async throws {
        let store = try ConversationsStore.inMemory()
        let survivorOld = try await receive(store, person("c-new"), now: at(0))
        let mergedNewer = try await receive(store, person("c-old"), now: at(5))
        let result = try await receive(store, person("c-new"), merged: ["c-old"], now: at(6))
        #expect(result.conversation.id == mergedNewer.conversation.id)
        let old = try await store.conversation(orgID: orgA, id: survivorOld.conversation.id)
        #expect(old.status == .resolved)
    }

    @Test func unreadCountsInboundAndMarkReadClearsIt() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), now: at(0))
        try await receive(store, person("c1"), now: at(1))
        _ = try await store.recordOutbound(
            orgID: orgA, conversationID: first.conversation.id, type: "text", text: "reply", contentJSON: "{}",
            providerMessageID: "out.1", status: .queued, senderAgentID: "agent-1", now: at(2))
        var conversation = try await store.conversation(orgID: orgA, id: first.conversation.id)
        #expect(conversation.unreadCount == 2)
        #expect(conversation.lastActivityAt == at(2))
        #expect(conversation.lastMessage?.direction == .outbound && conversation.lastMessage?.text == "reply")
        #expect(conversation.lastInboundAt == at(1))

        let affected = try await store.bulk(orgID: orgA, action: .markRead, ids: [first.conversation.id], filter: nil)
        #expect(affected == 1)
        conversation = try await store.conversation(orgID: orgA, id: first.conversation.id)
        #expect(conversation.unreadCount == 0)
    }

    @Test func windowFollowsTheLastInboundMessage() async throws {
        let store = try ConversationsStore.inMemory()
        let opened = try await receive(store, person("c1"), now: at(0))
        let id = opened.conversation.id
        let day: Millis = 24 * 3_600_000
        #expect(opened.conversation.window == Window(open: true, expiresAt: at(0) + day))
        let later = try await store.conversation(orgID: orgA, id: id, now: at(0) + day + 1)
        #expect(later.window == Window(open: false, expiresAt: at(0) + day))
        #expect(later.hasWindow)
        let refreshed = try await receive(store, person("c1"), now: at(0) + day + 2)
        #expect(refreshed.conversation.window == Window(open: true, expiresAt: at(0) + 2 * day + 2))
    }

    @Test func newInboundMessageBringsAnArchivedConversationBack() async throws {
        let store = try ConversationsStore.inMemory()
        let opened = try await receive(store, person("c1"), now: at(0))
        _ = try await store.bulk(orgID: orgA, action: .archive, ids: [opened.conversation.id], filter: nil)
        var inbox = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: nil, limit: 10)
        #expect(inbox.items.isEmpty)
        try await receive(store, person("c1"), now: at(1))
        inbox = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: nil, limit: 10)
        #expect(inbox.items.map(\.id) == [opened.conversation.id])
        #expect(inbox.items[0].archived == false)
    }

    @Test func aBatchRecordsInOrderAndDeduplicatesWithinItself() async throws {
        let store = try ConversationsStore.inMemory()
        let ana = person("c-ana")
        let items = ["x1", "x2", "x1"].map { id in
            InboundRecord(
                orgID: orgA, channelID: whatsapp, medium: .whatsapp, contact: ana, mergedContactIDs: [],
                message: text("body \(id)", id: id))
        }
        let results = try await store.recordInbound(items, now: at(1))
        let recorded = try results.map { try $0.get() }
        #expect(recorded.map(\.duplicate) == [false, false, true])
        #expect(recorded[2].message.id == recorded[0].message.id)
        #expect(Set(recorded.map(\.conversation.id)).count == 1)
        let conversation = try await store.conversation(orgID: orgA, id: recorded[0].conversation.id, now: at(1))
        #expect(conversation.unreadCount == 2)
    }
}
