import Foundation
import GRDB
import GRPCCore
import ServiceKit

/// A period of whole UTC days, inclusive.
struct Period {
    var from: Int64
    var to: Int64

    static let maxDays: Int64 = 366

    /// `from`/`to` as `YYYY-MM-DD`; empty `to` is today, empty `from` 29 days before `to`.
    init(from: String, to: String, today: Int64 = EventApplier.day(Millis.now())) throws(ServiceFailure) {
        let end = try to.isEmpty ? today : Self.day(to, field: "to")
        let start = try from.isEmpty ? end - 29 : Self.day(from, field: "from")
        guard start <= end else { throw .invalid("invalid_period", "from must not be after to", field: "from") }
        guard end - start < Self.maxDays else {
            throw .invalid("invalid_period", "a period is at most \(Self.maxDays) days", field: "from")
        }
        self.from = start
        self.to = end
    }

    static func day(_ text: String, field: String) throws(ServiceFailure) -> Int64 {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]),
            let day = Int(parts[2]), parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            (1...12).contains(month), (1...31).contains(day)
        else { throw .invalid("invalid_date", "\(field) must be a date like 2026-01-31", field: field) }
        guard (1970...2999).contains(year) else {
            throw .invalid("invalid_date", "\(field) must be a date between 1970 and 2999", field: field)
        }
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components),
            calendar.component(.day, from: date) == day, calendar.component(.month, from: date) == month
        else { throw .invalid("invalid_date", "\(field) is not a calendar date", field: field) }
        return Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    static func string(day: Int64) -> String {
        String(RFC3339.string(millis: day * 86_400_000).prefix(10))
    }

    var members: [(String, JSONText)] { [("from", .string(Self.string(day: from))), ("to", .string(Self.string(day: to)))] }
}

/// Rows fetched inside a read, handed out of it. `Row.fetchAll` answers copies that no statement touches any more,
/// so they may cross threads; and a read whose closure answers a Sendable value is GRDB's async `read`: answering
/// `[Row]` itself would pick the blocking `read`, which waits for a reader connection on the calling thread (an
/// event loop) and can deadlock the process.
struct FetchedRows: @unchecked Sendable {
    let rows: [Row]
    let more: [[Row]]

    init(_ rows: [Row], _ more: [Row]...) {
        self.rows = rows
        self.more = more
    }
}

func rounded(_ value: Double, _ places: Double) -> Double {
    let scale = pow(10, places)
    return (value * scale).rounded() / scale
}


extension AnalyticsStore {
    static let kinds: Set<String> = ["message", "conversation", "consent", "tags", "contact", "import", "csat", "attribution"]

