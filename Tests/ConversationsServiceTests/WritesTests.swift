import GRPCCore
import ContactsKit
import ConversationsKit
import ServiceKit
import Testing

@testable import ConversationsService

@Suite struct WritesTests {
    @Test func assignAndUnassign() async throws {
        let store = try ConversationsStore.inMemory()
        let id = try await receive(store, person("c1")).conversation.id
        var conversation = try await store.assign(orgID: orgA, id: id, agentID: "agent-1")
        #expect(conversation.status == .assigned && conversation.assigneeID == "agent-1")
        conversation = try await store.assign(orgID: orgA, id: id, agentID: "agent-2")
        #expect(conversation.status == .assigned && conversation.assigneeID == "agent-2")
        conversation = try await store.assign(orgID: orgA, id: id, agentID: "")
        #expect(conversation.status == .open && conversation.assigneeID == nil)
        await expectFailure("invalid_transition") { _ = try await store.assign(orgID: orgA, id: id, agentID: nil) }
        _ = try await store.setStatus(orgID: orgA, id: id, status: .resolved)
        do {
            _ = try await store.assign(orgID: orgA, id: id, agentID: "agent-1")
            Issue.record("assigning a resolved conversation succeeded")
        } catch let failure as ServiceFailure {
            #expect(failure.code == .failedPrecondition && failure.reason == "invalid_transition")
        }
        await expectFailure("conversation_not_found") {
            _ = try await store.assign(orgID: orgA, id: Identifier.make(), agentID: "agent-1")
        }
    }

    @Test func setStatusFollowsTheTable() async throws {
        let store = try ConversationsStore.inMemory()
        let id = try await receive(store, person("c1")).conversation.id
        await expectFailure("invalid_transition") { _ = try await store.setStatus(orgID: orgA, id: id, status: .open) }
        await expectFailure("invalid_transition") {
            _ = try await store.setStatus(orgID: orgA, id: id, status: .assigned)
        }
        _ = try await store.assign(orgID: orgA, id: id, agentID: "agent-1")
        var conversation = try await store.setStatus(orgID: orgA, id: id, status: .aiActive)
        #expect(conversation.status == .aiActive)
        conversation = try await store.setStatus(orgID: orgA, id: id, status: .botActive)
        #expect(conversation.status == .botActive)
        conversation = try await store.setStatus(orgID: orgA, id: id, status: .resolved, now: at(30))
        #expect(conversation.status == .resolved && conversation.resolvedAt == at(30))
        await expectFailure("invalid_transition") {
            _ = try await store.setStatus(orgID: orgA, id: id, status: .botActive)
        }
        conversation = try await store.setStatus(orgID: orgA, id: id, status: .open)
        #expect(conversation.status == .open && conversation.resolvedAt == nil && conversation.assigneeID == nil)
    }

