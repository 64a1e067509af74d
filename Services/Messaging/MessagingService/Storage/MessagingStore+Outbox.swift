import Foundation
import GRDB
import GRPCCore
import MessagingKit
import ServiceKit
import SwiftProtobuf
import SwitchboardProtos

/// One accepted send, as the outbox keeps it.
struct OutboxRow: Sendable, Equatable {
    enum State: String, Sendable {
        case queued, sending, sent, delivered, failed
    }

    var id: String
    var orgID: String
    var idempotencyKey: String?
    var requestHash: String
    var contactID: String
    var channelID: String
    var recipient: String
    var content: String
    /// The serialized message (conversations.v1.Message) the send was first answered with.
    var answer: Data
    /// The serialized conversations.v1.RecordOutboundRequest, replayed until conversations has the message.
    var recordRequest: Data
    var recorded: Bool
    var state: State
    var attempts: Int
    var nextAttemptAt: Millis
    var providerMessageID: String?
    var errorCode: String?
    var errorText: String?
    var failureReason: String?
    var version: Int
    var createdAt: Millis
    var updatedAt: Millis

    static let columns = """
        id, org_id, idempotency_key, request_hash, contact_id, channel_id, recipient, content, answer, \
        record_request, recorded, state, attempts, next_attempt_at, provider_message_id, error_code, error_text, \
        failure_reason, version, created_at, updated_at
        """

    init(row: Row) {
        id = row[0]
        orgID = row[1]
        idempotencyKey = row[2]
        requestHash = row[3]
        contactID = row[4]
        channelID = row[5]
        recipient = row[6]
        content = row[7]
        answer = row[8]
        recordRequest = row[9]
        recorded = row[10]
        state = State(rawValue: row[11]) ?? .queued
        attempts = row[12]
        nextAttemptAt = row[13]
        providerMessageID = row[14]
        errorCode = row[15]
        errorText = row[16]
        failureReason = row[17]
        version = row[18]
        createdAt = row[19]
        updatedAt = row[20]
    }

    init(
        id: String, orgID: String, idempotencyKey: String?, requestHash: String, contactID: String, channelID: String,
        recipient: String, content: String, answer: Data, recordRequest: Data, now: Millis
    ) {
        self.id = id
        self.orgID = orgID
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.contactID = contactID
        self.channelID = channelID
        self.recipient = recipient
        self.content = content
        self.answer = answer
        self.recordRequest = recordRequest
        recorded = false
        state = .queued
        attempts = 0
        nextAttemptAt = now
        version = 0
        createdAt = now
        updatedAt = now
    }
}

/// How a delivery attempt ended, as the outbox records it.
enum AttemptResult: Sendable, Equatable {
    case sent(providerID: String, final: OutboxRow.State)
    case retry(at: Millis, code: String, text: String)
    case failed(code: String, text: String, reason: String)
}

extension MessagingStore {
    /// The send stored under this idempotency key, if any.
    func outbox(orgID: String, idempotencyKey: String) async throws -> OutboxRow? {
        try await writer.read { db in try Self.outbox(db, orgID: orgID, idempotencyKey: idempotencyKey) }
    }

