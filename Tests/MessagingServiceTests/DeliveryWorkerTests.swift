import ConversationsKit
import Foundation
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
import Synchronization
import Testing

@testable import MessagingService

/// A provider that answers from a script and records every call.
final class ScriptedProvider: ProviderTransport {
    struct State {
        var calls: [ProviderRequest] = []
        var answers: [(Int, Data)] = []
    }
    let state = Mutex(State())
    let fallback: (Int, Data)

    init(answers: [(Int, Data)] = [], fallback: (Int, Data) = (200, Data(#"{"messages":[{"id":"wamid.OK"}]}"#.utf8))) {
        state.withLock { $0.answers = answers }
        self.fallback = fallback
    }

    func post(_ request: ProviderRequest) async throws -> (status: Int, body: Data) {
        state.withLock { state in
            state.calls.append(request)
            return state.answers.isEmpty ? fallback : state.answers.removeFirst()
        }
    }

    func shutdown() async {}

    var calls: [ProviderRequest] { state.withLock { $0.calls } }
}

/// Collects what the worker reports.
final class CollectingReports: DeliveryReports {
    let updates = Mutex<[DeliveryUpdate]>([])
    let optOuts = Mutex<[String]>([])

    func record(_ request: Data) async throws -> ConversationsKit.Message {
        throw ServiceFailure(.unavailable, "unavailable", "not in this test")
    }

    func report(orgID: String, _ updates: [DeliveryUpdate]) async throws {
        self.updates.withLock { $0 += updates }
    }

    func optOut(orgID: String, contactID: String, messageID: String) async throws {
        optOuts.withLock { $0.append(contactID) }
    }

    func last(_ id: String) -> DeliveryUpdate? { updates.withLock { $0.last { $0.messageID == id } } }
}

@Suite struct DeliveryWorkerTests {
    let store: MessagingStore

    init() throws { store = try MessagingStore.inMemory() }

    func settings() -> DeliverySettings {
        var settings = DeliverySettings()
        settings.retryBase = 5
        settings.retryMax = 20
        settings.maxAttempts = 3
        settings.inFlight = 4
        return settings
    }

    func whatsappChannel(rate: Int = 1000) async throws -> Channel {
        try await store.createChannel(
            orgID: "org-a", kind: .whatsappCloud,
            settings: [
                .phoneNumberID: "1001", .accessToken: "token", .graphAPIBaseURL: "http://127.0.0.1:9",
                .messagesPerSecond: String(rate),
            ])
    }

    @discardableResult
    func enqueue(_ channel: Channel, text: String) async throws -> String {
        let id = Identifier.make()
        let row = OutboxRow(
            id: id, orgID: "org-a", idempotencyKey: nil, requestHash: "h", contactID: "c1", channelID: channel.id,
            recipient: "+15550001111", content: OutboundContent.text(text).jsonText, answer: Data(), recordRequest: Data(),
            now: .now())
        _ = try await store.accept(row)
        try await store.markRecorded(id: id, answer: nil)
        return id
    }

    /// Runs the worker until `done` holds (or 10 s pass), then stops it.
    func run(
        _ provider: ScriptedProvider, _ reports: CollectingReports, settings: DeliverySettings? = nil,
        channels: [String], until done: @escaping @Sendable () async throws -> Bool
    ) async throws {
        let worker = DeliveryWorker(
            store: store, transport: provider, reports: reports, settings: settings ?? self.settings(),
            logger: Logger(label: "test"))
        let task = Task { try await worker.run() }
        for channel in channels { worker.wake(channelID: channel) }
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !done(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        _ = await task.result
    }

    @Test func sendsReportsSentWithTheProvidersID() async throws {
        let channel = try await whatsappChannel()
        let id = try await enqueue(channel, text: "hello")
        let provider = ScriptedProvider()
        let reports = CollectingReports()
        try await run(provider, reports, channels: [channel.id]) { reports.last(id) != nil }
        #expect(provider.calls.count == 1)
        #expect(provider.calls.first?.url == "http://127.0.0.1:9/v21.0/1001/messages")
        #expect(reports.last(id)?.status == .sent)
        #expect(reports.last(id)?.providerMessageID == "wamid.OK")
        #expect(try await store.outbox(id: id)?.state == .sent)
    }

    @Test func retriesThenSends() async throws {
        let channel = try await whatsappChannel()
        let id = try await enqueue(channel, text: "retry me")
        let provider = ScriptedProvider(answers: [
            (500, Data(#"{"error":{"code":131000,"message":"boom"}}"#.utf8)), (429, Data(#"{"error":{"code":130429,"message":"slow"}}"#.utf8)),
        ])
        let reports = CollectingReports()
        try await run(provider, reports, channels: [channel.id]) { reports.last(id)?.status == .sent }
        #expect(provider.calls.count == 3)
        #expect(try await store.outbox(id: id)?.attempts == 3)
    }

    @Test func givesUpAfterTheLastAttemptWithAReason() async throws {
        let channel = try await whatsappChannel()
        let id = try await enqueue(channel, text: "never")
        let provider = ScriptedProvider(fallback: (503, Data("unavailable".utf8)))
        let reports = CollectingReports()
        try await run(provider, reports, channels: [channel.id]) { reports.last(id) != nil }
        #expect(provider.calls.count == 3)
        let update = try #require(reports.last(id))
        #expect(update.status == .failed && update.failureReason == "provider_unavailable" && update.errorCode == "503")
    }

    @Test func aRefusedTokenFailsTheMessageAndFlagsTheChannel() async throws {
        let channel = try await whatsappChannel()
        let first = try await enqueue(channel, text: "one")
        let provider = ScriptedProvider(answers: [(401, Data(#"{"error":{"code":190,"message":"Invalid OAuth access token"}}"#.utf8))])
        let reports = CollectingReports()
        try await run(provider, reports, channels: [channel.id]) { reports.last(first) != nil }
        #expect(reports.last(first)?.failureReason == "token_invalid")
        #expect(try await store.channel(orgID: "org-a", id: channel.id).status == "token_invalid")
        // Later sends on the channel fail without calling the provider, until the token is replaced.
        let second = try await enqueue(channel, text: "two")
        try await run(provider, reports, channels: [channel.id]) { reports.last(second) != nil }
        #expect(provider.calls.count == 1)
        #expect(reports.last(second)?.failureReason == "token_invalid")
        _ = try await store.updateChannel(orgID: "org-a", id: channel.id, patch: [.accessToken: "new"])
        #expect(try await store.channel(orgID: "org-a", id: channel.id).status == "active")
    }

    @Test func anAttemptInFlightAtACrashIsSentAgainAfterTheRestart() async throws {
        let channel = try await whatsappChannel()
        let id = try await enqueue(channel, text: "in flight")
        // The previous process recorded the attempt and died before the answer: the lease runs for a minute.
        try await store.markSending(id: id, leaseUntil: .now() + 60_000, now: .now())
        let provider = ScriptedProvider()
        let reports = CollectingReports()
        try await run(provider, reports, channels: []) { reports.last(id) != nil }
        #expect(provider.calls.count == 1)
        let row = try #require(try await store.outbox(id: id))
        #expect(row.state == .sent && row.attempts == 2)
    }

    @Test func eachChannelIsPacedToItsRate() async throws {
        let channel = try await whatsappChannel(rate: 50)
        var ids: [String] = []
        for index in 0..<11 { ids.append(try await enqueue(channel, text: "m\(index)")) }
        let provider = ScriptedProvider()
        let reports = CollectingReports()
        let clock = ContinuousClock()
        let started = clock.now
        let all = ids
        try await run(provider, reports, channels: [channel.id]) { all.allSatisfy { reports.last($0) != nil } }
        #expect(provider.calls.count == 11)
        #expect(clock.now - started >= .milliseconds(180))  // 10 intervals of 20 ms, one of catch-up allowed
    }

    @Test func aProviderOptOutIsReportedToContacts() async throws {
        let sms = try await store.createChannel(
            orgID: "org-a", kind: .twilioSMS,
            settings: [.accountSID: "AC1", .authToken: "t", .fromNumber: "+15550009999", .messagesPerSecond: "100"])
        let id = try await enqueue(sms, text: "promo")
        let provider = ScriptedProvider(answers: [
            (400, Data(#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#.utf8))
        ])
        let reports = CollectingReports()
        try await run(provider, reports, channels: [sms.id]) { reports.last(id) != nil }
        #expect(reports.last(id)?.failureReason == "opted_out" && reports.last(id)?.errorCode == "21610")
        #expect(reports.optOuts.withLock { $0 } == ["c1"])
        let form = String(decoding: try #require(provider.calls.first).body, as: UTF8.self)
        #expect(form.hasPrefix("To=%2B15550001111&From=%2B15550009999&Body=promo&StatusCallback="))
    }
}

@Suite struct OutboxRetentionTests {
    @Test func finishedReportedSendsGoAfterTheirRetentionAndNothingElse() async throws {
        let store = try MessagingStore.inMemory()
        let channel = try await store.createChannel(
            orgID: "org-a", kind: .whatsappCloud, settings: [.phoneNumberID: "1001", .accessToken: "token"])
        func row(_ id: String, key: String) -> OutboxRow {
            OutboxRow(
                id: id, orgID: "org-a", idempotencyKey: key, requestHash: "h", contactID: "c1", channelID: channel.id,
                recipient: "+15550001111", content: OutboundContent.text(id).jsonText, answer: Data(), recordRequest: Data(),
                now: 1_000)
        }
        for id in ["done", "unreported", "queued"] { _ = try await store.accept(row(id, key: "k-\(id)")) }
        try await store.finish(id: "done", result: .sent(providerID: "wamid.1", final: .sent), now: 2_000)
        try await store.markReported([(id: "done", version: 1)])
        try await store.finish(id: "unreported", result: .sent(providerID: "wamid.2", final: .sent), now: 2_000)
        #expect(try await store.pruneOutbox(before: 2_000) == 0)  // not older than the cutoff yet
        #expect(try await store.pruneOutbox(before: 3_000) == 1)
        #expect(try await store.outbox(orgID: "org-a", idempotencyKey: "k-done") == nil)
        #expect(try await store.outbox(id: "unreported") != nil)  // conversations has not heard of it yet
        #expect(try await store.outbox(id: "queued") != nil)
    }
}
