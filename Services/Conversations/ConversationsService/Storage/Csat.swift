import ConversationsKit
import Foundation
import GRDB
import GRPCCore
public import ServiceKit

/// An organisation's CSAT survey settings (docs/events.md). No row means the defaults.
public struct CsatSettings: Sendable, Equatable {
    public var enabled = true
    public var question = "How would you rate our service today?"
    public var templateName: String?
    public var templateLanguage = "en_US"
    public var cooldownHours = 24

    public init() {}

    /// Refuses what the settings cannot hold (the REST layer's 400s).
    public func validate() throws(ServiceFailure) {
        let question = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty, question.count <= 1024 else {
            throw .invalid("invalid_field", "question must be 1 to 1024 characters", field: "question")
        }
        if let templateName {
            guard templateName.count <= 512, templateName.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" })
            else {
                throw .invalid(
                    "invalid_field", "templateName must be a WhatsApp template name (a-z, 0-9, _)",
                    field: "templateName")
            }
        }
        guard (2...15).contains(templateLanguage.count),
            templateLanguage.allSatisfy({ $0.isLetter || $0 == "_" || $0 == "-" })
        else { throw .invalid("invalid_field", "templateLanguage must be a language code like en_US", field: "templateLanguage") }
        guard (0...720).contains(cooldownHours) else {
            throw .invalid("invalid_field", "cooldownHours must be between 0 and 720", field: "cooldownHours")
        }
    }
}

/// A survey answer or comment found in an inbound message, to record with it.
struct CsatCapture {
    var surveyID: String
    var conversationID: String
    var contactID: String
    var channelID: String
    var medium: String
    var agentID: String?
    var rating: Int?
    var comment: String?
    /// True when the message answers (a rating), false when it only adds the comment.
    var answers: Bool
}

/// CSAT surveys: opened by a resolution, sent by messaging, answered by the contact's next message.
enum Csat {
    static let lifetime: Millis = 7 * 24 * 3600 * 1000
    static let commentWindow: Millis = 10 * 60 * 1000

    static func settings(_ db: Database, orgID: String) throws -> CsatSettings {
        var settings = CsatSettings()
        if let row = try Row.fetchOne(
            db,
            sql: "SELECT enabled, question, template_name, template_language, cooldown_hours FROM csat_settings WHERE org_id = ?",
            arguments: [orgID])
        {
            settings.enabled = row[0]
            settings.question = row[1]
            settings.templateName = row[2]
            settings.templateLanguage = row[3]
            settings.cooldownHours = row[4]
        }
        return settings
    }

