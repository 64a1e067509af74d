import Foundation
import GRPCCore
import GRDB
import ServiceKit

/// A webhook as received, before processing.
struct JournalEntry: Sendable {
    var seq: Int64 = 0
    var id: String
    /// whatsapp, twilio or sandbox (a WhatsApp-shaped body made up by `SimulateInbound`).
    var provider: String
    /// The channel the webhook was verified against (twilio, sandbox, and whatsapp's first match).
    var channelID: String?
    var body: Data
    var receivedAt: Millis
    var attempts: Int = 0
}

extension MessagingStore {
    /// Appends webhooks to the journal in one transaction (one fsync for all of them).
    func appendJournal(_ entries: [JournalEntry]) async throws {
        try await writer.write { db in
            let statement = try db.cachedStatement(
                sql: "INSERT INTO journal (id, provider, channel_id, body, received_at) VALUES (?, ?, ?, ?, ?)")
            for entry in entries {
                try statement.execute(arguments: [entry.id, entry.provider, entry.channelID, entry.body, entry.receivedAt])
            }
        }
    }

    /// The oldest unprocessed webhooks.
    func pendingJournal(limit: Int) async throws -> [JournalEntry] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, id, provider, channel_id, body, received_at, attempts FROM journal
                    WHERE processed_at IS NULL ORDER BY seq LIMIT ?
                    """, arguments: [limit]
            ).map { row in
                JournalEntry(
                    seq: row[0], id: row[1], provider: row[2], channelID: row[3], body: row[4], receivedAt: row[5],
                    attempts: row[6])
            }
        }
    }

    /// Marks webhooks worked (`error` set when one could not be applied and will not be retried).
    func finishJournal(_ outcomes: [(seq: Int64, error: String?)], retry: [(seq: Int64, error: String)]) async throws {
        guard !outcomes.isEmpty || !retry.isEmpty else { return }
        let now = Millis.now()
        try await writer.write { db in
            let done = try db.cachedStatement(
                sql: "UPDATE journal SET processed_at = ?, attempts = attempts + 1, last_error = ? WHERE seq = ?")
            for outcome in outcomes { try done.execute(arguments: [now, outcome.error, outcome.seq]) }
            let again = try db.cachedStatement(
                sql: "UPDATE journal SET attempts = attempts + 1, last_error = ? WHERE seq = ?")
            for item in retry { try again.execute(arguments: [item.error, item.seq]) }
        }
    }

    /// Forgets processed webhooks older than `before` (the journal is a buffer, not an archive).
    func pruneJournal(before: Millis) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM journal WHERE processed_at IS NOT NULL AND processed_at < ?", arguments: [before])
            return db.changesCount
        }
    }
}
