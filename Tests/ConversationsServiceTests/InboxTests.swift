import GRPCCore
import ContactsKit
import ConversationsKit
import GRDB
import ServiceKit
import Testing

@testable import ConversationsService

@Suite struct InboxTests {
    /// Five conversations with distinct traits; `ids[n]` is conversation n (activity minute n).
    func seed() async throws -> (ConversationsStore, [String]) {
        let store = try ConversationsStore.inMemory()
        var ids: [String] = []
        ids.append(try await receive(store, person("c0", name: "Ana Souza", phone: "+5511987654321"), now: at(0)).conversation.id)
        ids.append(try await receive(store, person("c1", name: "Bruno"), now: at(1)).conversation.id)
        ids.append(
            try await receive(store, channel: sms, medium: .sms, person("c2", name: "Carla", phone: "+14155550100"), now: at(2))
                .conversation.id)
        ids.append(try await receive(store, person("c3", name: "Dário"), now: at(3)).conversation.id)
        ids.append(try await receive(store, person("c4", name: "Eva"), now: at(4)).conversation.id)
        _ = try await store.assign(orgID: orgA, id: ids[1], agentID: "agent-1")
        _ = try await store.setStatus(orgID: orgA, id: ids[3], status: .resolved)
        _ = try await store.setStatus(orgID: orgA, id: ids[2], status: .botActive)
        _ = try await store.bulk(orgID: orgA, action: .star, ids: [ids[0], ids[2]], filter: nil)
        _ = try await store.bulk(orgID: orgA, action: .markRead, ids: [ids[0], ids[1]], filter: nil)
        _ = try await store.bulk(orgID: orgA, action: .archive, ids: [ids[4]], filter: nil)
        try await receive(store, org: orgB, person("c9", name: "Ana Other"), now: at(9))
        return (store, ids)
    }

    func list(_ store: ConversationsStore, _ filter: InboxFilter) async throws -> [String] {
        try await store.conversations(orgID: orgA, filter: filter, cursor: nil, limit: 50).items.map(\.id)
    }

    @Test func filtersSelectTheirConversationsNewestFirst() async throws {
        let (store, ids) = try await seed()
        #expect(try await list(store, InboxFilter()) == [ids[3], ids[2], ids[1], ids[0]])
        #expect(try await list(store, InboxFilter(statuses: [.open])) == [ids[0]])
        #expect(try await list(store, InboxFilter(statuses: [.resolved, .botActive])) == [ids[3], ids[2]])
        #expect(try await list(store, InboxFilter(assignee: .agent("agent-1"))) == [ids[1]])
        #expect(try await list(store, InboxFilter(assignee: .unassigned)) == [ids[3], ids[2], ids[0]])
        #expect(try await list(store, InboxFilter(medium: .sms)) == [ids[2]])
        #expect(try await list(store, InboxFilter(medium: .whatsapp)) == [ids[3], ids[1], ids[0]])
        #expect(try await list(store, InboxFilter(channelID: sms)) == [ids[2]])
        #expect(try await list(store, InboxFilter(starred: true)) == [ids[2], ids[0]])
        #expect(try await list(store, InboxFilter(starred: false)) == [ids[3], ids[1]])
        #expect(try await list(store, InboxFilter(unread: true)) == [ids[3], ids[2]])
        #expect(try await list(store, InboxFilter(unread: false)) == [ids[1], ids[0]])
        #expect(try await list(store, InboxFilter(contactID: "c1")) == [ids[1]])
        #expect(try await list(store, InboxFilter(archived: true)) == [ids[4]])
        #expect(try await list(store, InboxFilter(archived: false)) == [ids[3], ids[2], ids[1], ids[0]])
        #expect(try await list(store, InboxFilter(statuses: [.open], starred: true, unread: false)) == [ids[0]])
        #expect(try await list(store, InboxFilter(deleted: true)) == [])
    }

    @Test func searchMatchesNameOrPhoneFragments() async throws {
        let (store, ids) = try await seed()
        #expect(try await list(store, InboxFilter(query: "ana")) == [ids[0]])
        #expect(try await list(store, InboxFilter(query: "  SOUZA ")) == [ids[0]])
        #expect(try await list(store, InboxFilter(query: "dário")) == [ids[3]])
        #expect(try await list(store, InboxFilter(query: "98765-4321")) == [ids[0]])
        #expect(try await list(store, InboxFilter(query: "(415) 555")) == [ids[2]])
        #expect(try await list(store, InboxFilter(query: "+1415")) == [ids[2]])
        #expect(try await list(store, InboxFilter(query: "%")) == [])
        #expect(try await list(store, InboxFilter(query: "zzz")) == [])
    }

