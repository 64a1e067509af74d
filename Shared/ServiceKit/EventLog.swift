import Foundation
public import GRDB
public import GRPCCore
import Synchronization
public import SwitchboardProtos

/// A service's domain event log (docs/events.md): a transactional outbox in the service's own database. Events
/// are appended by the transaction that makes the change, so a rolled-back change leaves none; SQLite's single
/// writer makes `sequence` increase in commit order, so a reader at `sequence > n` never skips a later commit.
public enum EventLog {
    /// The `event` table; call from the service's migrator.
    public static func createTable(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE event (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    org_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    subject_id TEXT NOT NULL,
                    contact_id TEXT NOT NULL DEFAULT '',
                    occurred_at INTEGER NOT NULL,
                    payload TEXT NOT NULL
                );
                CREATE INDEX event_org ON event (org_id, sequence);
                """)
    }

    /// Appends one event inside the caller's transaction.
    public static func append(
        _ db: Database, orgID: String, type: String, subjectID: String, contactID: String?, payload: EventPayload,
        at: Millis
    ) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO event (id, org_id, type, subject_id, contact_id, occurred_at, payload)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        try statement.execute(arguments: [
            Identifier.make(), orgID, type, subjectID, contactID ?? "", at, payload.json,
        ])
    }

    /// Set when the process begins a graceful shutdown: open `Subscribe` streams end, so the server can drain.
    static let shuttingDown = Atomic<Bool>(false)

    /// Serves `Subscribe`: replays the events after `request.afterSequence` in batches, then tails the log
    /// (polling every 100 ms when idle) until the caller cancels or the process shuts down. From the end of the log
    /// (-1) with `announceHead`, the first batch is empty and carries the sequence it starts after.
    public static func serve(
        _ request: Switchboard_Common_V1_SubscribeRequest, reader: any DatabaseReader,
        writer: RPCWriter<Switchboard_Common_V1_EventBatch>
    ) async throws {
        guard request.afterSequence >= -1 else {
            throw ServiceFailure.invalid("invalid_sequence", "after_sequence must be -1 or more")
        }
        guard request.maxBatch >= 0 else { throw ServiceFailure.invalid("invalid_batch", "max_batch must be 0 or more") }
        let limit = request.maxBatch == 0 ? 500 : min(5000, Int(request.maxBatch))
        let orgID = request.orgID
        var after = request.afterSequence
        if after < 0 {
            after = try await reader.read { db in
                try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) FROM event") ?? 0
            }
            if request.announceHead {
                var head = Switchboard_Common_V1_EventBatch()
                head.headSequence = after
                try await writer.write(head)
            }
        }
        while !Task.isCancelled && !shuttingDown.load(ordering: .relaxed) {
            let from = after
            let batch = try await reader.read { db in try fetch(db, after: from, orgID: orgID, limit: limit) }
            guard let last = batch.events.last else {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            try await writer.write(batch)
            after = last.sequence
        }
    }

    static func fetch(_ db: Database, after: Int64, orgID: String, limit: Int) throws
        -> Switchboard_Common_V1_EventBatch
    {
        let sql =
            orgID.isEmpty
            ? "SELECT sequence, id, org_id, type, subject_id, contact_id, occurred_at, payload FROM event WHERE sequence > ? ORDER BY sequence LIMIT ?"
            : "SELECT sequence, id, org_id, type, subject_id, contact_id, occurred_at, payload FROM event WHERE org_id = ? AND sequence > ? ORDER BY sequence LIMIT ?"
        let arguments: StatementArguments = orgID.isEmpty ? [after, limit] : [orgID, after, limit]
        var batch = Switchboard_Common_V1_EventBatch()
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
        while let row = try rows.next() {
            var event = Switchboard_Common_V1_Event()
            event.sequence = row[0]
            event.id = row[1]
            event.orgID = row[2]
            event.type = row[3]
            event.subjectID = row[4]
            event.contactID = row[5]
            event.occurredAt = .init(millis: row[6])
            event.payloadJson = row[7]
            batch.events.append(event)
        }
        return batch
    }
}

/// A JSON object built field by field (an event's payload). Keys keep their insertion order; nil is `null`.
public struct EventPayload: Sendable {
    private var fields: [String] = []

    public init() {}

    public var json: String { "{" + fields.joined(separator: ",") + "}" }

    public mutating func set(_ key: String, _ value: String?) {
        add(key, value.map(Self.quoted) ?? "null")
    }

    public mutating func set(_ key: String, _ value: Int64?) {
        add(key, value.map { String($0) } ?? "null")
    }

    public mutating func set(_ key: String, _ value: Int) {
        add(key, String(value))
    }

    public mutating func set(_ key: String, _ value: Bool) {
        add(key, value ? "true" : "false")
    }

    public mutating func set(_ key: String, _ values: [String]) {
        add(key, "[" + values.map(Self.quoted).joined(separator: ",") + "]")
    }

    /// A value that is already JSON text (an object, or `null` when nil).
    public mutating func set(_ key: String, json: String?) {
        add(key, json ?? "null")
    }

    private mutating func add(_ key: String, _ value: String) {
        fields.append(Self.quoted(key) + ":" + value)
    }

    /// `text` as a JSON string literal.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// A consumer's side of following event logs: its cursor per source, stored in the same transaction as the effects
/// of the events it applied, and the ids of the events it has seen (deduplication by event id).
public enum EventCursors {
    public static func createTables(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE event_cursor (
                    source TEXT PRIMARY KEY NOT NULL,
                    sequence INTEGER NOT NULL,
                    applied INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE seen_event (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
                """)
    }

    public static func load(_ db: Database, source: String) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT sequence FROM event_cursor WHERE source = ?", arguments: [source]) ?? 0
    }

    public static func advance(_ db: Database, source: String, to sequence: Int64, applied: Int) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO event_cursor (source, sequence, applied) VALUES (?, ?, ?)
                ON CONFLICT (source) DO UPDATE SET sequence = max(sequence, excluded.sequence),
                    applied = applied + excluded.applied
                """
        ).execute(arguments: [source, sequence, applied])
    }

    /// Records `id` as seen; false when it already was (the event must not be applied again).
    public static func firstSeen(_ db: Database, id: String) throws -> Bool {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO seen_event (id) VALUES (?)").execute(arguments: [id])
        return db.changesCount == 1
    }
}
