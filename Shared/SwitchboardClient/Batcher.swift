import GRPCCore
public import ServiceKit
import Synchronization

/// Folds the calls that arrive while one is in flight into one batch call.
///
/// At low load every call goes out at once (a batch of one); under load, callers queue behind the call in flight
/// and leave together in the next one, so the per-RPC cost of the gRPC hop is shared. Each call is still sent after
/// it was made, so it sees every write that finished before it.
public final class Batcher<Input: Sendable, Output: Sendable>: Sendable {
    public typealias Send = @Sendable ([Input]) async throws(ServiceFailure) -> [Result<Output, ServiceFailure>]

    private let send: Send
    private let maxBatch: Int
    private let maxWeight: Int
    private let weight: @Sendable (Input) -> Int
    private let state = Mutex(State())

    private struct Waiter {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var inFlight = false
        var queue: [Waiter] = []
    }

    /// - Parameters:
    ///   - maxBatch: the most inputs in one call.
    ///   - maxWeight: the most total `weight` in one call (e.g. bytes, to stay under the RPC message limit); an
    ///     input heavier than this alone still goes, in a call of its own.
    ///   - send: answers one result per input, in order (a failure of the whole call throws).
    public init(
        maxBatch: Int = 256, maxWeight: Int = .max, weight: @escaping @Sendable (Input) -> Int = { _ in 0 },
        send: @escaping Send
    ) {
        self.send = send
        self.maxBatch = maxBatch
        self.maxWeight = maxWeight
        self.weight = weight
    }

    public func submit(_ input: Input) async throws(ServiceFailure) -> Output {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                let leader = state.withLock { state -> Bool in
                    state.queue.append(Waiter(input: input, continuation: continuation))
                    guard !state.inFlight else { return false }
                    state.inFlight = true
                    return true
                }
                if leader { Task { await self.drain() } }
            }
        } catch let failure as ServiceFailure {
            throw failure
        } catch {
            throw ServiceFailure(.unknown, "internal_error", "\(error)")
        }
    }

    /// Sends queued calls in batches until the queue is empty, then steps down.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                var count = 0
                var total = 0
                for waiter in state.queue.prefix(maxBatch) {
                    let next = weight(waiter.input)
                    if count > 0, total + next > maxWeight { break }
                    count += 1
                    total += next
                }
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                if batch.isEmpty { state.inFlight = false }
                return batch
            }
            if batch.isEmpty { return }
            await deliver(batch)
        }
    }

    /// One call for the batch. When the call fails as a whole and it carried more than one input, each input is
    /// sent again alone, so one input's failure (too big, malformed beyond the service's reading) never fails the
    /// inputs that happened to share its call.
    private func deliver(_ batch: [Waiter]) async {
        do {
            let results = try await send(batch.map(\.input))
            guard results.count == batch.count else {
                throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
            }
            for (waiter, result) in zip(batch, results) { waiter.continuation.resume(with: result.mapError { $0 }) }
        } catch {
            guard batch.count > 1 else {
                batch[0].continuation.resume(throwing: error)
                return
            }
            for waiter in batch { await deliver([waiter]) }
        }
    }
}
