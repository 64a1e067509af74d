import Foundation
import GRDB
import ServiceKit
import SwitchboardProtos
import Testing

@testable import AnalyticsService

let org = "org-1"
/// 2026-03-10T09:00:00Z
let day0: Millis = 1_773_133_200_000
func at(_ seconds: Int) -> Millis { day0 + Millis(seconds) * 1000 }

/// Builds events as the producers' logs serve them.
struct Log {
    var sequence: Int64 = 0
    var events: [Switchboard_Common_V1_Event] = []

    mutating func add(_ type: String, contact: String, at: Millis, _ payload: [String: Any]) {
        sequence += 1
        var event = Switchboard_Common_V1_Event()
        event.sequence = sequence
        event.id = "e\(sequence)-\(type)"
        event.orgID = org
        event.type = type
        event.subjectID = payload["conversationId"] as? String ?? contact
        event.contactID = contact
        event.occurredAt = .init(millis: at)
        var payload = payload
        payload["contactId"] = contact
        event.payloadJson = String(decoding: try! JSONSerialization.data(withJSONObject: payload), as: UTF8.self)
        events.append(event)
    }

    func batch(_ range: Range<Int>? = nil) -> Switchboard_Common_V1_EventBatch {
        var batch = Switchboard_Common_V1_EventBatch()
        batch.events = range.map { Array(events[$0]) } ?? events
        return batch
    }
}

/// One day: an ad brings c1 (answered in 90 s by agent a1, resolved after 10 min, CSAT 5), c2 writes on SMS
/// (answered in 30 s by a2, resolved after 1 h 30 min 20 s, CSAT 3), and one send fails.
func scriptedDay() -> Log {
    var log = Log()
    let ad: [String: Any] = ["sourceId": "ad-7", "headline": "Spring sale", "sourceUrl": "https://fb.me/ad7"]
    log.add("conversation.opened", contact: "c1", at: at(0), ["conversationId": "v1", "medium": "whatsapp", "referral": ad])
    log.add("message.received", contact: "c1", at: at(0), ["conversationId": "v1", "messageId": "m1", "medium": "whatsapp", "text": "hi"])
    log.add("conversation.assigned", contact: "c1", at: at(10), ["conversationId": "v1", "agentId": "a1"])
    log.add("message.sent", contact: "c1", at: at(90), ["conversationId": "v1", "messageId": "m2", "medium": "whatsapp", "agentId": "a1", "status": "queued"])
    log.add("message.status", contact: "c1", at: at(91), ["conversationId": "v1", "messageId": "m2", "status": "delivered"])
    log.add("message.sent", contact: "c1", at: at(120), ["conversationId": "v1", "messageId": "m3", "medium": "whatsapp", "agentId": "a1", "status": "queued"])
    log.add("conversation.opened", contact: "c2", at: at(200), ["conversationId": "v2", "medium": "sms", "referral": NSNull()])
    log.add("message.received", contact: "c2", at: at(200), ["conversationId": "v2", "messageId": "m4", "medium": "sms", "text": "help"])
    log.add("message.sent", contact: "c2", at: at(230), ["conversationId": "v2", "messageId": "m5", "medium": "sms", "agentId": "a2", "status": "queued"])
    log.add("conversation.resolved", contact: "c1", at: at(600), ["conversationId": "v1", "agentId": "a1"])
    log.add("csat.answered", contact: "c1", at: at(700), ["conversationId": "v1", "surveyId": "s1", "agentId": "a1", "medium": "whatsapp", "rating": 5])
    log.add("conversation.resolved", contact: "c2", at: at(200 + 5420), ["conversationId": "v2", "agentId": "a2"])
    log.add("csat.answered", contact: "c2", at: at(5700), ["conversationId": "v2", "surveyId": "s2", "agentId": "a2", "medium": "sms", "rating": 3])
    log.add("csat.commented", contact: "c2", at: at(5710), ["conversationId": "v2", "surveyId": "s2", "agentId": "a2", "comment": "slow"])
    log.add("consent.changed", contact: "c1", at: at(800), ["optedIn": false, "source": "keyword"])
    log.add("outbound.failed", contact: "c2", at: at(900), ["messageId": "m9", "reason": "window_closed"])
    return log
}

