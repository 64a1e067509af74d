import ContactsKit
import Foundation
public import Logging
public import ServiceLifecycle
import ServiceKit

/// Processes confirmed imports in batches, one job at a time, resuming interrupted jobs after a restart; and
/// deletes uploads left unconfirmed for longer than `uploadTTL` (checked every `uploadTTL / 4`, at most a minute).
public final class ImportWorker: Service, Sendable {
    let store: ContactsStore
    let logger: Logger
    let uploadTTL: Duration
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(store: ContactsStore, logger: Logger, uploadTTL: Duration = .seconds(24 * 3600)) {
        self.store = store
        self.logger = logger
        self.uploadTTL = uploadTTL
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Tells the worker a job was queued.
    public func notify() { wake.yield() }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wake] in
                // A periodic nudge so nothing waits forever if a notification is lost.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    wake.yield()
                }
            }
            group.addTask { [self] in
                await cancelWhenGracefulShutdown { await self.pruneUnconfirmed() }
            }
            group.addTask { [self] in
                await cancelWhenGracefulShutdown {
                    for await _ in self.wakeups {
                        await self.drain()
                        if Task.isCancelled { break }
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Deletes expired unconfirmed uploads, then again every quarter of the TTL (1 s to 60 s), until cancelled.
    func pruneUnconfirmed() async {
        let period = min(.seconds(60), max(.seconds(1), uploadTTL / 4))
        let ttlMillis = Millis(uploadTTL / .milliseconds(1))
        while !Task.isCancelled {
            do {
                let removed = try await store.pruneUnconfirmedImports(createdBefore: Millis.now() - ttlMillis)
                if removed > 0 { logger.info("removed \(removed) unconfirmed import upload(s) past \(uploadTTL)") }
            } catch {
                logger.error("pruning unconfirmed imports failed: \(error)")
            }
            try? await Task.sleep(for: period)
        }
    }

    /// Runs every runnable job until none is left (or shutdown begins).
    func drain() async {
        while !Task.isCancelled {
            do {
                guard let job = try await store.nextRunnableJob() else { return }
                try await process(job)
            } catch is CancellationError {
                return
            } catch {
                logger.error("import worker failed: \(error)")
                return
            }
        }
    }

    func process(_ job: ImportJob) async throws {
        let plan: ImportPlan
        do {
            plan = try ImportPlan(mapping: job.mapping, headers: job.preview.headers)
        } catch {
            try await store.markJob(job.id, status: .failed, error: "\(error)")
            return
        }
        var reader: CSVFileReader
        var nextRow = job.processedRows + 1
        do {
            reader = try CSVFileReader(path: job.filePath, startOffset: UInt64(job.resumeOffset))
            if job.resumeOffset == 0 {
                guard let header = try reader.next() else { throw ServiceFailure.invalid("empty_file", "no header") }
                try await store.markJob(job.id, status: .processing, resumeOffset: Int64(header.endOffset))
            } else {
                try await store.markJob(job.id, status: .processing)
            }
        } catch {
            try await store.markJob(job.id, status: .failed, error: "cannot read the file: \(error)")
            return
        }
        logger.info("import \(job.id) started at row \(nextRow)")
        // Reading and validating the next batch overlaps with writing the current one.
        var batch = try ImportBatch.read(from: &reader, plan: plan, after: nextRow - 1)
        while !batch.rows.isEmpty {
            try Task.checkCancellation()
            let current = batch
            async let written: Void = store.applyImportBatch(job: job, batch: current)
            let following = try ImportBatch.read(from: &reader, plan: plan, after: current.lastRow)
            try await written
            nextRow = current.lastRow + 1
            batch = following
        }
        try await store.markJob(job.id, status: .completed)
        try? FileManager.default.removeItem(atPath: job.filePath)
        logger.info("import \(job.id) completed (\(nextRow - 1) rows)")
    }
}
