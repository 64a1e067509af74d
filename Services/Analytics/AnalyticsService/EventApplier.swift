import Foundation
import GRDB
import ServiceKit
import SwitchboardProtos

/// The effect of each event type on the timeline and the aggregates (docs/events.md), inside the caller's
/// transaction. Duration histograms touched by a batch are kept in memory and written once by `flush()`.
struct EventApplier {
    let db: Database
    private var histograms: [HistogramKey: Histogram] = [:]

    struct HistogramKey: Hashable {
        var orgID: String
        var metric: String
        var day: Int64
        var agentID: String
    }

    init(db: Database) {
        self.db = db
    }

    static func day(_ at: Millis) -> Int64 { at >= 0 ? at / 86_400_000 : (at - 86_399_999) / 86_400_000 }

    mutating func apply(_ event: Switchboard_Common_V1_Event) throws {
        let payload =
            (try? JSONSerialization.jsonObject(with: Data(event.payloadJson.utf8)) as? [String: Any]) ?? [:]
        let at = event.occurredAt.millis
        let org = event.orgID
        let day = Self.day(at)
        func text(_ key: String) -> String? {
            guard let value = payload[key] as? String, !value.isEmpty else { return nil }
            return value
        }
        switch event.type {
        case "message.received", "message.sent":
            let inbound = event.type == "message.received"
            let medium = text("medium") ?? "whatsapp"
            try bump("daily_messages", keys: ["org_id": org, "day": day, "channel": medium, "direction": inbound ? "inbound" : "outbound"], "n")
            try timeline(
                event, kind: "message", extra: inbound ? "\"status\":\"received\"" : nil,
                conversationID: text("conversationId"), messageID: text("messageId"))
            guard let conversationID = text("conversationId") else { return }
            if inbound {
                try db.cachedStatement(
                    sql: "UPDATE conversation_fact SET first_inbound_at = COALESCE(first_inbound_at, ?) WHERE conversation_id = ?"
                ).execute(arguments: [at, conversationID])
            } else {
                let agent = text("agentId")
                if let agent {
                    try bump("daily_agent", keys: ["org_id": org, "day": day, "agent_id": agent], "messages_sent")
                }
                // The first reply to a customer, before the conversation is resolved.
                if let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT first_inbound_at FROM conversation_fact WHERE conversation_id = ?
                              AND first_response_at IS NULL AND first_inbound_at IS NOT NULL AND resolved_at IS NULL
                            """), arguments: [conversationID])
                {
                    let firstInbound: Int64 = row[0]
                    try db.cachedStatement(
                        sql: "UPDATE conversation_fact SET first_response_at = ? WHERE conversation_id = ?"
                    ).execute(arguments: [at, conversationID])
                    record(org: org, metric: "first_response", day: day, agent: agent, seconds: (at - firstInbound) / 1000)
                }
            }
        case "message.status":
            guard let messageID = text("messageId") else { return }
            try db.cachedStatement(
                sql: """
                    UPDATE timeline SET details = json_set(details, '$.status', ?, '$.errorCode', ?, '$.reason', ?)
                    WHERE message_id = ?
                    """
            ).execute(arguments: [text("status"), text("errorCode"), text("reason"), messageID])
        case "conversation.opened":
            guard let conversationID = text("conversationId") else { return }
            let referral = payload["referral"] as? [String: Any]
            let sourceID = (referral?["sourceId"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO conversation_fact (conversation_id, org_id, contact_id, medium, opened_at,
                        ad_source_id) VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [conversationID, org, event.contactID, text("medium") ?? "whatsapp", at, sourceID])
            try bump("daily_conversations", keys: ["org_id": org, "day": day], "opened")
            if let sourceID {
                try ad(org: org, sourceID: sourceID, headline: referral?["headline"] as? String, url: referral?["sourceUrl"] as? String)
                try bump("daily_ad", keys: ["org_id": org, "source_id": sourceID, "day": day], "started")
            }
            try timeline(event, kind: "conversation", conversationID: conversationID)
        case "conversation.resolved":
            guard let conversationID = text("conversationId") else { return }
            let agent = text("agentId")
            try bump("daily_conversations", keys: ["org_id": org, "day": day], "resolved")
            if let agent { try bump("daily_agent", keys: ["org_id": org, "day": day, "agent_id": agent], "resolved") }
            if let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT opened_at, first_resolved_at, ad_source_id FROM conversation_fact WHERE conversation_id = ?"),
                arguments: [conversationID])
            {
                let openedAt: Int64 = row[0]
                let firstResolved: Int64? = row[1]
                let sourceID: String? = row[2]
                try db.cachedStatement(
                    sql: """
                        UPDATE conversation_fact SET resolved_at = ?, first_resolved_at = COALESCE(first_resolved_at, ?)
                        WHERE conversation_id = ?
                        """
                ).execute(arguments: [at, at, conversationID])
                if firstResolved == nil {
                    record(org: org, metric: "resolution", day: day, agent: agent, seconds: (at - openedAt) / 1000)
                    if let sourceID {
                        try bump("daily_ad", keys: ["org_id": org, "source_id": sourceID, "day": day], "resolved")
                    }
                }
            }
            try timeline(event, kind: "conversation", conversationID: conversationID)
        case "conversation.reopened":
            if let conversationID = text("conversationId") {
                try db.cachedStatement(sql: "UPDATE conversation_fact SET resolved_at = NULL WHERE conversation_id = ?")
                    .execute(arguments: [conversationID])
            }
            try timeline(event, kind: "conversation", conversationID: text("conversationId"))
        case "conversation.assigned", "conversation.unassigned", "conversation.status_changed":
            try timeline(event, kind: "conversation", conversationID: text("conversationId"))
        case "csat.answered":
            let rating = (payload["rating"] as? NSNumber)?.intValue ?? 0
            guard (1...5).contains(rating) else { return }
            try db.cachedStatement(
                sql: """
                    INSERT INTO daily_csat (org_id, day, agent_id, channel, rating, n) VALUES (?, ?, ?, ?, ?, 1)
                    ON CONFLICT DO UPDATE SET n = n + 1
                    """
            ).execute(arguments: [org, day, text("agentId") ?? "", text("medium") ?? "whatsapp", rating])
            if let conversationID = text("conversationId"),
                let sourceID = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT ad_source_id FROM conversation_fact WHERE conversation_id = ?"),
                    arguments: [conversationID])
            {
                try db.cachedStatement(
                    sql: """
                        INSERT INTO daily_ad (org_id, source_id, day, csat_sum, csat_count) VALUES (?, ?, ?, ?, 1)
                        ON CONFLICT DO UPDATE SET csat_sum = csat_sum + excluded.csat_sum, csat_count = csat_count + 1
                        """
                ).execute(arguments: [org, sourceID, day, rating])
            }
            try timeline(event, kind: "csat", conversationID: text("conversationId"))
        case "csat.sent":
            // The survey's message item says it is one.
            if let messageID = text("messageId"), let surveyID = text("surveyId") {
                try db.cachedStatement(
                    sql: "UPDATE timeline SET details = json_set(details, '$.csatSurveyId', ?) WHERE message_id = ?"
                ).execute(arguments: [surveyID, messageID])
            }
            try timeline(event, kind: "csat", conversationID: text("conversationId"))
        case "csat.requested", "csat.commented", "csat.failed":
            try timeline(event, kind: "csat", conversationID: text("conversationId"))
        case "contact.merged":
            let changes = payload["changes"] as? [String: Any]
            if let merged = text("mergedContactId") ?? (changes?["mergedContactId"] as? String), !merged.isEmpty,
                merged != event.contactID
            {
                try moveTimeline(org: org, from: merged, into: event.contactID)
            }
            try timeline(event, kind: "contact")
        case "contact.created", "contact.updated", "contact.deleted":
            try timeline(event, kind: "contact")
        case "consent.changed":
            try timeline(event, kind: "consent")
        case "tags.changed":
            try timeline(event, kind: "tags")
        case "contact.imported":
            try timeline(event, kind: "import")
        case "contact.attributed":
            if let sourceID = text("sourceId") {
                try ad(org: org, sourceID: sourceID, headline: text("headline"), url: text("sourceUrl"))
                try bump("daily_ad", keys: ["org_id": org, "source_id": sourceID, "day": day], "contacts")
            }
            try timeline(event, kind: "attribution")
        case "outbound.failed":
            try bump("daily_failures", keys: ["org_id": org, "day": day, "reason": text("reason") ?? "provider_error"], "n")
        default:
            break
        }
    }

    /// Adds one to `column` of the row with `keys`, creating it.
    private func bump(_ table: String, keys: KeyValuePairs<String, any DatabaseValueConvertible>, _ column: String)
        throws
    {
        let names = keys.map(\.key)
        let sql = """
            INSERT INTO \(table) (\(names.joined(separator: ", ")), \(column)) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")), 1)
            ON CONFLICT DO UPDATE SET \(column) = \(column) + 1
            """
        try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(keys.map(\.value)))
    }

    private func ad(org: String, sourceID: String, headline: String?, url: String?) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO ad (org_id, source_id, headline, source_url) VALUES (?, ?, ?, ?)
                ON CONFLICT DO UPDATE SET headline = COALESCE(excluded.headline, headline),
                    source_url = COALESCE(excluded.source_url, source_url)
                """
        ).execute(arguments: [org, sourceID, headline, url])
    }

    /// A contact merged into another: its timeline items move to the survivor, and events that still name it
    /// (another log may be behind) land there too. A survivor merged later takes its merged contacts along.
    private func moveTimeline(org: String, from merged: String, into survivor: String) throws {
        guard !survivor.isEmpty else { return }
        try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO merged_contact (org_id, contact_id, into_id) VALUES (?, ?, ?)"
        ).execute(arguments: [org, merged, survivor])
        try db.cachedStatement(sql: "UPDATE merged_contact SET into_id = ? WHERE org_id = ? AND into_id = ?")
            .execute(arguments: [survivor, org, merged])
        try db.cachedStatement(sql: "UPDATE timeline SET contact_id = ? WHERE org_id = ? AND contact_id = ?")
            .execute(arguments: [survivor, org, merged])
        try db.cachedStatement(sql: "UPDATE conversation_fact SET contact_id = ? WHERE org_id = ? AND contact_id = ?")
            .execute(arguments: [survivor, org, merged])
    }