func object(_ json: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
}

@Suite struct AnalyticsStoreTests {
    let today = "2026-03-10"

    func store() throws -> AnalyticsStore {
        try AnalyticsStore(try DatabaseQueue())
    }

    @Test func aScriptedDayGivesExactFigures() async throws {
        let store = try store()
        try await store.apply(source: "conversations", scriptedDay().batch())
        let overview = try object(try await store.overviewReport(orgID: org, from: today, to: today))
        let totals = try #require(overview["totals"] as? [String: Any])
        #expect(totals["messagesIn"] as? Int == 2 && totals["messagesOut"] as? Int == 3)
        #expect(totals["opened"] as? Int == 2 && totals["resolved"] as? Int == 2)
        let first = try #require(overview["firstResponse"] as? [String: Any])
        #expect(first["count"] as? Int == 2 && first["medianSeconds"] as? Int == 30 && first["p90Seconds"] as? Int == 90)
        let resolution = try #require(overview["resolution"] as? [String: Any])
        // 600 s exact; 5,420 s (1 h 30 min 20 s) to the minute: 5,400.
        #expect(resolution["medianSeconds"] as? Int == 600 && resolution["p90Seconds"] as? Int == 5400)
        let agents = try #require(overview["agents"] as? [[String: Any]])
        #expect(agents.map { $0["agentId"] as? String } == ["a1", "a2"])
        #expect(agents[0]["messagesSent"] as? Int == 2 && agents[0]["resolved"] as? Int == 1)
        #expect((agents[1]["firstResponse"] as? [String: Any])?["medianSeconds"] as? Int == 30)
        let messages = try #require(overview["messages"] as? [[String: Any]])
        #expect(messages.count == 2)
        #expect(messages.first { $0["channel"] as? String == "sms" }?["inbound"] as? Int == 1)
        #expect((overview["failedSends"] as? [[String: Any]])?.first?["reason"] as? String == "window_closed")

        let csat = try object(try await store.csatReport(orgID: org, from: today, to: today))
        #expect(csat["count"] as? Int == 2 && csat["average"] as? Double == 4)
        #expect(csat["satisfiedShare"] as? Double == 0.5)
        #expect((csat["distribution"] as? [String: Int]) == ["1": 0, "2": 0, "3": 1, "4": 0, "5": 1])
        #expect((csat["byAgent"] as? [[String: Any]])?.map { $0["average"] as? Double } == [5, 3])

        let ctwa = try object(try await store.ctwaReport(orgID: org, from: today, to: today))
        let ads = try #require(ctwa["ads"] as? [[String: Any]])
        #expect(ads.count == 1)
        #expect(ads[0]["sourceId"] as? String == "ad-7" && ads[0]["headline"] as? String == "Spring sale")
        #expect(ads[0]["conversationsStarted"] as? Int == 1 && ads[0]["conversationsResolved"] as? Int == 1)
        #expect(ads[0]["csatAverage"] as? Double == 5 && ads[0]["csatCount"] as? Int == 1)

        // Another day, another period: nothing.
        let empty = try object(try await store.overviewReport(orgID: org, from: "2026-03-11", to: "2026-03-12"))
        #expect((empty["totals"] as? [String: Any])?["messagesIn"] as? Int == 0)
    }

