import ContactsKit
import ConversationsKit
import Foundation
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
public import ServiceLifecycle
import Synchronization
import SwitchboardClient

/// Tuning of the delivery worker (env `SWITCHBOARD_SEND_*`).
struct DeliverySettings: Sendable {
    /// Provider calls in flight at once (the bound on duplicates after a crash).
    var inFlight = 32
    var maxAttempts = 10
    var retryBase: Millis = 1000
    var retryMax: Millis = 60_000
    /// How long a recorded attempt may stay without a result before the row is due again.
    var lease: Millis = 60_000
    /// Edge's public URL: Twilio's StatusCallback is `{publicURL}/webhooks/twilio/{channelId}` unless the channel
    /// sets its webhook URL.
    var publicURL = "http://127.0.0.1:8080"
}

/// Sends due outbox rows through their channel's provider, one lane per channel (each paced to the channel's
/// rate), at most `inFlight` provider calls at once. Each attempt is recorded before the provider call; the
/// result after it. Retries network errors, 429 and 5xx (and WhatsApp's throughput codes) with exponential
/// backoff and full jitter; fails for good on other refusals with the provider's code and text. A reporter
/// hands every state change to conversations (and a provider opt-out to contacts), at least once.
public final class DeliveryWorker: Service, Sendable {
    let store: MessagingStore
    let transport: any ProviderTransport
    let reports: any DeliveryReports
    let settings: DeliverySettings
    let logger: Logger
    let reported = Signal()
    /// Results that arrive together are recorded in one transaction.
    private let finishing: Batcher<(String, AttemptResult), Void>
    private let slots: Slots
    private let lanes: Mutex<[String: Lane]>
    private let newChannels: AsyncStream<String>
    private let newChannel: AsyncStream<String>.Continuation

    /// One channel's sends, paced to its rate.
    final class Lane: Sendable {
        let pacer = Pacer()
        let signal = Signal()
    }

    init(store: MessagingStore, transport: any ProviderTransport, reports: any DeliveryReports,
         settings: DeliverySettings, logger: Logger) {
        self.store = store
        self.transport = transport
        self.reports = reports
        self.settings = settings
        self.logger = logger
        slots = Slots(max(settings.inFlight, 1))
        lanes = Mutex([:])
        finishing = Batcher(maxBatch: 256) { [store] results throws(ServiceFailure) in
            do {
                try await store.finish(results.map { (id: $0.0, result: $0.1) }, now: .now())
            } catch {
                throw ServiceFailure(.unavailable, "outbox_write_failed", "\(error)")
            }
            return results.map { _ in .success(()) }
        }
        let made = AsyncStream.makeStream(of: String.self)
        newChannels = made.stream
        newChannel = made.continuation
    }

    /// There is work on a channel (a send was accepted).
    func wake(channelID: String) {
        if let lane = lanes.withLock({ $0[channelID] }) {
            lane.signal.fire()
        } else {
            newChannel.yield(channelID)
        }
    }

