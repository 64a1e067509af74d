import Foundation
import GRPCCore
import ServiceKit
import Synchronization
import SwitchboardClient
import Testing

@Suite("Batcher")
struct BatcherTests {
    /// Calls made, by their inputs; the first call blocks until the rest have queued behind it.
    final class Recorder: Sendable {
        let calls = Mutex<[[Int]]>([])
    }

    @Test func aCallNeverCarriesMoreThanItsWeightAndAFailedCallRetriesEachInputAlone() async throws {
        let recorder = Recorder()
        let gate = AsyncStream<Void>.makeStream()
        let batcher = Batcher<Int, Int>(maxWeight: 10, weight: { $0 }) { inputs throws(ServiceFailure) in
            let first = recorder.calls.withLock { calls in
                calls.append(inputs)
                return calls.count == 1
            }
            if first { for await _ in gate.stream { break } }
            // A call carrying the poisonous input fails as a whole (as an RPC over its size limit would).
            if inputs.count > 1, inputs.contains(99) { throw ServiceFailure(.resourceExhausted, "too_big", "too big") }
            return inputs.map { $0 == 99 ? .failure(ServiceFailure(.invalidArgument, "bad", "bad")) : .success($0 * 2) }
        }
        try await withThrowingTaskGroup(of: (Int, Int?).self) { group in
            group.addTask { (1, try? await batcher.submit(1)) }
            while recorder.calls.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(1)) }
            for input in [4, 5, 6, 99, 3] {
                group.addTask { (input, try? await batcher.submit(input)) }
            }
            try await Task.sleep(for: .milliseconds(100))
            gate.continuation.yield()
            var answers: [Int: Int?] = [:]
            for try await (input, answer) in group { answers[input] = answer }
            #expect(answers[1] == 2 && answers[4] == 8 && answers[5] == 10 && answers[6] == 12 && answers[3] == 6)
            #expect(answers[99] == .some(nil))
        }
        let calls = recorder.calls.withLock { $0 }
        for call in calls where call.count > 1 { #expect(call.reduce(0, +) <= 10) }
        // The heavy input went out, failed its call, and was retried alone without failing the others.
        #expect(calls.contains([99]))
    }
}
