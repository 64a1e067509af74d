import Foundation
public import GRDB
import ServiceKit
public import SwitchboardProtos

/// analytics.db: the contact timeline and the aggregates of the reports, built from the event logs of contacts,
/// conversations and messaging. Each batch of events is applied in one transaction with the source's cursor, and
/// every event id is remembered, so a crash at any moment neither loses nor doubles an event.
public final class AnalyticsStore: Sendable {
    let writer: any DatabaseWriter

    public init(_ writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    public static func open(path: String) throws -> AnalyticsStore {
        try AnalyticsStore(SQLiteDatabase.openPool(path: path, migrator: migrator))
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: "CREATE TABLE service_info (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
        }
        migrator.registerMigration("v2-events") { db in
            try EventCursors.createTables(db)
            try db.execute(
                sql: """
                    CREATE TABLE timeline (
                        seq INTEGER PRIMARY KEY,
                        org_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        type TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        event_id TEXT NOT NULL,
                        conversation_id TEXT,
                        message_id TEXT,
                        details TEXT NOT NULL
                    );
                    CREATE INDEX timeline_contact ON timeline (org_id, contact_id, at, seq);
                    CREATE UNIQUE INDEX timeline_message ON timeline (message_id) WHERE message_id IS NOT NULL;
                    CREATE TABLE conversation_fact (
                        conversation_id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        medium TEXT NOT NULL,
                        opened_at INTEGER NOT NULL,
                        first_inbound_at INTEGER,
                        first_response_at INTEGER,
                        resolved_at INTEGER,
                        first_resolved_at INTEGER,
                        ad_source_id TEXT
                    ) WITHOUT ROWID;
                    CREATE TABLE daily_messages (
                        org_id TEXT NOT NULL, day INTEGER NOT NULL, channel TEXT NOT NULL, direction TEXT NOT NULL,
                        n INTEGER NOT NULL, PRIMARY KEY (org_id, day, channel, direction)
                    ) WITHOUT ROWID;
                    CREATE TABLE daily_conversations (
                        org_id TEXT NOT NULL, day INTEGER NOT NULL, opened INTEGER NOT NULL DEFAULT 0,
                        resolved INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (org_id, day)
                    ) WITHOUT ROWID;
                    CREATE TABLE daily_agent (
                        org_id TEXT NOT NULL, day INTEGER NOT NULL, agent_id TEXT NOT NULL,
                        resolved INTEGER NOT NULL DEFAULT 0, messages_sent INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (org_id, day, agent_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE daily_failures (
                        org_id TEXT NOT NULL, day INTEGER NOT NULL, reason TEXT NOT NULL, n INTEGER NOT NULL,
                        PRIMARY KEY (org_id, day, reason)
                    ) WITHOUT ROWID;
                    CREATE TABLE duration_histogram (
                        org_id TEXT NOT NULL, metric TEXT NOT NULL, day INTEGER NOT NULL, agent_id TEXT NOT NULL,
                        counts BLOB NOT NULL, PRIMARY KEY (org_id, metric, day, agent_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE daily_csat (
                        org_id TEXT NOT NULL, day INTEGER NOT NULL, agent_id TEXT NOT NULL, channel TEXT NOT NULL,
                        rating INTEGER NOT NULL, n INTEGER NOT NULL,
                        PRIMARY KEY (org_id, day, agent_id, channel, rating)
                    ) WITHOUT ROWID;
                    CREATE TABLE ad (
                        org_id TEXT NOT NULL, source_id TEXT NOT NULL, headline TEXT, source_url TEXT,
                        PRIMARY KEY (org_id, source_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE daily_ad (
                        org_id TEXT NOT NULL, source_id TEXT NOT NULL, day INTEGER NOT NULL,
                        contacts INTEGER NOT NULL DEFAULT 0, started INTEGER NOT NULL DEFAULT 0,
                        resolved INTEGER NOT NULL DEFAULT 0, csat_sum INTEGER NOT NULL DEFAULT 0,
                        csat_count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (org_id, source_id, day)
                    ) WITHOUT ROWID;
                    """)
        }
        // A merged-away contact's timeline follows it into the surviving contact, and so do its later events.
        migrator.registerMigration("v3-merged-contacts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE merged_contact (
                        org_id TEXT NOT NULL, contact_id TEXT NOT NULL, into_id TEXT NOT NULL,
                        PRIMARY KEY (org_id, contact_id)
                    ) WITHOUT ROWID;
                    """)
        }
        return migrator
    }

    /// The last sequence applied from `source` (0 before the first event).
    public func cursor(source: String) async throws -> Int64 {
        try await writer.read { db in try EventCursors.load(db, source: source) }
    }

    /// Every source's cursor and the number of events applied from it.
    public func progress() async throws -> [(source: String, sequence: Int64, applied: Int64)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT source, sequence, applied FROM event_cursor ORDER BY source").map {
                (source: $0[0], sequence: $0[1], applied: $0[2])
            }
        }
    }

    /// Applies a batch from `source` in one transaction with the new cursor. Events already seen (by id) and events
    /// at or before the cursor are skipped.
    public func apply(source: String, _ batch: Switchboard_Common_V1_EventBatch) async throws {
        guard let last = batch.events.last else { return }
        try await writer.write { db in
            let cursor = try EventCursors.load(db, source: source)
            var applier = EventApplier(db: db)
            var applied = 0
            for event in batch.events where event.sequence > cursor {
                guard try EventCursors.firstSeen(db, id: event.id) else { continue }
                try applier.apply(event)
                applied += 1
            }
            try applier.flush()
            try EventCursors.advance(db, source: source, to: last.sequence, applied: applied)
        }
    }
}
