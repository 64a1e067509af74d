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

    var json: [String: Any] { ["from": Self.string(day: from), "to": Self.string(day: to)] }
}

func rounded(_ value: Double, _ places: Double) -> Double {
    let scale = pow(10, places)
    return (value * scale).rounded() / scale
}

func jsonText(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
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
                "invalid_kind", "unknown kind '\(kind)' (one of \(Self.kinds.sorted().joined(separator: ", ")))",
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
        let rows = try await writer.read { db in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)) }
        var items: [[String: Any]] = []
        for row in rows.prefix(limit) {
            let details = (try? JSONSerialization.jsonObject(with: Data((row[7] as String).utf8))) ?? [:]
            items.append([
                "id": row[1] as String, "kind": row[2] as String, "type": row[3] as String,
                "at": RFC3339.string(millis: row[4]), "conversationId": (row[5] as String?) as Any? ?? NSNull(),
                "messageId": (row[6] as String?) as Any? ?? NSNull(), "details": details,
            ])
        }
        var next: Any = NSNull()
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = PageCursor.encode([String(last[4] as Int64), String(last[0] as Int64)])
        }
        return jsonText(["data": items, "nextCursor": next])
    }

    public func csatReport(orgID: String, from: String, to: String) async throws -> String {
        let period = try Period(from: from, to: to)
        let rows = try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT day, agent_id, channel, rating, sum(n) FROM daily_csat
                    WHERE org_id = ? AND day BETWEEN ? AND ? GROUP BY day, agent_id, channel, rating
                    """, arguments: [orgID, period.from, period.to])
        }
        struct Tally {
            var count = 0
            var sum = 0
            var satisfied = 0
            mutating func add(_ rating: Int, _ n: Int) {
                count += n
                sum += rating * n
                if rating >= 4 { satisfied += n }
            }
            var average: Any { count == 0 ? NSNull() : rounded(Double(sum) / Double(count), 2) }
            var share: Any { count == 0 ? NSNull() : rounded(Double(satisfied) / Double(count), 4) }
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
        var report = period.json
        report["count"] = total.count
        report["average"] = total.average
        report["satisfiedShare"] = total.share
        report["distribution"] = Dictionary(uniqueKeysWithValues: (1...5).map { (String($0), distribution[$0 - 1]) })
        report["byAgent"] = agents.keys.sorted().map { key in
            ["agentId": key, "count": agents[key]!.count, "average": agents[key]!.average, "satisfiedShare": agents[key]!.share]
        }
        report["byChannel"] = channels.keys.sorted().map { key in
            ["channel": key, "count": channels[key]!.count, "average": channels[key]!.average]
        }
        report["byDay"] = days.keys.sorted().map { day in
            ["date": Period.string(day: day), "count": days[day]!.count, "average": days[day]!.average]
        }
        return jsonText(report)
    }

    public func ctwaReport(orgID: String, from: String, to: String) async throws -> String {
        let period = try Period(from: from, to: to)
        let (rows, ads) = try await writer.read { db in
            (
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT source_id, day, contacts, started, resolved, csat_sum, csat_count FROM daily_ad
                        WHERE org_id = ? AND day BETWEEN ? AND ? ORDER BY source_id, day
                        """, arguments: [orgID, period.from, period.to]),
                try Row.fetchAll(db, sql: "SELECT source_id, headline, source_url FROM ad WHERE org_id = ?", arguments: [orgID])
            )
        }
        var info: [String: (headline: String?, url: String?)] = [:]
        for ad in ads { info[ad[0]] = (ad[1], ad[2]) }
        var order: [String] = []
        var reports: [String: [String: Any]] = [:]
        var sums: [String: (contacts: Int, started: Int, resolved: Int, csatSum: Int, csatCount: Int)] = [:]
        var series: [String: [[String: Any]]] = [:]
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
                series[source, default: []].append([
                    "date": Period.string(day: row[1]), "contactsAcquired": contacts, "conversationsStarted": started,
                    "conversationsResolved": resolved,
                ])
            }
        }
        for source in order {
            let sum = sums[source]!
            reports[source] = [
                "sourceId": source, "headline": info[source]?.headline as Any? ?? NSNull(),
                "sourceUrl": info[source]?.url as Any? ?? NSNull(), "contactsAcquired": sum.contacts,
                "conversationsStarted": sum.started, "conversationsResolved": sum.resolved, "csatCount": sum.csatCount,
                "csatAverage": sum.csatCount == 0 ? NSNull() : rounded(Double(sum.csatSum) / Double(sum.csatCount), 2),
                "days": series[source] ?? [],
            ]
        }
        var report = period.json
        report["ads"] = order.map { reports[$0]! }
        return jsonText(report)
    }

    public func overviewReport(orgID: String, from: String, to: String) async throws -> String {
        let period = try Period(from: from, to: to)
        let arguments: StatementArguments = [orgID, period.from, period.to]
        let (messages, conversations, agents, failures, durations) = try await writer.read { db in
            (
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
        var byDayChannel: [String: [String: Any]] = [:]
        var keys: [String] = []
        var messagesIn = 0
        var messagesOut = 0
        for row in messages {
            let (day, channel, direction, n): (Int64, String, String, Int) = (row[0], row[1], row[2], row[3])
            let key = "\(day)|\(channel)"
            if byDayChannel[key] == nil {
                keys.append(key)
                byDayChannel[key] = ["date": Period.string(day: day), "channel": channel, "inbound": 0, "outbound": 0]
            }
            byDayChannel[key]![direction] = n
            if direction == "inbound" { messagesIn += n } else { messagesOut += n }
        }
        var opened = 0
        var resolved = 0
        let conversationDays: [[String: Any]] = conversations.map { row in
            opened += row[1] as Int
            resolved += row[2] as Int
            return ["date": Period.string(day: row[0]), "opened": row[1] as Int, "resolved": row[2] as Int]
        }
        var firstResponse = Histogram()
        var resolution = Histogram()
        var agentFirstResponse: [String: Histogram] = [:]
        var agentResolution: [String: Histogram] = [:]
        for row in durations {
            let (metric, agent, blob): (String, String, Data) = (row[0], row[1], row[2])
            let histogram = Histogram(blob: blob)
            if metric == "first_response" {
                firstResponse.merge(histogram)
                if !agent.isEmpty { agentFirstResponse[agent, default: Histogram()].merge(histogram) }
            } else {
                resolution.merge(histogram)
                if !agent.isEmpty { agentResolution[agent, default: Histogram()].merge(histogram) }
            }
        }
        var agentCounts: [String: (resolved: Int, sent: Int)] = [:]
        for row in agents { agentCounts[row[0]] = (row[1], row[2]) }
        let agentIDs = Set(agentCounts.keys).union(agentFirstResponse.keys).union(agentResolution.keys).sorted()
        var report = period.json
        report["messages"] = keys.map { byDayChannel[$0]! }
        report["conversations"] = conversationDays
        report["totals"] = ["messagesIn": messagesIn, "messagesOut": messagesOut, "opened": opened, "resolved": resolved]
        report["firstResponse"] = firstResponse.summary
        report["resolution"] = resolution.summary
        report["failedSends"] = failures.map { ["reason": $0[0] as String, "count": $0[1] as Int] }
        report["agents"] = agentIDs.map { agent in
            [
                "agentId": agent, "resolved": agentCounts[agent]?.resolved ?? 0,
                "messagesSent": agentCounts[agent]?.sent ?? 0,
                "firstResponse": (agentFirstResponse[agent] ?? Histogram()).summary,
                "resolution": (agentResolution[agent] ?? Histogram()).summary,
            ] as [String: Any]
        }
        return jsonText(report)
    }
}