    /// A contact's timeline, newest first: `{"data": [items], "nextCursor"}`.
    public func timeline(orgID: String, contactID: String, kinds: [String], cursor: String, limit: Int32)
        async throws -> String
    {
        let limit = try PageCursor.limit(limit)
        for kind in kinds where !Self.kinds.contains(kind) {
            throw ServiceFailure.invalid(
                "invalid_kind", "unknown kind '\(Echo.short(kind))' (one of \(Self.kinds.sorted().joined(separator: ", ")))",
                field: "kind")
        }
        var conditions = ["org_id = ?", "contact_id = ?"]
        var arguments: [any DatabaseValueConvertible] = [orgID, contactID]
        if !kinds.isEmpty {
            conditions.append("kind IN (" + kinds.map { _ in "?" }.joined(separator: ",") + ")")
            arguments += kinds as [any DatabaseValueConvertible]
        }
        if !cursor.isEmpty {
            guard let parts = PageCursor.decode(cursor, count: 2), let at = Int64(parts[0]), let seq = Int64(parts[1])
            else { throw ServiceFailure.invalid("invalid_cursor", "cursor is not one this list gave", field: "cursor") }
            conditions.append("(at < ? OR (at = ? AND seq < ?))")
            arguments += [at, at, seq]
        }
        let sql = """
            SELECT seq, event_id, kind, type, at, conversation_id, message_id, details FROM timeline
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY at DESC, seq DESC LIMIT \(limit + 1)
            """
        let statementArguments = StatementArguments(arguments.map { Optional($0) })
        let rows = try await writer.read { db in
            FetchedRows(try Row.fetchAll(db, sql: sql, arguments: statementArguments))
        }.rows
        var items: [JSONText] = []
        for row in rows.prefix(limit) {
            items.append(
                .object([
                    ("id", .string(row[1])), ("kind", .string(row[2])), ("type", .string(row[3])),
                    ("at", .string(RFC3339.string(millis: row[4]))), ("conversationId", .string(row[5])),
                    ("messageId", .string(row[6])), ("details", .raw(row[7])),
                ]))
        }
        var next = JSONText.null
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = .string(PageCursor.encode([String(last[4] as Int64), String(last[0] as Int64)]))
        }
        return JSONText.object([("data", .array(items)), ("nextCursor", next)]).text
    }

    public func csatReport(orgID: String, from: String, to: String) async throws -> String {
        let period = try Period(from: from, to: to)
        let rows = try await writer.read { db in
            FetchedRows(
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT day, agent_id, channel, rating, sum(n) FROM daily_csat
                        WHERE org_id = ? AND day BETWEEN ? AND ? GROUP BY day, agent_id, channel, rating
                        """, arguments: [orgID, period.from, period.to]))
        }.rows
        struct Tally {
            var count = 0
            var sum = 0
            var satisfied = 0
            mutating func add(_ rating: Int, _ n: Int) {
                count += n
                sum += rating * n
                if rating >= 4 { satisfied += n }
            }
            var average: JSONText { .double(count == 0 ? nil : rounded(Double(sum) / Double(count), 2)) }
            var share: JSONText { .double(count == 0 ? nil : rounded(Double(satisfied) / Double(count), 4)) }
        }
        var total = Tally()
        var distribution = [0, 0, 0, 0, 0]
        var agents: [String: Tally] = [:]
        var channels: [String: Tally] = [:]
        var days: [Int64: Tally] = [:]
        for row in rows {
            let (day, agent, channel, rating, n): (Int64, String, String, Int, Int) = (row[0], row[1], row[2], row[3], row[4])
            total.add(rating, n)
            distribution[rating - 1] += n
            if !agent.isEmpty { agents[agent, default: Tally()].add(rating, n) }
            channels[channel, default: Tally()].add(rating, n)
            days[day, default: Tally()].add(rating, n)
        }
        let report = JSONText.object(
            period.members + [
                ("count", .int(total.count)), ("average", total.average), ("satisfiedShare", total.share),
                ("distribution", .object((1...5).map { (String($0), .int(distribution[$0 - 1])) })),
                (
                    "byAgent",
                    .array(agents.keys.sorted().map { key in
                        .object([
                            ("agentId", .string(key)), ("count", .int(agents[key]!.count)),
                            ("average", agents[key]!.average), ("satisfiedShare", agents[key]!.share),
                        ])
                    })
                ),
                (
                    "byChannel",
                    .array(channels.keys.sorted().map { key in
                        .object([
                            ("channel", .string(key)), ("count", .int(channels[key]!.count)),
                            ("average", channels[key]!.average),
                        ])
                    })
                ),
                (
                    "byDay",
                    .array(days.keys.sorted().map { day in
                        .object([
                            ("date", .string(Period.string(day: day))), ("count", .int(days[day]!.count)),
                            ("average", days[day]!.average),
                        ])
                    })
                ),
            ])
        return report.text
    }

    public func ctwaReport(orgID: String, from: String, to: String) async throws -> String {
        let period = try Period(from: from, to: to)
        let fetched = try await writer.read { db in
            FetchedRows(
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT source_id, day, contacts, started, resolved, csat_sum, csat_count FROM daily_ad
                        WHERE org_id = ? AND day BETWEEN ? AND ? ORDER BY source_id, day
                        """, arguments: [orgID, period.from, period.to]),
                try Row.fetchAll(db, sql: "SELECT source_id, headline, source_url FROM ad WHERE org_id = ?", arguments: [orgID])
            )
        }
        let (rows, ads) = (fetched.rows, fetched.more[0])
        var info: [String: (headline: String?, url: String?)] = [:]
        for ad in ads { info[ad[0]] = (ad[1], ad[2]) }
        var order: [String] = []
        var sums: [String: (contacts: Int, started: Int, resolved: Int, csatSum: Int, csatCount: Int)] = [:]
        var series: [String: [JSONText]] = [:]
        for row in rows {
            let source: String = row[0]
            if sums[source] == nil {
                order.append(source)
                sums[source] = (0, 0, 0, 0, 0)
            }
            let (contacts, started, resolved, csatSum, csatCount): (Int, Int, Int, Int, Int) = (row[2], row[3], row[4], row[5], row[6])
            sums[source]!.contacts += contacts
            sums[source]!.started += started
            sums[source]!.resolved += resolved
            sums[source]!.csatSum += csatSum
            sums[source]!.csatCount += csatCount
            if contacts + started + resolved > 0 {
                series[source, default: []].append(
                    .object([
                        ("date", .string(Period.string(day: row[1]))), ("contactsAcquired", .int(contacts)),
                        ("conversationsStarted", .int(started)), ("conversationsResolved", .int(resolved)),
                    ]))
            }
        }
        let entries = order.map { source -> JSONText in
            let sum = sums[source]!
            return .object([
                ("sourceId", .string(source)), ("headline", .string(info[source]?.headline)),
                ("sourceUrl", .string(info[source]?.url)), ("contactsAcquired", .int(sum.contacts)),
                ("conversationsStarted", .int(sum.started)), ("conversationsResolved", .int(sum.resolved)),
                ("csatCount", .int(sum.csatCount)),
                ("csatAverage", .double(sum.csatCount == 0 ? nil : rounded(Double(sum.csatSum) / Double(sum.csatCount), 2))),
                ("days", .array(series[source] ?? [])),
            ])
        }
        return JSONText.object(period.members + [("ads", .array(entries))]).text
    }

    public func overviewReport(orgID: String, from: String, to: String) async throws -> String {
        let period = try Period(from: from, to: to)
        let arguments: StatementArguments = [orgID, period.from, period.to]
        let fetched = try await writer.read { db in
            FetchedRows(
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT day, channel, direction, n FROM daily_messages WHERE org_id = ? AND day BETWEEN ? AND ?
                        ORDER BY day, channel
                        """, arguments: arguments),
                try Row.fetchAll(
                    db,
                    sql: "SELECT day, opened, resolved FROM daily_conversations WHERE org_id = ? AND day BETWEEN ? AND ? ORDER BY day",
                    arguments: arguments),
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT agent_id, sum(resolved), sum(messages_sent) FROM daily_agent
                        WHERE org_id = ? AND day BETWEEN ? AND ? GROUP BY agent_id
                        """, arguments: arguments),
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT reason, sum(n) FROM daily_failures WHERE org_id = ? AND day BETWEEN ? AND ?
                        GROUP BY reason ORDER BY reason
                        """, arguments: arguments),
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT metric, agent_id, counts FROM duration_histogram
                        WHERE org_id = ? AND metric IN ('first_response', 'resolution') AND day BETWEEN ? AND ?
                        """, arguments: arguments)
            )
        }
        let (messages, conversations, agents, failures, durations) =
            (fetched.rows, fetched.more[0], fetched.more[1], fetched.more[2], fetched.more[3])
        var byDayChannel: [String: (day: Int64, channel: String, inbound: Int, outbound: Int)] = [:]
        var keys: [String] = []
        var messagesIn = 0
        var messagesOut = 0
        for row in messages {
            let (day, channel, direction, n): (Int64, String, String, Int) = (row[0], row[1], row[2], row[3])
            let key = "\(day)|\(channel)"
            if byDayChannel[key] == nil {
                keys.append(key)
                byDayChannel[key] = (day, channel, 0, 0)
            }
            if direction == "inbound" {
                byDayChannel[key]!.inbound += n
                messagesIn += n
            } else {
                byDayChannel[key]!.outbound += n
                messagesOut += n
            }
        }
        var opened = 0
        var resolved = 0
        let conversationDays: [JSONText] = conversations.map { row in
            opened += row[1] as Int
            resolved += row[2] as Int
            return .object([
                ("date", .string(Period.string(day: row[0]))), ("opened", .int(row[1])), ("resolved", .int(row[2])),
            ])
        }
        var firstResponse = Histogram()
        var resolution = Histogram()
        var agentFirstResponse: [String: Histogram] = [:]
        var agentResolution: [String: Histogram] = [:]
        for row in durations {
            let (metric, agent, blob): (String, String, Data) = (row[0], row[1], row[2])
            if metric == "first_response" {
                firstResponse.merge(blob: blob)
                if !agent.isEmpty { agentFirstResponse[agent, default: Histogram()].merge(blob: blob) }
            } else {
                resolution.merge(blob: blob)
                if !agent.isEmpty { agentResolution[agent, default: Histogram()].merge(blob: blob) }
            }
        }
        var agentCounts: [String: (resolved: Int, sent: Int)] = [:]
        for row in agents { agentCounts[row[0]] = (row[1], row[2]) }
        let agentIDs = Set(agentCounts.keys).union(agentFirstResponse.keys).union(agentResolution.keys).sorted()
        let report = JSONText.object(
            period.members + [
                (
                    "messages",
                    .array(keys.map { key in
                        let entry = byDayChannel[key]!
                        return .object([
                            ("date", .string(Period.string(day: entry.day))), ("channel", .string(entry.channel)),
                            ("inbound", .int(entry.inbound)), ("outbound", .int(entry.outbound)),
                        ])
                    })
                ),
                ("conversations", .array(conversationDays)),
                (
                    "totals",
                    .object([
                        ("messagesIn", .int(messagesIn)), ("messagesOut", .int(messagesOut)), ("opened", .int(opened)),
                        ("resolved", .int(resolved)),
                    ])
                ),
                ("firstResponse", firstResponse.summary),
                ("resolution", resolution.summary),
                (
                    "failedSends",
                    .array(failures.map { .object([("reason", .string($0[0])), ("count", .int($0[1]))]) })
                ),
                (
                    "agents",
                    .array(agentIDs.map { agent in
                        .object([
                            ("agentId", .string(agent)), ("resolved", .int(agentCounts[agent]?.resolved ?? 0)),
                            ("messagesSent", .int(agentCounts[agent]?.sent ?? 0)),
                            ("firstResponse", (agentFirstResponse[agent] ?? Histogram()).summary),
                            ("resolution", (agentResolution[agent] ?? Histogram()).summary),
                        ])
                    })
                ),
            ])
        return report.text
    }
}