    /// A frequent fragment walks the inbox index, a rare one sorts its few matches: both answer newest first,
    /// page by page, and a renamed contact is found under its new name only.
    @Test func searchWithManyOrFewMatchesPagesTheSameWay() async throws {
        let store = try ConversationsStore.inMemory()
        let many = InboxQuery.sortedSearchLimit + 50
        for index in 0..<many {
            try await receive(store, person("m\(index)", name: "Common Name \(index)"), now: at(index))
        }
        for index in 0..<3 {
            try await receive(store, person("r\(index)", name: "Rare Zyx \(index)"), now: at(many + index))
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await store.conversations(
                orgID: orgA, filter: InboxFilter(query: "common"), cursor: cursor, limit: 200, now: at(many + 10))
            seen += page.items.map(\.contact.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == (0..<many).reversed().map { "m\($0)" })
        let rare = try await store.conversations(
            orgID: orgA, filter: InboxFilter(query: "zyx"), cursor: nil, limit: 2, now: at(many + 10))
        #expect(rare.items.map(\.contact.id) == ["r2", "r1"])
        let rest = try await store.conversations(
            orgID: orgA, filter: InboxFilter(query: "zyx"), cursor: rare.nextCursor, limit: 2, now: at(many + 10))
        #expect(rest.items.map(\.contact.id) == ["r0"])
        #expect(rest.nextCursor == nil)

        try await receive(store, person("r0", name: "Renamed Qwv"), now: at(many + 20))
        #expect(try await list(store, InboxFilter(query: "qwv")).count == 1)
        #expect(try await list(store, InboxFilter(query: "zyx")).count == 2)
    }

    @Test func keysetPagesHaveNoDuplicateAndNoGap() async throws {
        let store = try ConversationsStore.inMemory()
        var expected: [String] = []
        for n in 0..<25 {
            // Pairs share an activity time, so the id breaks ties.
            let result = try await receive(store, person("p\(n)"), now: at(n / 2))
            expected.append(result.conversation.id)
        }
        let all = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: nil, limit: 100).items
        let ordered = all.sorted { ($0.lastActivityAt, $0.id) > ($1.lastActivityAt, $1.id) }.map(\.id)
        #expect(all.map(\.id) == ordered)
        #expect(Set(ordered) == Set(expected))

        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: cursor, limit: 4)
            #expect(page.items.count <= 4)
            seen += page.items.map(\.id)
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil
        #expect(pages == 7)
        #expect(seen == ordered)
        #expect(Set(seen).count == 25)
    }

    @Test func malformedCursorIsInvalid() async throws {
        let store = try ConversationsStore.inMemory()
        for cursor in ["nope", PageCursor.encode(["x", Identifier.make()]), PageCursor.encode(["1"])] {
            await expectFailure("invalid_cursor") {
                _ = try await store.conversations(orgID: orgA, filter: InboxFilter(), cursor: cursor, limit: 4)
            }
        }
    }

    static let planFilters: [InboxFilter] = [
        InboxFilter(), InboxFilter(statuses: [.open]), InboxFilter(statuses: [.open, .assigned]),
        InboxFilter(assignee: .agent("a1")), InboxFilter(assignee: .unassigned), InboxFilter(medium: .sms),
        InboxFilter(channelID: "ch"), InboxFilter(starred: true), InboxFilter(starred: false),
        InboxFilter(archived: true), InboxFilter(archived: false), InboxFilter(unread: true),
        InboxFilter(unread: false), InboxFilter(query: "ana"), InboxFilter(contactID: "c1"),
        InboxFilter(deleted: true), InboxFilter(channelID: "ch", starred: true, unread: true, query: "555"),
        InboxFilter(statuses: [.resolved], assignee: .agent("a1"), archived: true),
    ]

    /// Every filter's page reads an index in (org_id, …, last_activity_at, id) order: no sort, no table scan.
    @Test(arguments: planFilters)
    func inboxQueryUsesAnIndexWithoutSorting(filter: InboxFilter) async throws {
        let store = try ConversationsStore.inMemory()
        let query = InboxQuery(orgID: orgA, filter: filter, now: at(0))
        for after in [nil, (activity: at(0), id: Identifier.make())] {
            let (sql, arguments) = query.select(after: after, limit: 51)
            let plan = try await store.writer.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }
            #expect(!plan.isEmpty)
            for step in plan {
                #expect(!step.contains("TEMP B-TREE"), "\(step)")
                #expect(!(step.hasPrefix("SCAN conversation") && !step.contains("INDEX")), "\(step)")
            }
        }
    }

    /// A rare search fetches its matches by rowid and sorts them; it never walks the org's inbox index.
    @Test func aRareSearchLooksUpItsMatchesInsteadOfWalkingTheInbox() async throws {
        let store = try ConversationsStore.inMemory()
        let query = InboxQuery(orgID: orgA, filter: InboxFilter(query: "ana souza"), now: at(0))
        let (sql, arguments) = query.select(after: nil, limit: 51, indexed: false)
        let plan = try await store.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING INTEGER PRIMARY KEY") }, "\(plan)")
        #expect(!plan.contains { $0.contains("conversation_inbox") }, "\(plan)")
    }

    @Test func orgIsolation() async throws {
        let (store, ids) = try await seed()
        let other = try await store.conversations(orgID: orgB, filter: InboxFilter(), cursor: nil, limit: 10)
        #expect(other.items.count == 1 && !ids.contains(other.items[0].id))
        await expectFailure("conversation_not_found") { _ = try await store.conversation(orgID: orgB, id: ids[0]) }
        await expectFailure("conversation_not_found") {
            _ = try await store.messages(orgID: orgB, conversationID: ids[0], cursor: nil, limit: 5)
        }
        await expectFailure("conversation_not_found") { _ = try await store.assign(orgID: orgB, id: ids[0], agentID: "x") }
        await expectFailure("conversation_not_found") {
            _ = try await store.setStatus(orgID: orgB, id: ids[0], status: .resolved)
        }
        #expect(try await store.bulk(orgID: orgB, action: .delete, ids: ids, filter: nil) == 0)
        #expect(try await list(store, InboxFilter()).count == 4)
    }
}
