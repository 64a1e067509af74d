import ConversationsKit
import Foundation
import GRDB
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
import ServiceLifecycle
import SwitchboardClient
import SwitchboardProtos

/// Sends CSAT surveys: follows the conversations event log (cursor in messaging.db) and, for every
/// `csat.requested`, sends the survey through `Sender` under every sending rule, then tells conversations the
/// outcome. The idempotency key `csat:<survey id>` makes a replayed event (after a crash before the cursor moved)
/// answer the first send instead of sending again.
struct CsatSurveyor: Service {
    static let source = "conversations"
    let store: MessagingStore
    let sender: Sender
    let conversations: ConversationsClient<ServiceTransport>
    let logger: Logger

    func run() async throws {
        let follower = EventFollower(
            source: Self.source, logger: logger,
            subscribe: { [conversations] after, handle in try await conversations.subscribe(after: after, handle) },
            cursor: { [store] in try await store.writer.read { db in try EventCursors.load(db, source: Self.source) } },
            apply: { batch in try await apply(batch) })
        try? await cancelWhenGracefulShutdown { await follower.run() }
    }

    func apply(_ batch: Switchboard_Common_V1_EventBatch) async throws {
        var applied = 0
        for event in batch.events where event.type == "csat.requested" {
            let fresh = try await store.writer.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM seen_event WHERE id = ?", arguments: [event.id]) == 0
            }
            guard fresh else { continue }
            try await survey(event)
            try await store.writer.write { db in _ = try EventCursors.firstSeen(db, id: event.id) }
            applied += 1
        }
        guard let last = batch.events.last else { return }
        let count = applied
        try await store.writer.write { db in
            try EventCursors.advance(db, source: Self.source, to: last.sequence, applied: count)
        }
    }

    /// The survey's message: a list of 1–5 on WhatsApp with the window open, the configured template when it is
    /// closed, plain text on SMS and the sandbox.
    func survey(_ event: Switchboard_Common_V1_Event) async throws {
        guard let payload = try? JSONSerialization.jsonObject(with: Data(event.payloadJson.utf8)) as? [String: Any],
            let surveyID = payload["surveyId"] as? String, let conversationID = payload["conversationId"] as? String
        else {
            logger.error("csat.requested \(event.id) has no survey: skipped")
            return
        }
        // A survey asked for long ago (messaging's cursor was reset) is not sent any more.
        if event.occurredAt.millis < Millis.now() - Self.staleAfter {
            _ = try await conversations.markCsatSurvey(
                orgID: event.orgID, surveyID: surveyID, messageID: nil, failureReason: "expired")
            return
        }
        let question = payload["question"] as? String ?? CsatSettingsDefaults.question
        let channelID = payload["channelId"] as? String ?? ""
        let medium = payload["medium"] as? String ?? "whatsapp"
        let kind = try? await store.storedChannel(orgID: event.orgID, id: channelID).channel.kind
        let text = Self.text(question)
        var attempts: [(key: String, json: String)] = []
        if medium == Medium.sms.rawValue || kind == .sandbox {
            attempts = [("csat:\(surveyID)", text)]
        } else {
            attempts = [("csat:\(surveyID)", Self.list(question))]
            if let name = payload["templateName"] as? String, !name.isEmpty {
                let language = payload["templateLanguage"] as? String ?? "en_US"
                attempts.append(("csat:\(surveyID):template", Self.template(name, language)))
            }
        }
        var failure = "window_closed"
        for (index, attempt) in attempts.enumerated() {
            do {
                let sent = try await sender.send(
                    SendCommand(
                        orgID: event.orgID, conversationID: conversationID, contactID: nil, channelID: nil, medium: nil,
                        idempotencyKey: attempt.key, senderAgentID: nil, messageJSON: attempt.json))
                _ = try await conversations.markCsatSurvey(
                    orgID: event.orgID, surveyID: surveyID, messageID: sent.message.id, failureReason: nil)
                return
            } catch {
                // A refusal by the rules ends here; anything else (a service down) retries the event later.
                guard let refusal = error as? ServiceFailure, refusal.code != .unavailable,
                    refusal.code != .internalError, refusal.code != .deadlineExceeded
                else { throw error }
                failure = refusal.reason
                // Only a closed window falls through to the template.
                if refusal.reason != "window_closed" || index == attempts.count - 1 { break }
            }
        }
        logger.info("CSAT survey \(surveyID) not sent: \(failure)")
        _ = try await conversations.markCsatSurvey(
            orgID: event.orgID, surveyID: surveyID, messageID: nil, failureReason: failure)
    }

    static let staleAfter: Millis = 24 * 3600 * 1000

    static func text(_ question: String) -> String {
        json(["type": "text", "text": "\(question)\nReply with a number from 1 (poor) to 5 (excellent)."])
    }

    static func list(_ question: String) -> String {
        let rows: [[String: Any]] = (1...5).map { rating in
            ["id": "csat_\(rating)", "title": "\(rating)", "description": Self.labels[rating - 1]]
        }
        return json([
            "type": "interactive",
            "interactive": [
                "type": "list", "body": String(question.prefix(1024)), "button": "Rate us",
                "sections": [["title": "Your rating", "rows": rows]],
            ] as [String: Any],
        ])
    }

    static let labels = ["Poor", "Fair", "Good", "Very good", "Excellent"]

    static func template(_ name: String, _ language: String) -> String {
        json(["type": "template", "template": ["name": name, "language": language]])
    }

    private static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

enum CsatSettingsDefaults {
    static let question = "How would you rate our service today?"
}