    public func run() async throws {
        let released = try await store.releaseInFlight(now: .now())
        if released > 0 { logger.notice("\(released) sends were in flight at the last stop; sending them again") }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.heartbeat() }
            group.addTask { await self.reportLoop() }
            group.addTask {
                try? await gracefulShutdown()
                self.newChannel.finish()
            }
            for await channelID in newChannels {
                let lane = lanes.withLock { lanes -> Lane? in
                    guard lanes[channelID] == nil else { return nil }
                    let lane = Lane()
                    lanes[channelID] = lane
                    return lane
                }
                if let lane { group.addTask { await self.runLane(lane, channelID: channelID) } }
                lanes.withLock { $0[channelID] }?.signal.fire()
            }
            group.cancelAll()
        }
        await transport.shutdown()
    }

    /// Every 100 ms each lane looks for rows that fell due (retries); every 2 s the outbox is searched for
    /// channels with work (after a restart); every second the reporter looks for unreported changes.
    private func heartbeat() async {
        var beats = 0
        while !Task.isCancelled {
            if beats % 20 == 0 {
                do {
                    for channelID in try await store.channelsWithWork() { wake(channelID: channelID) }
                } catch {
                    logger.error("outbox read failed: \(error)")
                }
            }
            for lane in lanes.withLock({ Array($0.values) }) { lane.signal.fire() }
            if beats % 10 == 0 { reported.fire() }
            if beats % 36_000 == 1 {  // hourly: finished sends are kept 7 days (the idempotency keys' lifetime)
                do {
                    let pruned = try await store.pruneOutbox(before: .now() - Self.retention)
                    if pruned > 0 { logger.info("pruned \(pruned) finished sends from the outbox") }
                } catch {
                    logger.error("outbox prune failed: \(error)")
                }
            }
            beats += 1
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    // MARK: sending

    private func runLane(_ lane: Lane, channelID: String) async {
        await withDiscardingTaskGroup { sends in
            var wakeups = lane.signal.stream.makeAsyncIterator()
            while !Task.isCancelled {
                let rows: [OutboxRow]
                do {
                    rows = try await store.due(channelID: channelID, now: .now(), limit: 64)
                } catch {
                    logger.error("outbox read failed: \(error)")
                    rows = []
                }
                guard let first = rows.first else {
                    guard await wakeups.next() != nil else { break }
                    continue
                }
                guard var channel = try? await store.storedChannel(orgID: first.orgID, id: channelID) else {
                    for row in rows {
                        await conclude(
                            row,
                            .failed(code: "channel_not_found", text: "the channel was removed", reason: "provider_error"))
                    }
                    continue
                }
                var read = ContinuousClock.now
                var start = 0
                while start < rows.count, !Task.isCancelled {
                    // A changed rate or token applies within a second, even in the middle of a slow batch.
                    if ContinuousClock.now - read > .seconds(1),
                        let fresh = try? await store.storedChannel(orgID: first.orgID, id: channelID)
                    {
                        channel = fresh
                        read = ContinuousClock.now
                    }
                    let paced = channel.channel.kind != .sandbox && channel.channel.status == "active"
                    let rate = Self.rate(of: channel)
                    // The attempts of the next few rows are recorded in one transaction, then paced out one by
                    // one: about 50 ms of sends at the channel's rate, never more than may be in flight.
                    let chunk = paced ? max(1, min(settings.inFlight, Int(rate / 20))) : settings.inFlight
                    let batch = Array(rows[start..<min(start + chunk, rows.count)])
                    start += batch.count
                    do {
                        try await store.markSending(ids: batch.map(\.id), leaseUntil: .now() + settings.lease, now: .now())
                    } catch {
                        logger.error("recording send attempts failed: \(error)")
                        break
                    }
                    let sending = channel
                    for row in batch {
                        // In flight first, then the pacer: the slot the pacer hands out is when the call leaves.
                        await slots.acquire()
                        if paced { await lane.pacer.wait(rate: rate) }
                        sends.addTask {
                            let outcome = await self.attempt(row, channel: sending)
                            self.slots.release()
                            await self.conclude(row, self.result(of: outcome, attempts: row.attempts + 1, channel: sending))
                        }
                    }
                }
            }
        }
    }

    /// How long finished sends (and so their idempotency keys) are kept.
    static let retention: Millis = 7 * 24 * 60 * 60 * 1000

    static func rate(of channel: StoredChannel) -> Double {
        if let text = channel.value(.messagesPerSecond), let rate = Double(text), rate > 0 { return rate }
        return channel.channel.kind == .twilioSMS ? 1 : 80
    }

    /// One provider call.
    func attempt(_ row: OutboxRow, channel: StoredChannel) async -> DeliveryOutcome {
        if channel.channel.status == "token_invalid" {
            return .failed(
                code: "190", text: "the channel's access token was refused by the provider; update it",
                reason: "token_invalid")
        }
        let content: OutboundContent
        do {
            content = try OutboundContent.parse(json: row.content)
        } catch {
            return .failed(code: "invalid_content", text: "\(error)", reason: "provider_error")
        }
        let request: ProviderRequest
        switch channel.channel.kind {
        case .sandbox:
            return .sent(providerID: "sandbox.\(row.id)")
        case .whatsappCloud:
            request = ProviderRequest.whatsapp(channel: channel, to: row.recipient, content: content)
        case .twilioSMS:
            let callback = channel.value(.webhookURL) ?? "\(settings.publicURL)/webhooks/twilio/\(channel.channel.id)"
            request = ProviderRequest.twilio(channel: channel, to: row.recipient, content: content, statusCallback: callback)
        }
        // Checked again before every call, on the addresses the host resolves to now: a row saved before the
        // rules (or a DNS answer that changed since) does not send the channel's credentials elsewhere.
        if let refusal = await store.egress.refusalResolving(request.url) {
            return .failed(code: "provider_url_not_allowed", text: refusal, reason: "provider_error")
        }
        do {
            let (status, body) = try await transport.post(request)
            return channel.channel.kind == .twilioSMS
                ? DeliveryOutcome.twilio(status: status, body: body) : DeliveryOutcome.whatsapp(status: status, body: body)
        } catch {
            return .retry(code: "network_error", text: "\(error)")
        }
    }

    /// What the outbox records for an outcome: a retry with full jitter, or the end after the last attempt.
    func result(of outcome: DeliveryOutcome, attempts: Int, channel: StoredChannel) -> AttemptResult {
        switch outcome {
        case .sent(let providerID):
            return .sent(providerID: providerID, final: channel.channel.kind == .sandbox ? .delivered : .sent)
        case .failed(let code, let text, let reason):
            return .failed(code: code, text: text, reason: reason)
        case .retry(let code, let text):
            guard attempts < settings.maxAttempts else {
                return .failed(
                    code: code, text: "\(text) (gave up after \(attempts) attempts)", reason: "provider_unavailable")
            }
            return .retry(at: .now() + Self.backoff(attempts: attempts, settings: settings), code: code, text: text)
        }
    }

    /// Exponential backoff with full jitter: uniform in [0, min(max, base · 2^(attempts−1))].
    static func backoff(attempts: Int, settings: DeliverySettings) -> Millis {
        let ceiling = min(settings.retryMax, settings.retryBase << Millis(min(max(attempts - 1, 0), 30)))
        return Millis.random(in: 0...max(ceiling, 1))
    }

    private func conclude(_ row: OutboxRow, _ result: AttemptResult) async {
        var delay = Duration.milliseconds(50)
        while true {
            do {
                try await finishing.submit((row.id, result))
                break
            } catch {
                logger.error("recording a send result failed, trying again: \(error)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
        switch result {
        case .retry: break
        case .sent, .failed: reported.fire()
        }
    }
}
