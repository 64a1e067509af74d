import ConversationsKit
import Foundation
import GRDB
import GRPCCore
import ServiceKit
import Testing

@testable import ConversationsService

/// The event log (appended with each change, nothing for a refused one) and CSAT surveys: opened on resolution,
/// marked sent, answered and commented by the contact's next messages, without reopening anything.
@Suite struct EventsCsatTests {
    func events(_ store: ConversationsStore, after: Int64 = 0) async throws -> [(sequence: Int64, type: String, payload: [String: Any])] {
        let rows = try await store.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT sequence, type, payload FROM event WHERE sequence > ? ORDER BY sequence", arguments: [after])
                .map { row in (row[0] as Int64, row[1] as String, row[2] as String) }
        }
        return try rows.map { row in
            (row.0, row.1, try JSONSerialization.jsonObject(with: Data(row.2.utf8)) as? [String: Any] ?? [:])
        }
    }

    func lastSequence(_ store: ConversationsStore) async throws -> Int64 {
        try await store.writer.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) FROM event") ?? 0 }
    }

    @Test func changesAppendEventsAndRefusalsAppendNone() async throws {
        let store = try ConversationsStore.inMemory()
        let received = try await receive(store, person("c1"), "hello")
        var log = try await events(store)
        #expect(log.map(\.type) == ["conversation.opened", "message.received"])
        #expect(log[0].payload["conversationId"] as? String == received.conversation.id)
        #expect(log[0].payload["openedBy"] as? String == "inbound")
        #expect(log[1].payload["messageId"] as? String == received.message.id)
        #expect(log[1].payload["text"] as? String == "hello")
        #expect(log[0].sequence < log[1].sequence)

        let before = try await lastSequence(store)
        await expectFailure("invalid_transition") {
            _ = try await store.setStatus(orgID: orgA, id: received.conversation.id, status: .open)
        }
        #expect(try await lastSequence(store) == before)

        _ = try await store.assign(orgID: orgA, id: received.conversation.id, agentID: "agent-1")
        _ = try await store.setStatus(orgID: orgA, id: received.conversation.id, status: .resolved, agentID: "agent-2")
        log = try await events(store, after: before)
        #expect(log.map(\.type) == ["conversation.assigned", "conversation.resolved", "csat.requested"])
        #expect(log[0].payload["agentId"] as? String == "agent-1")
        #expect(log[1].payload["agentId"] as? String == "agent-2")
        #expect(log[2].payload["agentId"] as? String == "agent-2")
        #expect(log[2].payload["question"] as? String == CsatSettings().question)
    }

    /// Resolves the contact's conversation and marks its survey sent; answers the survey id.
    func resolveAndSend(_ store: ConversationsStore, _ conversationID: String, now: Millis = at(1)) async throws -> String? {
        _ = try await store.setStatus(orgID: orgA, id: conversationID, status: .resolved, now: now)
        guard let survey = try await events(store).last(where: { $0.type == "csat.requested" }),
            let id = survey.payload["surveyId"] as? String
        else { return nil }
        let status = try await store.markCsatSurvey(orgID: orgA, surveyID: id, messageID: "m-survey", failure: nil)
        #expect(status == "sent")
        return id
    }

    @Test func anAnswerAndItsCommentLandInTheResolvedConversation() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), "hello", now: at(0))
        let survey = try #require(try await resolveAndSend(store, first.conversation.id))
        // Marking again is idempotent.
        #expect(try await store.markCsatSurvey(orgID: orgA, surveyID: survey, messageID: "other", failure: nil) == "sent")

        let answer = try await receive(store, person("c1"), "5", now: at(2))
        #expect(!answer.opened && answer.conversation.id == first.conversation.id)
        #expect(answer.conversation.status == .resolved)
        let comment = try await receive(store, person("c1"), "super fast, thanks", now: at(5))
        #expect(!comment.opened && comment.conversation.id == first.conversation.id)
        let log = try await events(store).filter { $0.type.hasPrefix("csat.") }
        #expect(log.map(\.type) == ["csat.requested", "csat.sent", "csat.answered", "csat.commented"])
        #expect((log[2].payload["rating"] as? NSNumber)?.intValue == 5)
        #expect(log[2].payload["comment"] is NSNull)
        #expect(log[3].payload["comment"] as? String == "super fast, thanks")
        // A third message is a new conversation.
        let next = try await receive(store, person("c1"), "one more question", now: at(6))
        #expect(next.opened && next.conversation.id != first.conversation.id)
    }

    @Test func aRatingWithTextKeepsTheTextAndTheCommentWindowCloses() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), "hello", now: at(0))
        _ = try #require(try await resolveAndSend(store, first.conversation.id))
        let answer = try await receive(store, person("c1"), " 4 - great help", now: at(2))
        #expect(!answer.opened)
        let answered = try #require(try await events(store).last { $0.type == "csat.answered" })
        #expect(answered.payload["comment"] as? String == "great help")
        let later = try await receive(store, person("c1"), "thanks", now: at(3))
        #expect(later.opened, "an answer with a comment takes no second comment")

        let store2 = try ConversationsStore.inMemory()
        let other = try await receive(store2, person("c2"), "hello", now: at(0))
        _ = try #require(try await resolveAndSend(store2, other.conversation.id))
        _ = try await receive(store2, person("c2"), "3", now: at(2))
        let late = try await receive(store2, person("c2"), "slow reply", now: at(13))
        #expect(late.opened, "more than 10 minutes after the answer a text is a new conversation")
    }

    @Test func onlyASentUnexpiredSurveyCaptures() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), "hello", now: at(0))
        _ = try await store.setStatus(orgID: orgA, id: first.conversation.id, status: .resolved, now: at(1))
        // Pending (messaging has not sent it): a digit is a message like any other.
        let pending = try await receive(store, person("c1"), "5", now: at(2))
        #expect(pending.opened)

        let store2 = try ConversationsStore.inMemory()
        let second = try await receive(store2, person("c2"), "hello", now: at(0))
        let survey = try #require(try await resolveAndSend(store2, second.conversation.id, now: .now()))
        let expired = try await receive(store2, person("c2"), "5", now: .now() + 7 * 24 * 3600 * 1000 + 1)
        #expect(expired.opened, "survey \(survey) expired after 7 days")
    }

    @Test func cooldownDisabledAndFailedSurveys() async throws {
        let store = try ConversationsStore.inMemory()
        let first = try await receive(store, person("c1"), "hello", now: at(0))
        let survey = try #require(try await resolveAndSend(store, first.conversation.id))
        _ = try await receive(store, person("c1"), "2", now: at(2))
        let second = try await receive(store, person("c1"), "again", now: at(20))
        #expect(second.opened)
        _ = try await store.setStatus(orgID: orgA, id: second.conversation.id, status: .resolved, now: at(21))
        let requests = try await events(store).filter { $0.type == "csat.requested" }
        #expect(requests.count == 1, "one survey per contact per 24 h (first \(survey))")

        // A failed survey does not count for the cooldown.
        let store2 = try ConversationsStore.inMemory()
        let a = try await receive(store2, person("c2"), "hello", now: at(0))
        _ = try await store2.setStatus(orgID: orgA, id: a.conversation.id, status: .resolved, now: at(1))
        let failed = try #require(try await events(store2).last { $0.type == "csat.requested" }?.payload["surveyId"] as? String)
        #expect(try await store2.markCsatSurvey(orgID: orgA, surveyID: failed, messageID: nil, failure: "contact_not_opted_in") == "failed")
        let b = try await receive(store2, person("c2"), "back", now: at(2))
        _ = try await store2.setStatus(orgID: orgA, id: b.conversation.id, status: .resolved, now: at(3))
        #expect(try await events(store2).filter { $0.type == "csat.requested" }.count == 2)

        // Disabled: no survey.
        var settings = CsatSettings()
        settings.enabled = false
        _ = try await store2.setCsatSettings(orgID: orgA, settings)
        let c = try await receive(store2, person("c3"), "hi", now: at(4))
        _ = try await store2.setStatus(orgID: orgA, id: c.conversation.id, status: .resolved, now: at(5))
        #expect(try await events(store2).filter { $0.type == "csat.requested" }.count == 2)
    }

    @Test func settingsAreValidated() async throws {
        let store = try ConversationsStore.inMemory()
        #expect(try await store.csatSettings(orgID: orgA) == CsatSettings())
        var settings = CsatSettings()
        settings.question = "  "
        await expectFailure("invalid_field") { _ = try await store.setCsatSettings(orgID: orgA, settings) }
        settings = CsatSettings()
        settings.cooldownHours = 721
        await expectFailure("invalid_field") { _ = try await store.setCsatSettings(orgID: orgA, settings) }
        settings = CsatSettings()
        settings.templateName = "Bad Name"
        await expectFailure("invalid_field") { _ = try await store.setCsatSettings(orgID: orgA, settings) }
        settings = CsatSettings()
        settings.templateName = "csat_survey"
        settings.cooldownHours = 0
        #expect(try await store.setCsatSettings(orgID: orgA, settings) == settings)
        #expect(try await store.csatSettings(orgID: orgB) == CsatSettings())
    }

    @Test(arguments: [
        ("5", 5, nil), (" 4 - great help", 4, "great help"), ("1/5 awful", 1, "5 awful"), ("3.", 3, nil),
        ("10", nil, nil), ("6", nil, nil), ("0", nil, nil), ("great 5", nil, nil), ("", nil, nil),
    ] as [(String, Int?, String?)])
    func ratings(text: String, rating: Int?, comment: String?) {
        let parsed = Csat.rating(of: InboundMessage(providerMessageID: "p", type: "text", text: text))
        #expect(parsed?.0 == rating)
        #expect(parsed?.1 == comment)
    }

    @Test func listReplies() {
        func reply(_ id: String) -> InboundMessage {
            InboundMessage(
                providerMessageID: "p", type: "interactive", text: "x",
                contentJSON: "{\"kind\":\"list_reply\",\"id\":\"\(id)\",\"title\":\"x\"}")
        }
        #expect(Csat.rating(of: reply("csat_3"))?.0 == 3)
        #expect(Csat.rating(of: reply("csat_9")) == nil)
        #expect(Csat.rating(of: reply("other")) == nil)
    }
}
