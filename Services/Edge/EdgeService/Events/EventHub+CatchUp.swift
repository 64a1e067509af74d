import Foundation
import Logging
import NIOCore
import ServiceKit
import SwitchboardClient
import Synchronization
import SwitchboardProtos

extension EventHub {
    /// Brings a stream whose `Last-Event-ID` is older than the hub's ring up to date: its organisation's events after
    /// `after` from the conversations log (holding one of `limits.replays` slots, at the browser's pace), then the
    /// events the hub held for it meanwhile, then live. The replay stops at the first event the hub delivers
    /// itself, at a batch shorter than asked (the log had no more of the organisation's events, all of them
    /// committed before the replay read), or after `replaySilence` without a batch (none at all). A failed replay
    /// ends the stream; the browser reconnects from the last id it got.
    func catchUp(_ client: EventStreamClient, after: Int64) async {
        let replay = Replay()
        let ran = await slots.withSlot {
            replay.touch()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await self.conversations.subscribe(after: after, orgID: client.orgID, maxBatch: Self.batch) {
                            batch in
                            replay.busy()
                            if self.replayed(batch, to: client) {
                                replay.finish()
                                throw CancellationError()
                            }
                            try await self.waitForRoom(client)
                            replay.touch()
                        }
                    }
                    group.addTask {
                        while !replay.isFinished {
                            try await Task.sleep(for: .milliseconds(100))
                            if replay.idleMillis > Self.replaySilence { replay.finish() }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                if !replay.isFinished {
                    if !Task.isCancelled { logger.info("event streams: a catch-up replay failed: \(error)") }
                }
            }
        }
        guard ran, replay.isFinished else {
            client.end(.finished)
            return
        }
        handOver(client)
    }

    /// Queues a replayed batch; true when the replay has caught up with the hub.
    func replayed(_ batch: Switchboard_Common_V1_EventBatch, to client: EventStreamClient) -> Bool {
        let rendered = batch.events.map { ($0, render($0)) }
        return state.withLock { state in
            guard let held = state.catchingUp[client.id] else { return true }
            for (event, chunk) in rendered {
                if held.covers(event.sequence) { return true }
                if let chunk { client.push(chunk, sequence: event.sequence) }
            }
            return batch.events.count < Int(Self.batch)
        }
    }

    /// Waits while the browser has half its buffer or more unread; cuts it off after 10 s of that.
    func waitForRoom(_ client: EventStreamClient) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while client.queuedBytes > client.limit / 2, client.ending == nil {
            guard ContinuousClock.now < deadline else {
                client.end(.tooSlow)
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The held events after the last one replayed, then live.
    func handOver(_ client: EventStreamClient) {
        state.withLock { state in
            guard let held = state.catchingUp.removeValue(forKey: client.id) else { return }
            for event in held.held { client.push(event.chunk, sequence: event.sequence) }
        }
    }
}

/// The progress of one catch-up replay: when it last waited for the log, whether a batch is being queued, and
/// whether it has caught up.
final class Replay: Sendable {
    private let state = Mutex((heard: ContinuousClock.now, busy: false, finished: false))

    /// A batch arrived and is being queued.
    func busy() { state.withLock { $0.busy = true } }
    /// Waiting for the log again.
    func touch() {
        state.withLock {
            $0.heard = .now
            $0.busy = false
        }
    }
    func finish() { state.withLock { $0.finished = true } }
    var isFinished: Bool { state.withLock { $0.finished } }
    var idleMillis: Int64 {
        let elapsed = state.withLock { $0.busy ? .zero : ContinuousClock.now - $0.heard }
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}
