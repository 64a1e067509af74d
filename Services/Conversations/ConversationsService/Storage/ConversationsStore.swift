import Synchronization
import Foundation
import GRPCCore
public import ContactsKit
public import ConversationsKit
public import GRDB
public import ServiceKit

/// The conversations database: conversations, their messages and delivery statuses, the inbox and bulk actions.
public final class ConversationsStore: Sendable {
    /// How long a soft-deleted conversation stays restorable.
    public static let restoreWindow: Millis = 30 * 24 * 60 * 60 * 1000

    let writer: any DatabaseWriter

    /// - Parameter writer: a `DatabasePool` in production, an in-memory `DatabaseQueue` in tests; migrated here.
    public init(_ writer: any DatabaseWriter) throws {
        self.writer = writer
        try ConversationsMigrations.migrator.migrate(writer)
    }

    public static func open(path: String) throws -> ConversationsStore {
        try ConversationsStore(SQLiteDatabase.openPool(path: path, migrator: ConversationsMigrations.migrator))
    }

    public static func inMemory() throws -> ConversationsStore {
        try ConversationsStore(DatabaseQueue())
    }

    // MARK: reads

    public func conversation(orgID: String, id: String, now: Millis = .now()) async throws -> Conversation {
        try await writer.read { db in try ConversationRecord.load(db, orgID: orgID, id: id).conversation(now: now) }
    }

    /// Many point reads in one read transaction; nil for a missing (or deleted-forever) conversation.
    public func conversations(_ keys: [(orgID: String, id: String)], now: Millis = .now()) async throws -> [Conversation?] {
        try await writer.read { db in
            try keys.map { key in try ConversationRecord.find(db, orgID: key.orgID, id: key.id)?.conversation(now: now) }
        }
    }

    /// The inbox: newest activity first (keyset-paginated on (last_activity_at, id)) or the waiting queue, oldest
    /// wait first (on (waiting_since, id)), filtered.
    public func conversations(
        orgID: String, filter: InboxFilter, sort: InboxSort = .activity, cursor: String?, limit: Int,
        now: Millis = .now()
    ) async throws -> Page<Conversation> {
        let query = InboxQuery(orgID: orgID, filter: filter, now: now)
        let search = query.search
        let walk: (String, StatementArguments)
        let sorted: (String, StatementArguments)
        switch sort {
        case .activity:
            let after = try Self.inboxCursor(cursor)
            walk = query.select(after: after, limit: limit + 1, indexed: true)
            sorted = query.select(after: after, limit: limit + 1, indexed: false)
        case .waiting:
            let after = try Self.waitingCursor(cursor)
            walk = query.selectWaiting(after: after, limit: limit + 1, indexed: true)
            sorted = query.selectWaiting(after: after, limit: limit + 1, indexed: false)
        }
        return try await writer.read { db in
            let indexed = try Self.walksIndex(db, search: search)
            let (sql, arguments) = indexed ? walk : sorted
            if QueryPlans.enabled { try QueryPlans.print(db, sql: sql, arguments: arguments) }
            var records = try Row.fetchAll(db, sql: sql, arguments: arguments).map(ConversationRecord.init(row:))
            var next: String?
            if records.count > limit {
                records.removeLast()
                next = records.last.map { last in
                    sort == .waiting
                        ? PageCursor.encode(["w", String(last.waitingSince ?? 0), last.id])
                        : PageCursor.encode([String(last.lastActivityAt), last.id])
                }
            }
            return Page(items: records.map { $0.conversation(now: now) }, nextCursor: next)
        }
    }

    /// How many conversations `conversations(orgID:filter:sort:...)` lists for the filter over all its pages.
    public func countConversations(orgID: String, filter: InboxFilter, sort: InboxSort = .activity, now: Millis = .now())
        async throws -> Int
    {
        let query = InboxQuery(orgID: orgID, filter: filter, now: now)
        let search = query.search
        let walk = query.count(waiting: sort == .waiting, indexed: true)
        let sorted = query.count(waiting: sort == .waiting, indexed: false)
        return try await writer.read { db in
            let indexed = try Self.walksIndex(db, search: search)
            let (sql, arguments) = indexed ? walk : sorted
            if QueryPlans.enabled { try QueryPlans.print(db, sql: sql, arguments: arguments) }
            return try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0
        }
    }