    static func save(_ db: Database, orgID: String, _ settings: CsatSettings) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO csat_settings (org_id, enabled, question, template_name, template_language,
                    cooldown_hours) VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                orgID, settings.enabled, settings.question.trimmingCharacters(in: .whitespacesAndNewlines),
                settings.templateName, settings.templateLanguage, settings.cooldownHours,
            ])
    }

    /// On resolution: opens a survey (`csat.requested`) when CSAT is on, the customer wrote in this conversation,
    /// and the contact had no survey (other than a failed one) in the cooldown.
    static func open(_ db: Database, _ conversation: ConversationRecord, agentID: String?, now: Millis) throws {
        let settings = try settings(db, orgID: conversation.orgID)
        guard settings.enabled, conversation.lastInboundAt != nil else { return }
        let cooldownStart = now - Millis(settings.cooldownHours) * 3600 * 1000
        let recent = try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM csat_survey WHERE org_id = ? AND contact_id = ? AND created_at > ?
                    AND status != 'failed')
                """, arguments: [conversation.orgID, conversation.contact.id, cooldownStart]) ?? false
        guard !recent || settings.cooldownHours == 0 else { return }
        let id = Identifier.make()
        try db.execute(
            sql: """
                INSERT INTO csat_survey (id, org_id, conversation_id, contact_id, channel_id, medium, agent_id, status,
                    created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                """,
            arguments: [
                id, conversation.orgID, conversation.id, conversation.contact.id, conversation.channelID,
                conversation.medium.rawValue, agentID, now, now + lifetime,
            ])
        try event(
            db, "csat.requested", orgID: conversation.orgID, surveyID: id, conversationID: conversation.id,
            contactID: conversation.contact.id, at: now
        ) { payload in
            payload.set("channelId", conversation.channelID)
            payload.set("medium", conversation.medium.rawValue)
            payload.set("agentId", agentID)
            payload.set("question", settings.question)
            payload.set("templateName", settings.templateName)
            payload.set("templateLanguage", settings.templateLanguage)
        }
    }

    /// Appends a `csat.*` event: the survey, its conversation and contact, then `fields`.
    static func event(
        _ db: Database, _ type: String, orgID: String, surveyID: String, conversationID: String, contactID: String,
        at: Millis, _ fields: (inout EventPayload) -> Void
    ) throws {
        var payload = EventPayload()
        payload.set("surveyId", surveyID)
        payload.set("conversationId", conversationID)
        payload.set("contactId", contactID)
        fields(&payload)
        try EventLog.append(
            db, orgID: orgID, type: type, subjectID: surveyID, contactID: contactID, payload: payload, at: at)
    }

    /// messaging's outcome for a pending survey: `sent` with its message, or `failed` with the reason. A survey
    /// already past `pending` keeps its status (the call is idempotent). Answers the status afterwards.
    static func mark(_ db: Database, orgID: String, surveyID: String, messageID: String?, failure: String?, now: Millis)
        throws -> String
    {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT status, conversation_id, contact_id FROM csat_survey WHERE org_id = ? AND id = ?",
            arguments: [orgID, surveyID])
        else { throw ServiceFailure(.notFound, "survey_not_found", "no CSAT survey \(surveyID)") }
        let status: String = row[0]
        guard status == "pending" else { return status }
        let sent = failure == nil
        try db.execute(
            sql: """
                UPDATE csat_survey SET status = ?, sent_at = ?, message_id = ?, failure_reason = ?,
                    expires_at = ? WHERE id = ?
                """,
            arguments: [sent ? "sent" : "failed", now, messageID, failure, now + lifetime, surveyID])
        try event(
            db, sent ? "csat.sent" : "csat.failed", orgID: orgID, surveyID: surveyID, conversationID: row[1],
            contactID: row[2], at: now
        ) { payload in
            if sent { payload.set("messageId", messageID) } else { payload.set("reason", failure) }
        }
        return sent ? "sent" : "failed"
    }

    /// The survey an inbound message answers or comments, when the contact has no open conversation on the channel:
    /// a sent, unexpired survey and a rating (list reply `csat_N`, or text starting with a digit 1–5), or a survey
    /// answered without a comment less than 10 minutes ago and a text.
    static func capture(
        _ db: Database, orgID: String, contactID: String, channelID: String, message: InboundMessage, now: Millis
    ) throws -> CsatCapture? {
        guard let row = try Row.fetchOne(
            db,
            sql: """
                SELECT id, conversation_id, contact_id, channel_id, medium, agent_id, status, rating FROM csat_survey
                WHERE org_id = ? AND contact_id = ? AND channel_id = ?
                  AND ((status = 'sent' AND expires_at > ?)
                    OR (status = 'answered' AND comment IS NULL AND answered_at > ?))
                ORDER BY created_at DESC LIMIT 1
                """, arguments: [orgID, contactID, channelID, now, now - commentWindow])
        else { return nil }
        var capture = CsatCapture(
            surveyID: row[0], conversationID: row[1], contactID: row[2], channelID: row[3], medium: row[4],
            agentID: row[5], rating: row[7], comment: nil, answers: false)
        if (row[6] as String) == "sent" {
            guard let (rating, comment) = rating(of: message) else { return nil }
            capture.rating = rating
            capture.comment = comment
            capture.answers = true
        } else {
            let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard message.type == "text", !text.isEmpty else { return nil }
            capture.comment = String(text.prefix(1000))
        }
        return capture
    }

    /// Stores an answer or comment found by `capture` (`csat.answered` / `csat.commented`).
    static func record(_ db: Database, _ capture: CsatCapture, orgID: String, now: Millis) throws {
        if capture.answers {
            try db.execute(
                sql: "UPDATE csat_survey SET status = 'answered', rating = ?, comment = ?, answered_at = ? WHERE id = ?",
                arguments: [capture.rating, capture.comment, now, capture.surveyID])
        } else {
            try db.execute(
                sql: "UPDATE csat_survey SET comment = ? WHERE id = ?", arguments: [capture.comment, capture.surveyID])
        }
        try event(
            db, capture.answers ? "csat.answered" : "csat.commented", orgID: orgID, surveyID: capture.surveyID,
            conversationID: capture.conversationID, contactID: capture.contactID, at: now
        ) { payload in
            payload.set("channelId", capture.channelID)
            payload.set("medium", capture.medium)
            payload.set("agentId", capture.agentID)
            payload.set("rating", capture.rating.map { Int64($0) })
            payload.set("comment", capture.comment)
        }
    }

    /// A rating and the rest of the text as comment: a list/button reply with id `csat_N`, or a text whose first
    /// non-blank character is a digit 1–5 not followed by another digit.
    static func rating(of message: InboundMessage) -> (Int, String?)? {
        if message.type == "interactive" {
            guard let object = try? JSONSerialization.jsonObject(with: Data(message.contentJSON.utf8)) as? [String: Any],
                let id = object["id"] as? String, id.hasPrefix("csat_"), let value = Int(id.dropFirst(5)),
                (1...5).contains(value)
            else { return nil }
            return (value, nil)
        }
        guard message.type == "text" else { return nil }
        let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = text.first, let value = first.wholeNumberValue, first.isASCII, (1...5).contains(value) else {
            return nil
        }
        let rest = text.dropFirst()
        if let next = rest.first, next.isNumber { return nil }
        let comment = rest.drop { $0.isWhitespace || $0.isPunctuation || $0 == "/" }
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (value, comment.isEmpty ? nil : String(comment.prefix(1000)))
    }
}

extension ConversationsStore {
    public func csatSettings(orgID: String) async throws -> CsatSettings {
        try await writer.read { db in try Csat.settings(db, orgID: orgID) }
    }

    public func setCsatSettings(orgID: String, _ settings: CsatSettings) async throws -> CsatSettings {
        try settings.validate()
        return try await writer.write { db in
            try Csat.save(db, orgID: orgID, settings)
            return try Csat.settings(db, orgID: orgID)
        }
    }

    public func markCsatSurvey(orgID: String, surveyID: String, messageID: String?, failure: String?) async throws
        -> String
    {
        try await writer.write { db in
            try Csat.mark(db, orgID: orgID, surveyID: surveyID, messageID: messageID, failure: failure, now: .now())
        }
    }
}