    @Test func reopenFailsWhenAnotherConversationIsOpen() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), now: at(0)).conversation.id
        _ = try await store.setStatus(orgID: orgA, id: first, status: .resolved)
        let second = try await receive(store, person("c1"), now: at(1)).conversation.id
        do {
            _ = try await store.setStatus(orgID: orgA, id: first, status: .open)
            Issue.record("reopen succeeded")
        } catch let failure as ServiceFailure {
            #expect(failure.code == .alreadyExists && failure.reason == "conversation_open_exists")
            #expect(failure.details == ["conversationId": second])
        }
        _ = try await store.setStatus(orgID: orgA, id: second, status: .resolved)
        let reopened = try await store.setStatus(orgID: orgA, id: first, status: .open)
        #expect(reopened.status == .open)
    }

    @Test func bulkByIDs() async throws {
        let store = try ConversationsStore.inMemory()
        var ids: [String] = []
        for n in 0..<3 { ids.append(try await receive(store, person("c\(n)"), now: at(n)).conversation.id) }
        let foreign = try await receive(store, org: orgB, person("x")).conversation.id
        #expect(try await store.bulk(orgID: orgA, action: .star, ids: [ids[0], ids[1], foreign], filter: nil) == 2)
        #expect(try await store.bulk(orgID: orgA, action: .star, ids: ids, filter: nil) == 1)
        #expect(try await store.bulk(orgID: orgA, action: .unstar, ids: [ids[0]], filter: nil) == 1)
        #expect(try await store.bulk(orgID: orgA, action: .archive, ids: [ids[2]], filter: nil) == 1)
        #expect(try await store.bulk(orgID: orgA, action: .unarchive, ids: [ids[2]], filter: nil) == 1)
        #expect(try await store.bulk(orgID: orgA, action: .markRead, ids: ids, filter: nil) == 3)
        #expect(try await store.bulk(orgID: orgA, action: .markRead, ids: [], filter: nil) == 0)
        let starred = try await store.conversations(orgID: orgA, filter: InboxFilter(starred: true), cursor: nil, limit: 9)
        #expect(starred.items.map(\.id) == [ids[2], ids[1]])
        #expect(try await store.conversation(orgID: orgB, id: foreign).starred == false)
        await expectFailure("too_many_ids") {
            _ = try await store.bulk(orgID: orgA, action: .star, ids: (0...1000).map { _ in Identifier.make() }, filter: nil)
        }
        #expect(try await store.bulk(orgID: orgA, action: .star, ids: (0..<1000).map { _ in Identifier.make() }, filter: nil) == 0)
    }

    @Test func bulkByFilterTouchesWhatTheInboxLists() async throws {
        let store = try ConversationsStore.inMemory()
        var ids: [String] = []
        for n in 0..<4 {
            ids.append(try await receive(store, channel: n < 2 ? sms : whatsapp, medium: n < 2 ? .sms : .whatsapp,
                person("c\(n)"), now: at(n)).conversation.id)
        }
        _ = try await receive(store, org: orgB, channel: sms, medium: .sms, person("x"))
        _ = try await store.bulk(orgID: orgA, action: .archive, ids: [ids[0]], filter: nil)
        // Archived conversations are not in the default inbox, so a filter without `archived` skips them.
        #expect(try await store.bulk(orgID: orgA, action: .markRead, ids: nil, filter: InboxFilter(channelID: sms)) == 1)
        #expect(try await store.conversation(orgID: orgA, id: ids[0]).unreadCount == 1)
        #expect(try await store.conversation(orgID: orgA, id: ids[1]).unreadCount == 0)
        #expect(try await store.bulk(orgID: orgA, action: .delete, ids: nil, filter: InboxFilter(medium: .whatsapp)) == 2)
        let trash = try await store.conversations(orgID: orgA, filter: InboxFilter(deleted: true), cursor: nil, limit: 9)
        #expect(trash.items.map(\.id) == [ids[3], ids[2]])
        #expect(try await store.bulk(orgID: orgA, action: .restore, ids: nil, filter: InboxFilter(deleted: true)) == 2)
        #expect(try await store.bulk(orgID: orgA, action: .star, ids: nil, filter: nil) == 0)
    }

    @Test func softDeleteRestoreAndPurge() async throws {
        let store = try ConversationsStore.inMemory()
        let day: Millis = 24 * 3_600_000
        let kept = try await receive(store, person("c1"), providerID: "m1", now: at(0)).conversation.id
        let old = try await receive(store, person("c2"), providerID: "m2", now: at(0)).conversation.id
        #expect(try await store.bulk(orgID: orgA, action: .delete, ids: [kept, old], filter: nil, now: at(10)) == 2)
        #expect(try await store.bulk(orgID: orgA, action: .delete, ids: [kept], filter: nil, now: at(11)) == 0)
        var inbox = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: nil, limit: 9)
        #expect(inbox.items.isEmpty)
        #expect(try await store.conversation(orgID: orgA, id: kept).deletedAt == at(10))

        // A message from the contact of a deleted open conversation opens a new one; restoring the old one is skipped.
        let fresh = try await receive(store, person("c1"), now: at(20))
        #expect(fresh.opened && fresh.conversation.id != kept)
        #expect(try await store.bulk(orgID: orgA, action: .restore, ids: [kept], filter: nil, now: at(21)) == 0)
        _ = try await store.setStatus(orgID: orgA, id: fresh.conversation.id, status: .resolved)
        #expect(try await store.bulk(orgID: orgA, action: .restore, ids: [kept], filter: nil, now: at(22)) == 1)
        inbox = try await store.conversations(orgID: orgA, filter: InboxFilter(statuses: [.open]), cursor: nil, limit: 9)
        #expect(inbox.items.map(\.id) == [kept])

        // After 30 days it is no longer restorable, and purge removes it with its messages.
        #expect(try await store.bulk(orgID: orgA, action: .restore, ids: [old], filter: nil, now: at(10) + 31 * day) == 0)
        #expect(try await store.purgeDeleted(olderThan: at(10) + 31 * day - ConversationsStore.restoreWindow) == 1)
        await expectFailure("conversation_not_found") { _ = try await store.conversation(orgID: orgA, id: old) }
        // Its provider message id is free again: the message went with it.
        #expect(try await receive(store, person("c2"), providerID: "m2").duplicate == false)
        #expect(try await store.purgeDeleted(olderThan: at(10) + 31 * day) == 0)
    }

    @Test func restoringTwoOpenConversationsOfOneContactRestoresOne() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), now: at(0)).conversation.id
        _ = try await store.bulk(orgID: orgA, action: .delete, ids: [first], filter: nil, now: at(1))
        let second = try await receive(store, person("c1"), now: at(2)).conversation.id
        _ = try await store.bulk(orgID: orgA, action: .delete, ids: [second], filter: nil, now: at(3))
        #expect(try await store.bulk(orgID: orgA, action: .restore, ids: [first, second], filter: nil, now: at(4)) == 1)
        let open = try await store.conversations(orgID: orgA, filter: InboxFilter(contactID: "c1"), cursor: nil, limit: 9)
        #expect(open.items.count == 1)
    }
}
