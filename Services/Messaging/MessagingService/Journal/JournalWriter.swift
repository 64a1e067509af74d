import Foundation
import GRPCCore
import ServiceKit

/// Group commit for the journal: webhooks that arrive while a write is in flight go to disk together in the next
/// transaction, so the fsync each one must wait for is shared instead of queued.
actor JournalWriter {
    private let store: MessagingStore
    private var pending: [(entries: [JournalEntry], done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false
    private let appended: AsyncStream<Void>.Continuation
    /// Yields after each commit, so the processor wakes without polling.
    nonisolated let commits: AsyncStream<Void>

    init(store: MessagingStore) {
        self.store = store
        (commits, appended) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Returns once the entries are durably in the journal.
    func append(_ entries: [JournalEntry]) async throws {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((entries, continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            do {
                try await store.appendJournal(batch.flatMap(\.entries))
                for item in batch { item.done.resume() }
                appended.yield()
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
        writing = false
    }

    /// Wakes the processor (e.g. at start, for what an earlier run left).
    nonisolated func nudge() {
        appended.yield()
    }
}
