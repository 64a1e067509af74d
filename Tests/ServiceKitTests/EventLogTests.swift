import Foundation
import GRDB
import SwitchboardProtos
import Testing

@testable import ServiceKit

@Suite struct EventLogTests {
    @Test func payloadsAreJSON() throws {
        var payload = EventPayload()
        payload.set("text", "a \"quote\", a \\ backslash,\na newline, a tab\t and \u{1} control")
        payload.set("missing", nil as String?)
        payload.set("count", Int64(3))
        payload.set("flag", true)
        payload.set("tags", ["vip", "x\"y"])
        payload.set("nested", json: "{\"a\":1}")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(payload.json.utf8)) as? [String: Any])
        #expect(object["text"] as? String == "a \"quote\", a \\ backslash,\na newline, a tab\t and \u{1} control")
        #expect(object["missing"] is NSNull)
        #expect(object["count"] as? Int == 3 && object["flag"] as? Bool == true)
        #expect(object["tags"] as? [String] == ["vip", "x\"y"])
        #expect((object["nested"] as? [String: Int]) == ["a": 1])
        #expect(EventPayload().json == "{}")
    }

    @Test func sequencesFollowCommitsAndARollbackLeavesNoEvent() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try EventLog.createTable(db)
            try EventCursors.createTables(db)
        }
        try queue.write { db in
            try EventLog.append(db, orgID: "o1", type: "a", subjectID: "s", contactID: nil, payload: EventPayload(), at: 1)
        }
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try queue.write { db in
                try EventLog.append(db, orgID: "o1", type: "rolled.back", subjectID: "s", contactID: "c", payload: EventPayload(), at: 2)
                throw Refused()
            }
        }
        try queue.write { db in
            try EventLog.append(db, orgID: "o2", type: "b", subjectID: "s", contactID: "c", payload: EventPayload(), at: 3)
        }
        let all = try queue.read { db in try EventLog.fetch(db, after: 0, orgID: "", limit: 10) }
        #expect(all.events.map(\.type) == ["a", "b"])
        #expect(all.events[0].sequence < all.events[1].sequence)
        #expect(all.events[0].contactID == "" && all.events[1].contactID == "c")
        let org = try queue.read { db in try EventLog.fetch(db, after: 0, orgID: "o2", limit: 10) }
        #expect(org.events.map(\.type) == ["b"])
        let after = try queue.read { db in try EventLog.fetch(db, after: all.events[0].sequence, orgID: "", limit: 10) }
        #expect(after.events.map(\.type) == ["b"])

        // Consumers: the cursor only moves forward; an event id is seen once.
        try queue.write { db in
            #expect(try EventCursors.firstSeen(db, id: "e1"))
            #expect(try !EventCursors.firstSeen(db, id: "e1"))
            try EventCursors.advance(db, source: "x", to: 5, applied: 2)
            try EventCursors.advance(db, source: "x", to: 3, applied: 1)
            #expect(try EventCursors.load(db, source: "x") == 5)
            #expect(try EventCursors.load(db, source: "y") == 0)
        }
    }
}
