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
    private let state = Mutex(State())

    private struct Waiter {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var inFlight = false
        var queue: [Waiter] = []
    }

    /// - Parameter send: answers one result per input, in order (a failure of the whole call throws).
    public init(maxBatch: Int = 256, send: @escaping Send) {
        self.send = send
        self.maxBatch = maxBatch
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
                let batch = Array(state.queue.prefix(maxBatch))
                state.queue.removeFirst(batch.count)
                if batch.isEmpty { state.inFlight = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let results = try await send(batch.map(\.input))
                guard results.count == batch.count else {
                    throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
                }
                for (waiter, result) in zip(batch, results) { waiter.continuation.resume(with: result.mapError { $0 }) }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }
}
