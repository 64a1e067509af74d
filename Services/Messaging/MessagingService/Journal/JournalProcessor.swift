import ContactsKit
import Foundation
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
public import ServiceLifecycle

/// Works the webhook journal at least once, in journal order: parses a batch of webhooks, routes every event to
/// its channel's org and hands all the batch's messages to the sink at once (two RPCs, not two per message). A
/// webhook leaves the journal only when all its events are applied (or refused for good); when a service is down the
/// whole batch is tried again after a backoff, in the same order, so a sender's messages never overtake each other.
/// Resumes after a crash from whatever is still unprocessed.
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

    /// Parses a batch, hands all its messages to the sink in one call (in journal order), applies its statuses,
    /// and answers which entries are done (with the reason when refused for good) and which to try again.
    func process(_ batch: [JournalEntry]) async -> (done: [(seq: Int64, error: String?)], retry: [(seq: Int64, error: String)]) {
        var permanent: [Int64: String] = [:]
        var transient: [Int64: String] = [:]
        var deliveries: [InboundDelivery] = []
        var deliverySeqs: [Int64] = []
        var statuses: [(seq: Int64, status: ParsedStatus, channel: Channel, receivedAt: Millis)] = []
        var channels: [String: StoredChannel?] = [:]
        var optOutButtons: [String: Set<String>] = [:]
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
                switch item.event {
                case .message(var message):
                    if message.type == "button", channel.kind == .whatsappCloud || channel.kind == .sandbox {
                        let buttons = await self.optOutButtons(of: channel, cache: &optOutButtons)
                        if buttons.contains(message.text) { message.textOrigin = "opt_out_button" }
                    }
                    deliveries.append(
                        InboundDelivery(
                            message: message, orgID: channel.orgID, channelID: channel.id,
                            medium: channel.kind == .twilioSMS ? message.medium : "whatsapp",
                            receivedAt: entry.receivedAt))
                    deliverySeqs.append(entry.seq)
                case .status(var status):
                    if status.failureReason == "opted_out" {
                        status.contactID = try? await store.outboxContact(
                            orgID: channel.orgID, providerMessageID: status.providerMessageID)
                    }
                    statuses.append((entry.seq, status, channel, entry.receivedAt))
                case .notice(let text):
                    logger.info("webhook notice on channel \(channel.id): \(text)")
                }
            }
        }
        // Statuses first: they concern outbound messages, so their order against inbound ones does not matter, and
        // once a later inbound message is visible every status journaled before it has been applied.
        await withTaskGroup(of: (Int64, ServiceFailure?).self) { group in
            var running = 0
            for item in statuses {
                if running >= concurrency, let (seq, failure) = await group.next() {
                    running -= 1
                    if let failure { record(failure, seq: seq, permanent: &permanent, transient: &transient) }
                }
                group.addTask {
                    do throws(ServiceFailure) {
                        try await self.sink.apply(
                            item.status, orgID: item.channel.orgID, channelID: item.channel.id, receivedAt: item.receivedAt)
                        return (item.seq, nil)
                    } catch {
                        return (item.seq, error)
                    }
                }
                running += 1
            }
            for await (seq, failure) in group {
                if let failure { record(failure, seq: seq, permanent: &permanent, transient: &transient) }
            }
        }
        if !deliveries.isEmpty {
            do {
                let outcomes = try await sink.deliver(deliveries)
                for (index, outcome) in outcomes.enumerated() {
                    guard let outcome else { continue }
                    permanent[deliverySeqs[index]] = outcome.description
                    logger.warning(
                        "message \(deliveries[index].message.providerMessageID) refused on channel \(deliveries[index].channelID): \(outcome)")
                }
            } catch {
                // The whole batch again later (both services deduplicate), in the same order.
                for seq in deliverySeqs { transient[seq] = error.description }
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
            logger.warning("delivery status refused: \(failure)")
        }
    }

    static func parse(_ entry: JournalEntry) throws -> [RoutedEvent] {
        switch entry.provider {
        case "twilio": return [try TwilioWebhook.parse(entry.body)]
        default: return try WhatsAppWebhook.parse(entry.body)
        }
    }

    /// The channel an event goes to: the entry's own for Twilio and the sandbox; for WhatsApp the channel of the
    /// change's phone number, and only if the body's signer may speak for it (`WebhookAuthority.mayRoute`).
    private func channel(for route: InboundRoute, entry: JournalEntry, cache: inout [String: StoredChannel?]) async
        -> Channel?
    {
        let signerKey = entry.channelID ?? ""
        guard entry.provider == "whatsapp", case .whatsapp(let phoneNumberID, _) = route else {
            return await lookup(id: signerKey, cache: &cache)?.channel
        }
        let key = "pn:" + phoneNumberID
        let found: StoredChannel?
        if let cached = cache[key] {
            found = cached
        } else {
            found = try? await store.whatsappChannels(phoneNumberIDs: [phoneNumberID]).first
            cache[key] = found
        }
        guard let found, let signer = await lookup(id: signerKey, cache: &cache),
            WebhookAuthority.mayRoute(to: found, signedBy: signer)
        else {
            if found != nil { logger.warning("journal \(entry.id): a change for another channel's number refused") }
            return nil
        }
        return found.channel
    }

    /// The texts of the template buttons the business marked as its opt-out button on this channel.
    private func optOutButtons(of channel: Channel, cache: inout [String: Set<String>]) async -> Set<String> {
        if let cached = cache[channel.id] { return cached }
        let templates = (try? await store.templates(orgID: channel.orgID, channelID: channel.id)) ?? []
        let buttons = Set(templates.flatMap { TemplateRules.optOutButtons(componentsJSON: $0.componentsJSON) })
        cache[channel.id] = buttons
        return buttons
    }

    private func lookup(id: String, cache: inout [String: StoredChannel?]) async -> StoredChannel? {
        guard !id.isEmpty else { return nil }
        if let cached = cache[id] { return cached }
        let found = try? await store.channel(id: id)
        cache[id] = found
        return found
    }
}
