import NIOCore

/// What the event hub knows, behind its lock: the open streams by organisation, the per-key counts, the streams
/// still catching up, and a ring of the most recent console events of every organisation.
struct EventHubState {
    /// A console event as sent: its log sequence, its organisation and its SSE text.
    struct Recent {
        let sequence: Int64
        let orgID: String
        let chunk: ByteBuffer
    }

    /// A stream replaying from the conversations log: live events of its organisation are held for it meanwhile.
    struct CatchingUp {
        /// The hub's last sequence when the stream opened: everything after it reaches the stream through the hub.
        let handover: Int64?
        var held: [Recent] = []
        var heldBytes = 0

        /// True when the hub delivers `sequence` to this stream, so the replay can stop before it.
        func covers(_ sequence: Int64) -> Bool {
            if let handover, sequence > handover { return true }
            if let first = held.first, sequence >= first.sequence { return true }
            return false
        }
    }

    var clients: [String: [Int: EventStreamClient]] = [:]
    var perKey: [String: Int] = [:]
    var catchingUp: [Int: CatchingUp] = [:]
    var nextID = 0
    var stopped = false
    /// The hub has every event with a greater sequence (nil until it has seen one).
    var floor: Int64?
    /// The last sequence the hub has seen.
    var last: Int64?

    private var recent: [Recent] = []
    private var head = 0
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var all: [EventStreamClient] { clients.values.flatMap(\.values) }

    /// Notes that the log reached `sequence` (every event, shown on the console or not).
    mutating func saw(_ sequence: Int64) {
        if floor == nil { floor = sequence - 1 }
        last = sequence
    }

    /// Notes that the hub follows the log from after `sequence` and has seen nothing yet.
    mutating func starts(after sequence: Int64) {
        guard last == nil else { return }
        floor = sequence
        last = sequence
    }

    mutating func remember(_ event: Recent) {
        if recent.count < capacity {
            recent.append(event)
        } else {
            floor = max(floor ?? recent[head].sequence, recent[head].sequence)
            recent[head] = event
            head = (head + 1) % capacity
        }
    }

    /// The remembered events of `orgID` after `sequence`, oldest first.
    func recent(of orgID: String, after sequence: Int64) -> [Recent] {
        let ordered = recent[head...] + recent[..<head]
        return ordered.filter { $0.orgID == orgID && $0.sequence > sequence }
    }

    mutating func add(_ client: EventStreamClient) {
        clients[client.orgID, default: [:]][client.id] = client
        perKey[client.keyID, default: 0] += 1
    }

    mutating func remove(_ client: EventStreamClient) {
        guard clients[client.orgID]?.removeValue(forKey: client.id) != nil else { return }
        if clients[client.orgID]?.isEmpty == true { clients[client.orgID] = nil }
        perKey[client.keyID, default: 1] -= 1
        if perKey[client.keyID] == 0 { perKey[client.keyID] = nil }
        catchingUp[client.id] = nil
    }
}
