import ContactsKit
import Foundation
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
public import ServiceLifecycle

/// Works the webhook journal at least once, in order per sender: parses each webhook, routes every event to its
/// channel's org and hands it to the sink. A webhook leaves the journal only when all its events are applied (or
/// refused for good); one that failed for a transient reason (a service down) is tried again after a backoff, and
/// the same sender's later webhooks wait for it. Resumes after a crash from whatever is still unprocessed.
public final class JournalProcessor: Service, Sendable {
    let store: MessagingStore
    let writer: JournalWriter
    let sink: any InboundSink
    let logger: Logger
    let batchSize: Int
    let concurrency: Int
    /// How long processed webhooks stay in the journal.
    static let retention: Millis = 7 * 24 * 60 * 60 * 1000

    init(store: MessagingStore, writer: JournalWriter, sink: any InboundSink, logger: Logger, batchSize: Int = 256,
         concurrency: Int = 32) {
        self.store = store
        self.writer = writer
        self.sink = sink
        self.logger = logger
        self.batchSize = batchSize
        self.concurrency = concurrency
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            // A heartbeat: retries and leftovers of an earlier run are picked up without a new webhook.
            group.addTask { [writer, store, logger] in
                var beats = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    writer.nudge()
                    beats += 1
                    // Hourly: the journal is a buffer, not an archive; processed webhooks go after 7 days.
                    if beats % 3600 == 1 {
                        do {
                            let pruned = try await store.pruneJournal(before: Millis.now() - Self.retention)
                            if pruned > 0 { logger.info("pruned \(pruned) processed webhooks from the journal") }
                        } catch {
                            logger.error("journal prune failed: \(error)")
                        }
                    }
                }
            }
            var backoff = Duration.milliseconds(200)
            for await _ in writer.commits.cancelOnGracefulShutdown() {
                if await drain() {
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                } else {
                    backoff = .milliseconds(200)
                }
            }
            group.cancelAll()
        }
    }

    /// Works through everything pending; answers whether something is left to retry.
    func drain() async -> Bool {
        while true {
            let batch: [JournalEntry]
            do {
                batch = try await store.pendingJournal(limit: batchSize)
            } catch {
                logger.error("journal read failed: \(error)")
                return true
            }
            if batch.isEmpty { return false }
            let outcome = await process(batch)
            do {
                try await store.finishJournal(outcome.done, retry: outcome.retry)
            } catch {
                logger.error("journal update failed: \(error)")
                return true
            }
            if !outcome.retry.isEmpty { return true }
        }
    }

    /// One unit of work: an event of a journal entry, routed to its channel.
    struct Work: Sendable {
        var seq: Int64
        var event: InboundEvent
        var channel: Channel
        var receivedAt: Millis
    }

    func process(_ batch: [JournalEntry]) async -> (done: [(seq: Int64, error: String?)], retry: [(seq: Int64, error: String)]) {
        var permanent: [Int64: String] = [:]
        var groups: [String: [Work]] = [:]
        var order: [String] = []
        var channels: [String: Channel?] = [:]
        for entry in batch {
            let routed: [RoutedEvent]
            do {
                routed = try Self.parse(entry)
            } catch {
                permanent[entry.seq] = "unparseable \(entry.provider) webhook: \(error)"
                logger.warning("journal \(entry.id): unparseable \(entry.provider) webhook: \(error)")
                continue
            }
            for item in routed {
                guard let channel = await self.channel(for: item.route, entry: entry, cache: &channels) else {
                    logger.warning("journal \(entry.id): no channel for \(item.route); event dropped")
                    continue
                }
                let key = channel.orgID + "|" + Self.senderKey(item.event)
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(Work(seq: entry.seq, event: item.event, channel: channel, receivedAt: entry.receivedAt))
            }
        }
        var transient: [Int64: String] = [:]
        await withTaskGroup(of: [(Int64, ServiceFailure)].self) { group in
            var running = 0
            for key in order {
                if running >= concurrency, let failures = await group.next() {
                    running -= 1
                    for (seq, failure) in failures { record(failure, seq: seq, permanent: &permanent, transient: &transient) }
                }
                let works = groups[key] ?? []
                group.addTask { await self.apply(works) }
                running += 1
            }
            for await failures in group {
                for (seq, failure) in failures { record(failure, seq: seq, permanent: &permanent, transient: &transient) }
            }
        }
        var done: [(seq: Int64, error: String?)] = []
        var retry: [(seq: Int64, error: String)] = []
        for entry in batch {
            if let error = transient[entry.seq] {
                retry.append((entry.seq, error))
            } else {
                done.append((entry.seq, permanent[entry.seq]))
            }
        }
        return (done, retry)
    }

    private func record(_ failure: ServiceFailure, seq: Int64, permanent: inout [Int64: String], transient: inout [Int64: String]) {
        if failure.isTransient {
            transient[seq] = failure.description
        } else {
            permanent[seq] = failure.description
        }
    }

    /// Applies one sender's events in journal order, stopping at the first transient failure (the rest wait).
    private func apply(_ works: [Work]) async -> [(Int64, ServiceFailure)] {
        var failures: [(Int64, ServiceFailure)] = []
        var blocked = false
        for work in works {
            if blocked {
                failures.append((work.seq, ServiceFailure(.unavailable, "waiting", "an earlier message of this sender is pending")))
                continue
            }
            do {
                switch work.event {
                case .message(let message):
                    let medium = work.channel.kind == .twilioSMS ? message.medium : "whatsapp"
                    try await sink.deliver(
                        message, orgID: work.channel.orgID, channelID: work.channel.id, medium: medium,
                        receivedAt: work.receivedAt)
                case .status(let status):
                    try await sink.apply(status, orgID: work.channel.orgID, channelID: work.channel.id, receivedAt: work.receivedAt)
                case .notice(let text):
                    logger.info("webhook notice on channel \(work.channel.id): \(text)")
                }
            } catch {
                if error.isTransient {
                    blocked = true
                } else {
                    logger.warning("webhook event refused on channel \(work.channel.id): \(error)")
                }
                failures.append((work.seq, error))
            }
        }
        return failures
    }

    static func parse(_ entry: JournalEntry) throws -> [RoutedEvent] {
        switch entry.provider {
        case "twilio": return [try TwilioWebhook.parse(entry.body)]
        default: return try WhatsAppWebhook.parse(entry.body)
        }
    }

    private func channel(for route: InboundRoute, entry: JournalEntry, cache: inout [String: Channel?]) async -> Channel? {
        var key = entry.channelID ?? ""
        if entry.provider == "whatsapp", case .whatsapp(let phoneNumberID, _) = route { key = "pn:" + phoneNumberID }
        if let cached = cache[key] { return cached }
        var found: Channel?
        if key.hasPrefix("pn:") {
            found = try? await store.whatsappChannels(phoneNumberIDs: [String(key.dropFirst(3))]).first?.channel
        } else if !key.isEmpty {
            found = try? await store.channel(id: key)?.channel
        }
        cache[key] = found
        return found
    }

    static func senderKey(_ event: InboundEvent) -> String {
        switch event {
        case .message(let message):
            return message.sender.phone ?? message.sender.whatsappUserID ?? message.providerMessageID
        case .status(let status):
            return "status:" + status.providerMessageID
        case .notice:
            return "notice"
        }
    }
}
