import ConversationsKit
import GRPCCore
import ServiceKit
import Testing

@testable import ConversationsService

/// Quick reply content: variables checked when saved, values or fallbacks when rendered; shortcuts unique per org.
@Suite("Quick replies")
struct QuickReplyTests {
    static let values = ["contact.name": "Ana Souza", "org.name": "Acme", "agent.name": "Bo", "date": "2026-12-01",
                         "time": "09:30"]

    @Test(arguments: [
        ("Hi {{contact.firstName}}!", "Hi Ana!"),
        ("Hi {{contact.name}}, {{agent.name}} from {{org.name}} here", "Hi Ana Souza, Bo from Acme here"),
        ("{{date}} {{time}}", "2026-12-01 09:30"),
        ("Hello {{ contact.firstName | there }}", "Hello Ana"),
        ("No variables at all", "No variables at all"),
    ])
    func rendersValues(content: String, expected: String) throws {
        #expect(try QuickReplyText(content).render(Self.values) == expected)
    }

    @Test func missingValuesRenderTheirFallbackOrNothing() throws {
        let text = try QuickReplyText("Hi {{contact.firstName|there}}, I am {{agent.name}}.")
        #expect(text.render([:]) == "Hi there, I am .")
        #expect(text.render(["contact.name": "  "]) == "Hi there, I am .")
        #expect(text.variableNames == ["contact.firstName", "agent.name"])
    }

    @Test(arguments: ["Hi {{contact.nmae}}", "{{unknown}}", "Hi {{contact.name", "{{}}", "   ", ""])
    func refusesUnknownVariablesAndBrokenContent(content: String) {
        #expect(throws: ServiceFailure.self) { try QuickReplyText(content) }
    }

    @Test(arguments: [("/greeting", "/greeting"), (" /Thanks_2 ", "/thanks_2")])
    func acceptsShortcuts(raw: String, expected: String) throws {
        #expect(try QuickReplyText.shortcut(raw) == expected)
    }

    @Test(arguments: ["greeting", "/", "/with space", "/é", "/" + String(repeating: "a", count: 32)])
    func refusesShortcuts(raw: String) {
        #expect(throws: ServiceFailure.self) { try QuickReplyText.shortcut(raw) }
    }

    @Test func storeKeepsShortcutsUniquePerOrgAndListsByPrefix() async throws {
        let store = try ConversationsStore.inMemory()
        let greeting = try await store.createQuickReply(orgID: orgA, shortcut: "/greeting", content: "Hi {{contact.name}}")
        _ = try await store.createQuickReply(orgID: orgA, shortcut: "/goodbye", content: "Bye")
        _ = try await store.createQuickReply(orgID: orgA, shortcut: "/thanks", content: "Thanks")
        _ = try await store.createQuickReply(orgID: orgB, shortcut: "/greeting", content: "Other org")
        await expectFailure("quick_reply_exists") {
            _ = try await store.createQuickReply(orgID: orgA, shortcut: "/GREETING", content: "again")
        }
        #expect(try await store.quickReplies(orgID: orgA, prefix: "/g").map(\.shortcut) == ["/goodbye", "/greeting"])
        #expect(try await store.quickReplies(orgID: orgA, prefix: nil).count == 3)
        #expect(try await store.renderQuickReply(orgID: orgA, id: greeting.id, values: ["contact.name": "Ana"]) == "Hi Ana")
        await expectFailure("quick_reply_not_found") { _ = try await store.quickReply(orgID: orgB, id: greeting.id) }
        let changed = try await store.updateQuickReply(orgID: orgA, id: greeting.id, shortcut: nil, content: "Yo {{date}}")
        #expect(changed.variables == ["date"])
        await expectFailure("unknown_variable") {
            _ = try await store.updateQuickReply(orgID: orgA, id: greeting.id, shortcut: nil, content: "{{nope}}")
        }
    }
}