    /// The event as a timeline item of the contact (or of the contact it was merged into): its payload as
    /// `details`, with `extra` fields (JSON members) in front.
    private func timeline(
        _ event: Switchboard_Common_V1_Event, kind: String, extra: String? = nil, conversationID: String? = nil,
        messageID: String? = nil
    ) throws {
        guard !event.contactID.isEmpty else { return }
        var details = event.payloadJson.hasPrefix("{") ? event.payloadJson : "{}"
        if let extra { details = "{" + extra + (details == "{}" ? "}" : "," + details.dropFirst()) }
        let contactID =
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT into_id FROM merged_contact WHERE org_id = ? AND contact_id = ?"),
                arguments: [event.orgID, event.contactID]) ?? event.contactID
        try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO timeline (org_id, contact_id, kind, type, at, event_id, conversation_id, message_id,
                    details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            event.orgID, contactID, kind, event.type, event.occurredAt.millis, event.id, conversationID, messageID,
            details,
        ])
    }

    private mutating func record(org: String, metric: String, day: Int64, agent: String?, seconds: Int64) {
        let key = HistogramKey(orgID: org, metric: metric, day: day, agentID: agent ?? "")
        if histograms[key] == nil {
            let stored = try? Data.fetchOne(
                db, sql: "SELECT counts FROM duration_histogram WHERE org_id = ? AND metric = ? AND day = ? AND agent_id = ?",
                arguments: [key.orgID, key.metric, key.day, key.agentID])
            histograms[key] = stored.flatMap { $0 }.map(Histogram.init(blob:)) ?? Histogram()
        }
        histograms[key]!.add(seconds: seconds)
    }

    /// Writes the histograms this batch changed.
    mutating func flush() throws {
        for (key, histogram) in histograms {
            try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO duration_histogram (org_id, metric, day, agent_id, counts) VALUES (?, ?, ?, ?, ?)"
            ).execute(arguments: [key.orgID, key.metric, key.day, key.agentID, histogram.blob])
        }
        histograms = [:]
    }
}
