public import ContactsKit
public import GRPCCore
public import ServiceKit
import Synchronization

/// Reads single contacts, folding the reads that arrive while one is in flight into one `BatchGetContacts`.
///
/// At low load every read goes out at once (a batch of one); under load, callers queue behind the read in
/// flight and leave together in the next call, so the per-RPC cost of the gRPC hop is shared. Each read is
/// still sent after it was asked for, so it sees every write that finished before it.
public final class ContactReader<Transport: ClientTransport>: Sendable {
    private let client: ContactsClient<Transport>
    private let maxBatch: Int
    private let state = Mutex(State())

    private struct Waiter {
        var key: (orgID: String, id: String)
        var continuation: CheckedContinuation<Contact?, any Error>
    }

    private struct State {
        var inFlight = false
        var queue: [Waiter] = []
    }

    public init(client: ContactsClient<Transport>, maxBatch: Int = 256) {
        self.client = client
        self.maxBatch = maxBatch
    }

    /// The contact, or `contact_not_found` as `ServiceFailure` like `ContactsClient.get`.
    public func get(orgID: String, id: String) async throws(ServiceFailure) -> Contact {
        let contact: Contact?
        do {
            contact = try await withCheckedThrowingContinuation { continuation in
                let leader = state.withLock { state -> Bool in
                    state.queue.append(Waiter(key: (orgID, id), continuation: continuation))
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
        guard let contact else { throw ServiceFailure.notFound("contact_not_found", "no such contact") }
        return contact
    }

    /// Sends queued reads in batches until the queue is empty, then steps down.
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
                let contacts = try await client.batchGet(batch.map(\.key))
                for (waiter, contact) in zip(batch, contacts) { waiter.continuation.resume(returning: contact) }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }
}
