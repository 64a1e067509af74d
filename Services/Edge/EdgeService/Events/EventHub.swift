public import Foundation
public import Logging
import NIOCore
public import ServiceLifecycle
import ServiceKit
import Synchronization
public import SwitchboardClient
import SwitchboardProtos

/// Edge's one follower of the conversations event log, fanned out to every open `GET /events/stream` of the
/// event's organisation. One `Subscribe` (no organisation filter) per edge process, however many browsers are
/// connected; after a failure it subscribes again from the last sequence it saw, with a backoff of 100 ms doubling
/// to 5 s. The most recent events are kept in a ring so that a reconnecting browser resumes from its
/// `Last-Event-ID` without asking the log; an older id gets a short replay of its organisation's events from the
/// log (at most `limits.replays` at once) that hands over to the hub without gaps or doubles.
///
/// Streams are capped per key and per organisation; a browser that falls `limits.clientBufferBytes` behind is cut
/// off. `closeStreams(ofKey:)` and `closeStreams(ofAgent:)` end a key's or an agent's streams at once.
public final class EventHub: Service, Sendable {
    let conversations: ConversationsClient<ServiceTransport>
    let ids: EventStreamIDs
    let limits: EventStreamLimits
    let logger: Logger
    let slots: ReplaySlots
    let state: Mutex<EventHubState>

    static let keepAlive = ByteBuffer(string: ": keep-alive\n\n")
    static let keepAliveInterval = Duration.seconds(15)
    static let batch: Int32 = 500
    /// A replay that hears nothing this long has found no more events of its organisation.
    static let replaySilence: Int64 = 3000

    /// A stream refused by a cap: answered 429 `too_many_streams`.
    struct Refusal: Error {
        let scope: String
        let limit: Int
    }

    public init(
        conversations: ConversationsClient<ServiceTransport>, idSecret: Data, limits: EventStreamLimits,
        logger: Logger
    ) {
        self.conversations = conversations
        ids = EventStreamIDs(secret: idSecret)
        self.limits = limits
        self.logger = logger
        slots = ReplaySlots(count: limits.replays)
        state = Mutex(EventHubState(capacity: limits.recentEvents))
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.follow() }
                group.addTask { await self.keepAlives() }
            }
        }
        let all = state.withLock { state in
            state.stopped = true
            return state.all
        }
        for client in all { client.end(.finished) }
    }

    // MARK: streams

    /// Registers a stream of the caller after `after` (nil: from now). Returns the sequence to replay from when the
    /// hub's ring does not reach back that far (the caller then runs `catchUp`), and for a stream from now the id
    /// of where it starts (nil until the hub knows its place in the log): the stream sends it first, so that a
    /// browser cut before any event resumes from there.
    func open(orgID: String, keyID: String, agentID: String?, after: Int64?) throws(Refusal)
        -> (client: EventStreamClient, replayFrom: Int64?, startID: String?)
    {
        let opened = try register(orgID: orgID, keyID: keyID, agentID: agentID, after: after)
        return (opened.client, opened.replayFrom, opened.start.map { ids.id(sequence: $0, orgID: orgID) })
    }

    private func register(orgID: String, keyID: String, agentID: String?, after: Int64?) throws(Refusal)
        -> (client: EventStreamClient, replayFrom: Int64?, start: Int64?)
    {
        try state.withLock { (state) throws(Refusal) in
            if state.perKey[keyID, default: 0] >= limits.perKey { throw Refusal(scope: "key", limit: limits.perKey) }
            if state.clients[orgID]?.count ?? 0 >= limits.perOrg {
                throw Refusal(scope: "organization", limit: limits.perOrg)
            }
            state.nextID += 1
            let client = EventStreamClient(
                id: state.nextID, orgID: orgID, keyID: keyID, agentID: agentID, limit: limits.clientBufferBytes,
                after: after ?? -1)
            if state.stopped {
                client.end(.finished)
                return (client, nil, nil)
            }
            state.add(client)
            // Every event after the hub's last one reaches this stream: that is where a stream from now starts.
            guard let after else { return (client, nil, state.last) }
            if let floor = state.floor, after >= floor {
                let backlog = state.recent(of: orgID, after: after)
                // A backlog too big for the browser's buffer is replayed from the log at the browser's pace.
                if backlog.reduce(0, { $0 + $1.chunk.readableBytes }) <= limits.clientBufferBytes / 2 {
                    for event in backlog { client.push(event.chunk, sequence: event.sequence) }
                    return (client, nil, nil)
                }
            }
            state.catchingUp[client.id] = .init(handover: state.last)
            return (client, after, nil)
        }
    }

    func remove(_ client: EventStreamClient) {
        state.withLock { $0.remove(client) }
        client.end(.finished)
    }

    /// Ends every open stream of the key at once (revoked).
    public func closeStreams(ofKey keyID: String) {
        close { $0.keyID == keyID }
    }

    /// Ends every open stream of keys acting as the agent at once (agent removed, signed out).
    public func closeStreams(ofAgent agentID: String) {
        close { $0.agentID == agentID }
    }

    private func close(where matches: (EventStreamClient) -> Bool) {
        let matching = state.withLock { $0.all.filter(matches) }
        for client in matching { client.end(.revoked) }
    }

    // MARK: the log

    /// Follows the conversations log until cancelled.
    func follow() async {
        var backoff = 100
        var failures = 0
        var attempted = false
        while !Task.isCancelled {
            let after = state.withLock { $0.last }
            if after == nil, attempted {
                // Subscribing "from now" again may skip what happened meanwhile: streams reconnect and resume.
                for client in state.withLock({ $0.all }) { client.end(.finished) }
            }
            attempted = true
            do {
                try await conversations.subscribe(after: after ?? -1, maxBatch: Self.batch, announceHead: after == nil) {
                    batch in
                    self.publish(batch)
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                if failures == 3 { logger.warning("event streams: following the conversations events: \(error)") }
            }
            if state.withLock({ $0.last }) != after {
                backoff = 100
                failures = 0
            }
            try? await Task.sleep(for: .milliseconds(backoff))
            backoff = min(backoff * 2, 5000)
        }
    }

    func publish(_ batch: Switchboard_Common_V1_EventBatch) {
        let rendered = batch.events.map { ($0, render($0)) }
        state.withLock { state in
            // The announced head of a subscription from now: the hub's place in the log before any event.
            if batch.events.isEmpty { state.starts(after: batch.headSequence) }
            for (event, chunk) in rendered {
                state.saw(event.sequence)
                guard let chunk else { continue }
                let recent = EventHubState.Recent(sequence: event.sequence, orgID: event.orgID, chunk: chunk)
                state.remember(recent)
                for client in state.clients[event.orgID]?.values ?? [:].values {
                    guard var held = state.catchingUp[client.id] else {
                        client.push(chunk, sequence: event.sequence)
                        continue
                    }
                    held.held.append(recent)
                    held.heldBytes += chunk.readableBytes
                    state.catchingUp[client.id] = held
                    if held.heldBytes > client.limit { client.end(.tooSlow) }
                }
            }
        }
    }

    func render(_ event: Switchboard_Common_V1_Event) -> ByteBuffer? {
        guard let name = EventStreamRoutes.eventName(event.type) else { return nil }
        return EventStreamRoutes.render(event, name: name, id: ids.id(sequence: event.sequence, orgID: event.orgID))
    }

    private func keepAlives() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.keepAliveInterval)
            for client in state.withLock({ $0.all }) { client.push(Self.keepAlive) }
        }
    }
}