    static func outbox(_ db: Database, orgID: String, idempotencyKey: String) throws -> OutboxRow? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(OutboxRow.columns) FROM outbox WHERE org_id = ? AND idempotency_key = ?")
        return try Row.fetchOne(statement, arguments: [orgID, idempotencyKey]).map(OutboxRow.init(row:))
    }

    /// The contact a send went to, by the provider's id for it (wamid or Twilio sid).
    func outboxContact(orgID: String, providerMessageID: String) async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(
                db, sql: "SELECT contact_id FROM outbox WHERE org_id = ? AND provider_message_id = ?",
                arguments: [orgID, providerMessageID])
        }
    }

    func outbox(id: String) async throws -> OutboxRow? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT \(OutboxRow.columns) FROM outbox WHERE id = ?", arguments: [id])
                .map(OutboxRow.init(row:))
        }
    }

    /// Accepts a send: one transaction. When another send holds the key already, answers that one instead.
    func accept(_ row: OutboxRow) async throws -> (row: OutboxRow, inserted: Bool) {
        try await accept([row])[0]
    }

    /// Accepts several sends in one transaction (concurrent sends share one commit); each answered as above.
    func accept(_ rows: [OutboxRow]) async throws -> [(row: OutboxRow, inserted: Bool)] {
        try await writer.write { db in try rows.map { row in try Self.accept(db, row) } }
    }

    private static func accept(_ db: Database, _ row: OutboxRow) throws -> (row: OutboxRow, inserted: Bool) {
        if let key = row.idempotencyKey, let existing = try outbox(db, orgID: row.orgID, idempotencyKey: key) {
            return (existing, false)
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO outbox (\(OutboxRow.columns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                row.id, row.orgID, row.idempotencyKey, row.requestHash, row.contactID, row.channelID,
                row.recipient, row.content, row.answer, row.recordRequest, row.recorded, row.state.rawValue,
                row.attempts, row.nextAttemptAt, row.providerMessageID, row.errorCode, row.errorText,
                row.failureReason, row.version, row.createdAt, row.updatedAt,
            ])
        var payload = EventPayload()
        payload.set("messageId", row.id)
        // The conversation the send named; a send to a contact is placed in a conversation when it is recorded
        // (`message.sent` names it).
        let conversationID = (try? Switchboard_Conversations_V1_RecordOutboundRequest(serializedBytes: row.recordRequest))?
            .conversationID
        payload.set("conversationId", conversationID.flatMap { $0.isEmpty ? nil : $0 })
        payload.set("contactId", row.contactID)
        payload.set("channelId", row.channelID)
        payload.set("idempotencyKey", row.idempotencyKey)
        try EventLog.append(
            db, orgID: row.orgID, type: "outbound.accepted", subjectID: row.id, contactID: row.contactID,
            payload: payload, at: row.createdAt)
        return (row, true)
    }

    /// Conversations has the message: its answer is what a replay of the key gets.
    func markRecorded(id: String, answer: Data?) async throws {
        try await markRecorded([(id, answer)])
    }

    /// Several at once, in one transaction.
    func markRecorded(_ rows: [(id: String, answer: Data?)]) async throws {
        try await writer.write { db in
            for (id, answer) in rows { try Self.markRecorded(db, id: id, answer: answer) }
        }
    }

    private static func markRecorded(_ db: Database, id: String, answer: Data?) throws {
        if let answer {
            try db.cachedStatement(sql: "UPDATE outbox SET recorded = 1, answer = ? WHERE id = ?")
                .execute(arguments: [answer, id])
        } else {
            try db.cachedStatement(sql: "UPDATE outbox SET recorded = 1 WHERE id = ?").execute(arguments: [id])
        }
    }

    func unrecorded(limit: Int) async throws -> [OutboxRow] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(OutboxRow.columns) FROM outbox WHERE recorded = 0 ORDER BY created_at LIMIT ?",
                arguments: [limit]
            ).map(OutboxRow.init(row:))
        }
    }

    /// A channel's rows due for an attempt, oldest due first (recorded ones only: a status needs its message).
    /// A row being sent is not due: its attempt set `next_attempt_at` to the end of its lease.
    func due(channelID: String, now: Millis, limit: Int) async throws -> [OutboxRow] {
        try await writer.read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT \(OutboxRow.columns) FROM outbox INDEXED BY outbox_due
                    WHERE channel_id = ? AND state IN ('queued', 'sending') AND next_attempt_at <= ? AND recorded = 1
                    ORDER BY next_attempt_at, id LIMIT ?
                    """)
            return try Row.fetchAll(statement, arguments: [channelID, now, limit]).map(OutboxRow.init(row:))
        }
    }

    /// The channels with rows to send now or later (after a restart, and as a safety net).
    func channelsWithWork() async throws -> [String] {
        try await writer.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT channel_id FROM outbox INDEXED BY outbox_due WHERE state IN ('queued', 'sending')
                    """)
        }
    }

    /// After a restart, rows that were in flight at the crash are due again at once (they may have been sent:
    /// the provider takes no idempotency key, so those few are the only possible duplicates).
    func releaseInFlight(now: Millis) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE outbox SET next_attempt_at = ? WHERE state = 'sending'", arguments: [now])
            return db.changesCount
        }
    }

    /// Records the attempt before the provider call, with a lease: if no result is recorded by `leaseUntil`
    /// (the process died), the row is due again.
    func markSending(id: String, leaseUntil: Millis, now: Millis) async throws {
        try await markSending(ids: [id], leaseUntil: leaseUntil, now: now)
    }

    /// Records the attempts of several rows in one transaction (a lane's next rows, before it paces them out).
    func markSending(ids: [String], leaseUntil: Millis, now: Millis) async throws {
        try await writer.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?, updated_at = ?
                    WHERE id = ?
                    """)
            for id in ids { try statement.execute(arguments: [leaseUntil, now, id]) }
        }
    }

    /// Records an attempt's result; a result that ends the message bumps `version` for the reporter.
    /// A refused access token flags the channel `token_invalid` in the same transaction.
    func finish(id: String, result: AttemptResult, now: Millis) async throws {
        try await finish([(id, result)], now: now)
    }

    /// Records several attempts' results in one transaction (the worker folds results that arrive together).
    func finish(_ results: [(id: String, result: AttemptResult)], now: Millis) async throws {
        try await writer.write { db in
            for (id, result) in results { try Self.finish(db, id: id, result: result, now: now) }
        }
    }

    private static func finish(_ db: Database, id: String, result: AttemptResult, now: Millis) throws {
        switch result {
        case .sent(let providerID, let final):
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = ?, provider_message_id = ?, error_code = NULL, error_text = NULL,
                        version = version + 1, updated_at = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [final.rawValue, providerID, now, id])
        case .retry(let at, let code, let text):
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = 'queued', next_attempt_at = ?, error_code = ?, error_text = ?,
                        updated_at = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [at, code, text, now, id])
        case .failed(let code, let text, let reason):
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET state = 'failed', error_code = ?, error_text = ?, failure_reason = ?,
                        version = version + 1, updated_at = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [code, text, reason, now, id])
            if let row = try Row.fetchOne(
                db, sql: "SELECT org_id, contact_id, channel_id FROM outbox WHERE id = ?", arguments: [id])
            {
                var payload = EventPayload()
                payload.set("messageId", id)
                payload.set("contactId", row[1] as String)
                payload.set("channelId", row[2] as String)
                payload.set("reason", reason)
                payload.set("errorCode", code)
                try EventLog.append(
                    db, orgID: row[0], type: "outbound.failed", subjectID: id, contactID: row[1], payload: payload,
                    at: now)
            }
            if reason == "token_invalid" {
                try db.execute(
                    sql: """
                        UPDATE channel SET status = 'token_invalid', updated_at = ?
                        WHERE id = (SELECT channel_id FROM outbox WHERE id = ?)
                        """, arguments: [now, id])
            }
        }
    }

    /// Rows whose latest state conversations has not heard of yet.
    func unreported(limit: Int) async throws -> [OutboxRow] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(OutboxRow.columns) FROM outbox INDEXED BY outbox_unreported
                    WHERE reported_version < version AND recorded = 1 ORDER BY updated_at LIMIT ?
                    """, arguments: [limit]
            ).map(OutboxRow.init(row:))
        }
    }

    /// Conversations has these states: each row is marked up to the version that was reported (a newer state
    /// recorded meanwhile stays unreported).
    func markReported(_ rows: [(id: String, version: Int)]) async throws {
        try await writer.write { db in
            let statement = try db.cachedStatement(
                sql: "UPDATE outbox SET reported_version = max(reported_version, ?) WHERE id = ?")
            for row in rows { try statement.execute(arguments: [row.version, row.id]) }
        }
    }

    /// Forgets finished sends (sent, delivered or failed, and reported) last changed before `cutoff`: their
    /// idempotency keys then stop replaying. Answers how many rows went.
    func pruneOutbox(before cutoff: Millis) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: """
                    DELETE FROM outbox
                    WHERE state IN ('sent', 'delivered', 'failed') AND reported_version >= version AND updated_at < ?
                    """, arguments: [cutoff])
            return db.changesCount
        }
    }
}