    @Test func redeliveredEventsAreAppliedOnce() async throws {
        let log = scriptedDay()
        let once = try store()
        try await once.apply(source: "conversations", log.batch())
        let twice = try store()
        // Overlapping batches, and the whole log again from an earlier cursor.
        try await twice.apply(source: "conversations", log.batch(0..<9))
        try await twice.apply(source: "conversations", log.batch(5..<16))
        try await twice.apply(source: "conversations", log.batch())
        for report in ["overview", "csat", "ctwa"] {
            let a = try await report == "overview" ? once.overviewReport(orgID: org, from: today, to: today)
                : report == "csat" ? once.csatReport(orgID: org, from: today, to: today) : once.ctwaReport(orgID: org, from: today, to: today)
            let b = try await report == "overview" ? twice.overviewReport(orgID: org, from: today, to: today)
                : report == "csat" ? twice.csatReport(orgID: org, from: today, to: today) : twice.ctwaReport(orgID: org, from: today, to: today)
            #expect(a == b, "\(report)")
        }
        let progress = try await twice.progress()
        #expect(progress.count == 1 && progress[0].sequence == 16 && progress[0].applied == 16)
        // The same event ids under another source are still duplicates.
        try await twice.apply(source: "contacts", log.batch())
        #expect(try await twice.overviewReport(orgID: org, from: today, to: today)
            == once.overviewReport(orgID: org, from: today, to: today))
    }

    @Test func theTimelineIsNewestFirstFilteredAndPaged() async throws {
        let store = try store()
        try await store.apply(source: "conversations", scriptedDay().batch())
        let all = try object(try await store.timeline(orgID: org, contactID: "c1", kinds: [], cursor: "", limit: 0))
        let items = try #require(all["data"] as? [[String: Any]])
        #expect(items.map { $0["type"] as? String } == [
            "consent.changed", "csat.answered", "conversation.resolved", "message.sent", "message.sent",
            "conversation.assigned", "message.received", "conversation.opened",
        ])
        let sent = items.first { $0["messageId"] as? String == "m2" }
        #expect((sent?["details"] as? [String: Any])?["status"] as? String == "delivered")
        let messages = try object(try await store.timeline(orgID: org, contactID: "c1", kinds: ["message"], cursor: "", limit: 0))
        #expect((messages["data"] as? [Any])?.count == 3)
        var seen: [String] = []
        var cursor = ""
        repeat {
            let page = try object(try await store.timeline(orgID: org, contactID: "c1", kinds: [], cursor: cursor, limit: 3))
            seen += (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            cursor = page["nextCursor"] as? String ?? ""
        } while !cursor.isEmpty
        #expect(seen == items.compactMap { $0["id"] as? String })
        await #expect(throws: ServiceFailure.self) {
            _ = try await store.timeline(orgID: org, contactID: "c1", kinds: ["bogus"], cursor: "", limit: 0)
        }
        await #expect(throws: ServiceFailure.self) {
            _ = try await store.timeline(orgID: org, contactID: "c1", kinds: [], cursor: "not-a-cursor", limit: 0)
        }
        let other = try object(try await store.timeline(orgID: "org-2", contactID: "c1", kinds: [], cursor: "", limit: 0))
        #expect((other["data"] as? [Any])?.isEmpty == true)
    }

    @Test func periods() throws {
        let period = try Period(from: "2026-02-27", to: "2026-03-01")
        #expect(period.to - period.from == 2)
        #expect(Period.string(day: period.from) == "2026-02-27")
        #expect(throws: ServiceFailure.self) { try Period(from: "2026-02-30", to: "") }
        #expect(throws: ServiceFailure.self) { try Period(from: "2026-3-01", to: "") }
        // Years outside 1970...2999 are refused, not turned into dates the rest cannot print.
        #expect(throws: ServiceFailure.self) { try Period(from: "0000-01-01", to: "0000-01-02") }
        #expect(throws: ServiceFailure.self) { try Period(from: "9999-12-31", to: "9999-12-31") }
        #expect(throws: ServiceFailure.self) { try Period(from: "1969-12-31", to: "1970-01-01") }
        #expect(throws: ServiceFailure.self) { try Period(from: "2026-03-02", to: "2026-03-01") }
        #expect(throws: ServiceFailure.self) { try Period(from: "2025-01-01", to: "2026-03-01") }
        let defaulted = try Period(from: "", to: "2026-03-30")
        #expect(Period.string(day: defaulted.from) == "2026-03-01")
    }

    @Test func histograms() {
        var histogram = Histogram()
        for seconds in [5, 5, 30, 59, 3599, 3600, 3661, 90_000] { histogram.add(seconds: Int64(seconds)) }
        #expect(histogram.count == 8)
        #expect(histogram.percentile(0.5) == 59)
        #expect(histogram.percentile(0.9) == 90_000 - 90_000 % 3600)
        #expect(histogram.percentile(0.75) == 3600)
        #expect(Histogram.bucket(seconds: 3661) == 3660)
        #expect(Histogram(blob: histogram.blob) == histogram)
        #expect(Histogram().percentile(0.5) == nil)
    }
}
