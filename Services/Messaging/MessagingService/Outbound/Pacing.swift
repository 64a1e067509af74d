import Synchronization

/// A wake-up call: many `fire()`s before a wait make one wake-up.
final class Signal: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        let made = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        stream = made.stream
        continuation = made.continuation
    }

    func fire() { continuation.yield() }
    func finish() { continuation.finish() }
}

/// Paces a channel's sends to its rate: on a grid `1/rate` apart, catching up at most 100 ms of slots lost to a
/// stall (a busy machine, a slow commit), and never more than `rate` sends in any 1.02 s: each send waits until the
/// send `rate` places before it is 1.02 s old (the extra 20 ms absorb scheduling and network jitter between here and
/// the provider's clock).
final class Pacer: Sendable {
    private struct State {
        var next: ContinuousClock.Instant?
        var recent: [ContinuousClock.Instant] = []  // the last `capacity` send times, a ring
        var index = 0
        var capacity = 0
    }
    private let state: Mutex<State>
    static let window = Duration.milliseconds(1020)
    static let catchUp = Duration.milliseconds(100)

    init() { state = Mutex(State()) }

    /// Waits for the next slot at `rate` sends per second; answers the instant the send was let leave (what the
    /// window counts), which a busy machine may report to the caller a little later.
    @discardableResult
    func wait(rate: Double) async -> ContinuousClock.Instant {
        let interval = Duration.nanoseconds(Int64(1_000_000_000 / max(rate, 0.001)))
        let capacity = max(1, Int(rate.rounded(.down)))
        let now = ContinuousClock.now
        let slot = state.withLock { state -> ContinuousClock.Instant in
            var slot = max(state.next ?? now, now - Self.catchUp)
            if state.capacity != capacity {  // the rate changed: start a new window
                state.recent = []
                state.index = 0
                state.capacity = capacity
            }
            if state.recent.count == capacity { slot = max(slot, state.recent[state.index] + Self.window) }
            state.next = slot + interval
            // The window counts when sends leave: a slot caught up from the past leaves now.
            let leaves = max(slot, now)
            if state.recent.count < capacity {
                state.recent.append(leaves)
            } else {
                state.recent[state.index] = leaves
                state.index = (state.index + 1) % capacity
            }
            return slot
        }
        if slot > now { try? await Task.sleep(until: slot, clock: .continuous) }
        return max(slot, now)
    }
}

/// A counting semaphore for async code.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: count)) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }
}
