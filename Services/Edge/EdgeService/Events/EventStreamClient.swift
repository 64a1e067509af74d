import NIOCore
public import ServiceKit
import Synchronization

/// How many event streams edge holds and how much it keeps for each (README, configuration).
public struct EventStreamLimits: Sendable {
    /// Concurrent streams per API key (`SWITCHBOARD_MAX_STREAMS_PER_KEY`, 20).
    public var perKey = 20
    /// Concurrent streams per organisation (`SWITCHBOARD_MAX_STREAMS_PER_ORG`, 100).
    public var perOrg = 100
    /// Bytes queued for one browser before it counts as too slow and is dropped (`SWITCHBOARD_STREAM_BUFFER_BYTES`,
    /// 262144).
    public var clientBufferBytes = 256 * 1024
    /// Recent events (all organisations) the hub keeps to resume a reconnecting browser without asking the
    /// conversations service (`SWITCHBOARD_STREAM_RECENT_EVENTS`, 10000).
    public var recentEvents = 10_000
    /// Catch-up replays from the conversations log running at once; more wait (`SWITCHBOARD_STREAM_MAX_REPLAYS`, 4).
    public var replays = 4
    /// Seconds a refused browser is told to wait (`Retry-After`).
    public var retryAfterSeconds = 5

    public init() {}

    public init(config: ConfigReader) throws {
        func positive(_ key: String, _ value: Int) throws -> Int { max(1, try config.int(key, default: value)) }
        perKey = try positive("SWITCHBOARD_MAX_STREAMS_PER_KEY", perKey)
        perOrg = try positive("SWITCHBOARD_MAX_STREAMS_PER_ORG", perOrg)
        clientBufferBytes = try positive("SWITCHBOARD_STREAM_BUFFER_BYTES", clientBufferBytes)
        recentEvents = try positive("SWITCHBOARD_STREAM_RECENT_EVENTS", recentEvents)
        replays = try positive("SWITCHBOARD_STREAM_MAX_REPLAYS", replays)
    }
}

/// One browser's event stream as the hub sees it: the SSE text queued for it, bounded in bytes. A browser that lets
/// more than its bound pile up is cut off (its connection is closed; it reconnects with `Last-Event-ID`), and so is
/// one whose key is revoked; shutdown ends it after what is queued.
final class EventStreamClient: Sendable {
    enum Ending: Sendable { case finished, tooSlow, revoked }

    let id: Int
    let orgID: String
    let keyID: String
    let agentID: String?
    let limit: Int
    /// What to write, in order.
    let chunks: AsyncStream<ByteBuffer>
    /// Finishes when the stream must stop at once (too slow, revoked): the writer is then cancelled.
    let cuts: AsyncStream<Never>
    private let output: AsyncStream<ByteBuffer>.Continuation
    private let cut: AsyncStream<Never>.Continuation
    private let state = Mutex(State())

    struct State {
        var queued = 0
        var ending: Ending?
        /// The sequence of the last event queued (-1: none yet).
        var lastSequence: Int64 = -1
    }

    /// - Parameter after: the sequence the browser has seen (its `Last-Event-ID`; -1: none).
    init(id: Int, orgID: String, keyID: String, agentID: String?, limit: Int, after: Int64 = -1) {
        self.id = id
        self.orgID = orgID
        self.keyID = keyID
        self.agentID = agentID
        self.limit = limit
        (chunks, output) = AsyncStream.makeStream(of: ByteBuffer.self)
        (cuts, cut) = AsyncStream.makeStream(of: Never.self)
        state.withLock { $0.lastSequence = after }
    }

    var ending: Ending? { state.withLock { $0.ending } }
    var lastSequence: Int64 { state.withLock { $0.lastSequence } }
    var queuedBytes: Int { state.withLock { $0.queued } }

    /// Queues an event (or, with no sequence, a comment); false when the client is over its bound and was cut off,
    /// or had already ended.
    @discardableResult
    func push(_ chunk: ByteBuffer, sequence: Int64? = nil) -> Bool {
        state.withLock { state in
            guard state.ending == nil else { return false }
            if let sequence {
                guard sequence > state.lastSequence else { return true }  // already sent: never twice
                state.lastSequence = sequence
            }
            state.queued += chunk.readableBytes
            if state.queued > limit {
                end(&state, .tooSlow)
                return false
            }
            output.yield(chunk)
            return true
        }
    }

    /// The writer took `chunk` off the queue.
    func sent(_ chunk: ByteBuffer) {
        state.withLock { $0.queued -= chunk.readableBytes }
    }

    func end(_ ending: Ending) {
        state.withLock { end(&$0, ending) }
    }

    private func end(_ state: inout State, _ ending: Ending) {
        guard state.ending == nil else { return }
        state.ending = ending
        output.finish()
        if ending != .finished { cut.finish() }
    }
}