    /// False for a search with fewer than `InboxQuery.sortedSearchLimit` matches: they are read by rowid instead of
    /// walking the pinned index.
    static func walksIndex(_ db: Database, search: String?) throws -> Bool {
        guard let match = search else { return true }
        let matches = try Int.fetchOne(
            db,
            sql: "SELECT count(*) FROM (SELECT rowid FROM conversation_search WHERE conversation_search MATCH ? LIMIT ?)",
            arguments: [match, InboxQuery.sortedSearchLimit]) ?? 0
        return matches >= InboxQuery.sortedSearchLimit
    }

    /// Messages of one conversation, newest first (ids are UUIDv7, so time ordered).
    public func messages(
        orgID: String, conversationID: String, cursor: String?, limit: Int
    ) async throws -> Page<Message> {
        let after = try Self.cursorID(cursor)
        return try await writer.read { db in
            _ = try ConversationRecord.load(db, orgID: orgID, id: conversationID)
            var messages = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(MessageRecord.columns) FROM message
                    WHERE conversation_id = ? AND org_id = ? AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?
                    """, arguments: [conversationID, orgID, after, after, limit + 1]
            ).map(MessageRecord.message(row:))
            var next: String?
            if messages.count > limit {
                messages.removeLast()
                next = messages.last.map { PageCursor.encode([$0.id]) }
            }
            return Page(items: messages, nextCursor: next)
        }
    }

    /// The (last_activity_at, id) an inbox cursor points after.
    static func inboxCursor(_ cursor: String?) throws(ServiceFailure) -> (activity: Millis, id: String)? {
        guard let cursor else { return nil }
        guard let parts = PageCursor.decode(cursor, count: 2), let activity = Millis(parts[0]),
            Identifier.isValid(parts[1])
        else { throw ConversationsFailure.invalidCursor }
        return (activity, parts[1])
    }

    /// The (waiting_since, id) a waiting-queue cursor points after; an inbox cursor is not one.
    static func waitingCursor(_ cursor: String?) throws(ServiceFailure) -> (since: Millis, id: String)? {
        guard let cursor else { return nil }
        guard let parts = PageCursor.decode(cursor, count: 3), parts[0] == "w", let since = Millis(parts[1]),
            Identifier.isValid(parts[2])
        else { throw ConversationsFailure.invalidCursor }
        return (since, parts[2])
    }

    /// The message id a messages cursor points after.
    static func cursorID(_ cursor: String?) throws(ServiceFailure) -> String? {
        guard let cursor else { return nil }
        guard let parts = PageCursor.decode(cursor, count: 1), Identifier.isValid(parts[0]) else {
            throw ConversationsFailure.invalidCursor
        }
        return parts[0]
    }
}

/// The failures the conversations service reports, each with its stable reason.
enum ConversationsFailure {
    static let conversationNotFound = ServiceFailure.notFound("conversation_not_found", "no such conversation")
    static let invalidCursor = ServiceFailure.invalid("invalid_cursor", "cursor is malformed", field: "cursor")
    static let tooManyIDs = ServiceFailure.invalid("too_many_ids", "at most 1000 ids", field: "ids")
    static let invalidOutboundStatus = ServiceFailure.invalid(
        "invalid_status", "an outbound message is recorded as queued or sent", field: "status")

    static func invalidTransition(from: ConversationStatus, to: ConversationStatus) -> ServiceFailure {
        ServiceFailure(
            .failedPrecondition, "invalid_transition", "cannot move a conversation from \(from.rawValue) to \(to.rawValue)")
    }

    static func openExists(_ id: String) -> ServiceFailure {
        ServiceFailure(
            .alreadyExists, "conversation_open_exists",
            "the contact has another open conversation on this channel", details: ["conversationId": id])
    }

    static func messageExists(_ id: String) -> ServiceFailure {
        ServiceFailure(
            .alreadyExists, "message_exists", "a message with this provider message id already exists",
            field: "providerMessageId", details: ["messageId": id])
    }
}

/// `SWITCHBOARD_EXPLAIN_INBOX=1`: prints the plan of every distinct inbox query once to stderr (for bench-inbox).
enum QueryPlans {
    static let enabled = ProcessInfo.processInfo.environment["SWITCHBOARD_EXPLAIN_INBOX"] == "1"
    private static let seen = Mutex<Set<String>>([])

    static func print(_ db: Database, sql: String, arguments: StatementArguments) throws {
        guard seen.withLock({ $0.insert(sql).inserted }) else { return }
        let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { row -> String in
            row["detail"] ?? ""
        }
        let line = "inbox query plan: \(sql.split(whereSeparator: \.isNewline).joined(separator: " ")) => "
            + plan.joined(separator: " ; ") + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
