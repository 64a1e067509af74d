import Foundation
import NIOCore
import Testing

@testable import EdgeService

@Suite("Event stream ids and buffers")
struct EventStreamTests {
    let ids = EventStreamIDs(secret: EventStreamIDs.newSecret())

    @Test(arguments: [Int64(0), 1, 42, 1 << 40, Int64.max])
    func anIdOpensToItsSequenceForItsOrganisationOnly(sequence: Int64) {
        let id = ids.id(sequence: sequence, orgID: "org-a")
        #expect(id.count == EventStreamIDs.length)
        #expect(!id.contains(String(sequence)) || sequence < 10)
        #expect(ids.sequence(id: id, orgID: "org-a") == sequence)
        #expect(ids.sequence(id: id, orgID: "org-b") == nil)
        #expect(ids.id(sequence: sequence, orgID: "org-a") == id, "one event, one id")
        #expect(EventStreamIDs(secret: EventStreamIDs.newSecret()).sequence(id: id, orgID: "org-a") == nil)
    }

    @Test(arguments: ["", "12", "-1", "not an id", String(repeating: "A", count: 48), String(repeating: "é", count: 24)])
    func anythingElseIsRefused(raw: String) {
        #expect(ids.sequence(id: raw, orgID: "org-a") == nil)
    }

    @Test func aTamperedIdIsRefused() {
        var id = Array(ids.id(sequence: 7, orgID: "org-a"))
        id[10] = id[10] == "A" ? "B" : "A"
        #expect(ids.sequence(id: String(id), orgID: "org-a") == nil)
    }

    @Test func theRingKnowsHowFarBackItReaches() {
        var state = EventHubState(capacity: 3)
        for sequence in Int64(10)...14 {
            state.saw(sequence)
            state.remember(.init(sequence: sequence, orgID: sequence % 2 == 0 ? "a" : "b", chunk: ByteBuffer()))
        }
        #expect(state.floor == 11, "events 12-14 are kept, so every id from 11 on resumes from the ring")
        #expect(state.recent(of: "a", after: 11).map(\.sequence) == [12, 14])
        #expect(state.recent(of: "b", after: 0).map(\.sequence) == [13])
    }

    @Test func theAnnouncedHeadIsWhereTheHubStartsBeforeAnyEvent() {
        var state = EventHubState(capacity: 3)
        #expect(state.last == nil)
        state.starts(after: 41)
        #expect(state.last == 41, "a stream opened now starts after 41")
        #expect(state.floor == 41, "an id from 41 on resumes from the ring")
        state.saw(42)
        state.starts(after: 7)
        #expect(state.last == 42, "an announcement never moves the hub back")
        #expect(state.floor == 41)
    }

    @Test func aClientOverItsBufferIsCutOffAndNeverGetsAnEventTwice() {
        let client = EventStreamClient(id: 1, orgID: "a", keyID: "k", agentID: nil, limit: 10)
        #expect(client.push(ByteBuffer(string: "12345"), sequence: 1))
        #expect(client.push(ByteBuffer(string: "12345"), sequence: 1), "a double is skipped, not queued")
        #expect(client.queuedBytes == 5)
        #expect(client.push(ByteBuffer(string: "12345"), sequence: 2))
        #expect(!client.push(ByteBuffer(string: "1"), sequence: 3))
        #expect(client.ending == .tooSlow)
    }
}
