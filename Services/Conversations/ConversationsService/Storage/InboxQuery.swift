import GRPCCore
import ConversationsKit
import Foundation
import GRDB
import ServiceKit

/// The WHERE clause of the inbox (also used by bulk actions on a filter) and the index that serves it.
///
/// Each index leads with (org_id, <filter>, archived) and ends with (last_activity_at, id), so a first page reads
/// `limit` rows in order. `INDEXED BY` pins the index of the most selective filter given: without statistics the
/// planner cannot tell `conversation_inbox` from `conversation_status` and might walk the whole inbox.
struct InboxQuery {
    var conditions: [String]
    var arguments: [(any DatabaseValueConvertible)?]
    var index: String
    /// The full-text match expression when the filter searches by name or phone (three characters or more).
    var search: String?
    private let statuses: [ConversationStatus]
    private let deleted: Bool

    init(orgID: String, filter: InboxFilter, now: Millis) {
        statuses = filter.statuses
        deleted = filter.deleted
        conditions = ["org_id = ?"]
        arguments = [orgID]
        if filter.deleted {
            conditions.append("deleted_at IS NOT NULL")
            index = "conversation_trash"
            if let archived = filter.archived { add("archived = ?", archived) }
        } else {
            conditions.append("deleted_at IS NULL")
            index = "conversation_inbox"
            add("archived = ?", filter.archived ?? false)
        }
        if filter.statuses.count == 1 {
            add("status = ?", filter.statuses[0].rawValue)
            pick("conversation_status", filter)
        } else if !filter.statuses.isEmpty {
            // `+` keeps the planner off the status index: an IN list over it would need a sort.
            let marks = filter.statuses.map { _ in "?" }.joined(separator: ",")
            conditions.append("+status IN (\(marks))")
            arguments.append(contentsOf: filter.statuses.map(\.rawValue))
        }
        if filter.unread == true {
            conditions.append("unread_count > 0")
            pick("conversation_unread", filter)
        } else if filter.unread == false {
            conditions.append("unread_count = 0")
        }
        if filter.starred == true {
            conditions.append("starred = 1")
            pick("conversation_starred", filter)
        } else if filter.starred == false {
            conditions.append("starred = 0")
        }
        if let medium = filter.medium {
            add("medium = ?", medium.rawValue)
            pick("conversation_medium", filter)
        }
        switch filter.assignee {
        case .agent(let agentID):
            add("assignee_id = ?", agentID)
            pick("conversation_assignee", filter)
        case .unassigned:
            conditions.append("assignee_id IS NULL")
            pick("conversation_assignee", filter)
        case nil: break
        }
        if let channelID = filter.channelID {
            add("channel_id = ?", channelID)
            pick("conversation_channel", filter)
        }
        if let contactID = filter.contactID {
            add("contact_id = ?", contactID)
            index = "conversation_contact"
        }
        // NUL never occurs in a name or phone, and SQLite would cut the search text at it (an unterminated
        // full-text phrase, then a failed query): it is dropped.
        if let text = filter.query?.replacingOccurrences(of: "\u{0}", with: "").trimmingWhitespace.lowercased(),
            !text.isEmpty
        {
            var fragments = [text]
            let phoneCharacters = Set("+0123456789 -.()")
            let digits = text.filter { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, digits != text, text.allSatisfy({ phoneCharacters.contains($0) }) {
                fragments.append(digits)
            }
            if fragments.allSatisfy({ $0.count >= 3 }) {
                // Trigram full-text: any fragment of three characters or more, without walking the inbox.
                let match = fragments.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
                    .joined(separator: " OR ")
                conditions.append("seq IN (SELECT rowid FROM conversation_search WHERE conversation_search MATCH ?)")
                arguments.append(match)
                search = match
            } else {
                // One or two characters: too short for trigrams, matched while walking the inbox in order.
                conditions.append(
                    "(" + fragments.map { _ in "search LIKE ? ESCAPE '\\'" }.joined(separator: " OR ") + ")")
                arguments.append(contentsOf: fragments.map { likePattern(containing: $0) })
            }
        }
    }

    private mutating func add(_ condition: String, _ value: some DatabaseValueConvertible) {
        conditions.append(condition)
        arguments.append(value)
    }

    /// Later filters win: the order of the calls is the order of selectivity (channel and assignee narrow most).
    /// The trash has a single index: it holds at most 30 days of deletions.
    private mutating func pick(_ name: String, _ filter: InboxFilter) {
        if !filter.deleted { index = name }
    }

    var whereClause: String { conditions.joined(separator: " AND ") }

    /// A search matching fewer rows than this sorts its matches; one matching more walks the inbox index in order
    /// (its matches are dense enough there that a page fills quickly).
    static let sortedSearchLimit = 2000

    /// - Parameter indexed: false for a search with few matches: they are fetched by rowid and sorted (at most
    ///   `sortedSearchLimit` rows) instead of walking the pinned index. `NOT INDEXED` says so to the planner,
    ///   which without statistics would otherwise walk the org's whole inbox index testing each row.
    func select(after: (activity: Millis, id: String)?, limit: Int, indexed: Bool = true) -> (String, StatementArguments) {
        var whereClause = whereClause
        var arguments = arguments
        if let after {
            whereClause += " AND (last_activity_at, id) < (?, ?)"
            arguments.append(after.activity)
            arguments.append(after.id)
        }
        let sql = """
            SELECT \(ConversationRecord.columns) FROM conversation \(indexed ? "INDEXED BY \(index)" : "NOT INDEXED") WHERE \(whereClause)
            ORDER BY last_activity_at DESC, id DESC LIMIT \(limit)
            """
        return (sql, StatementArguments(arguments))
    }

    /// The "waiting longest" queue: the conversations whose customer waits for a reply (not resolved, unless the
    /// filter asks for that status), oldest wait first, keyset-paginated on (waiting_since, id). The inbox reads the
    /// partial index `conversation_waiting`, which holds only waiting conversations; the trash and few-match searches
    /// sort their matches.
    func selectWaiting(after: (since: Millis, id: String)?, limit: Int, indexed: Bool = true)
        -> (String, StatementArguments)
    {
        var conditions = waitingConditions
        var arguments = arguments
        if let after {
            conditions.append("(waiting_since, id) > (?, ?)")
            arguments.append(after.since)
            arguments.append(after.id)
        }
        let sql = """
            SELECT \(ConversationRecord.columns) FROM conversation \(waitingHint(indexed: indexed)) WHERE \(conditions.joined(separator: " AND "))
            ORDER BY waiting_since ASC, id ASC LIMIT \(limit)
            """
        return (sql, StatementArguments(arguments))
    }

    /// The filter's conditions plus "the customer is waiting" (not resolved, unless the filter asks for a status).
    private var waitingConditions: [String] {
        var conditions = conditions + ["waiting_since IS NOT NULL"]
        if statuses.isEmpty { conditions.append("+status <> 'RESOLVED'") }
        return conditions
    }

    private func waitingHint(indexed: Bool) -> String {
        !indexed ? "NOT INDEXED" : deleted ? "" : "INDEXED BY conversation_waiting"
    }

    /// How many conversations `select` (or, with `waiting`, `selectWaiting`) lists over all pages: the same WHERE
    /// clause on the same pinned index.
    func count(waiting: Bool, indexed: Bool = true) -> (String, StatementArguments) {
        let hint = waiting ? waitingHint(indexed: indexed) : indexed ? "INDEXED BY \(index)" : "NOT INDEXED"
        let clause = waiting ? waitingConditions.joined(separator: " AND ") : whereClause
        return ("SELECT count(*) FROM conversation \(hint) WHERE \(clause)", StatementArguments(arguments))
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }
}
