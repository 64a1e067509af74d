import ContactsKit
import Foundation
import GRPCCore
import Logging
import MessagingKit
import ServiceKit
import Synchronization
import SwitchboardProtos
import Testing

@testable import MessagingService

/// The journal: channels found by their routing keys, webhooks written before the answer, and the processor's
/// at-least-once, in-order-per-sender delivery to a sink that can fail.
@Suite("Webhook journal")
struct JournalTests {
    let store = try! MessagingStore.inMemory()

    /// A sink that records what it was given and fails on demand.
    final class RecordingSink: InboundSink {
        let delivered = Mutex<[String]>([])
        let statuses = Mutex<[String]>([])
        /// Provider ids that fail with UNAVAILABLE while this holds.
        let unavailable = Mutex<Set<String>>([])
        let refused = Mutex<Set<String>>([])
        let failures = Mutex<[ParsedStatus]>([])

        func deliver(_ deliveries: [InboundDelivery]) async throws(ServiceFailure) -> [ServiceFailure?] {
            let ids = Set(deliveries.map(\.message.providerMessageID))
            if !unavailable.withLock({ $0.isDisjoint(with: ids) }) {
                throw ServiceFailure(.unavailable, "service_unavailable", "down")
            }
            return deliveries.map { delivery in
                let message = delivery.message
                if refused.withLock({ $0.contains(message.providerMessageID) }) {
                    return ServiceFailure.invalid("invalid", "refused")
                }
                delivered.withLock { $0.append("\(delivery.orgID)|\(message.providerMessageID)|\(message.text)") }
                return nil
            }
        }

        func apply(_ status: ParsedStatus, orgID: String, channelID: String, receivedAt: Millis) async throws(ServiceFailure) {
            statuses.withLock { $0.append("\(status.providerMessageID):\(status.status)") }
            if status.status == "failed" { failures.withLock { $0.append(status) } }
        }
    }

    func whatsappBody(phoneNumberID: String, from: String, id: String, text: String) -> Data {
        Data(
            """
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100","phone_number_id":"\(phoneNumberID)"},
            "contacts":[{"profile":{"name":"Ana"},"wa_id":"\(from)"}],
            "messages":[{"from":"\(from)","id":"\(id)","timestamp":"1760000000","type":"text","text":{"body":"\(text)"}}]}}]}]}
            """.utf8)
    }

    func channel(org: String = "org-a", phoneNumberID: String = "1001") async throws -> Channel {
        try await store.createChannel(
            orgID: org, kind: .whatsappCloud,
            settings: [.phoneNumberID: phoneNumberID, .appSecret: "s3cret", .accessToken: "token", .verifyToken: "v"])
    }

    func api() -> (MessagingAPI, JournalWriter) {
        let journal = JournalWriter(store: store)
        return (MessagingAPI(store: store, journal: journal), journal)
    }

    @Test func secretsAreStoredButNeverAnswered() async throws {
        let created = try await channel()
        #expect(created.secretsSet == [.appSecret, .accessToken, .verifyToken])
        #expect(created.settings[.appSecret] == nil)
        #expect(created.settings[.graphAPIVersion] == "v21.0")
        let listed = try await store.channels(orgID: "org-a")
        #expect(listed.map(\.kind) == [.sandbox, .whatsappCloud])
        #expect(listed.allSatisfy { $0.settings.values.allSatisfy { !$0.contains("s3cret") } })
        await #expect(throws: ServiceFailure.self) { _ = try await self.channel(org: "org-b") }  // same number
        await #expect(throws: MessagingFailure.channelNotFound) { _ = try await store.channel(orgID: "org-b", id: created.id) }
    }

    @Test func aSignedWebhookIsJournaledAndABadOneIsNot() async throws {
        _ = try await channel()
        let (api, _) = api()
        let body = whatsappBody(phoneNumberID: "1001", from: "447700900001", id: "wamid.1", text: "hi")
        let signature = WebhookSignature.metaSignature(body: body, appSecret: "s3cret")
        var request = Switchboard_Messaging_V1_IngestWebhookRequest()
        request.provider = "whatsapp"
        request.body = body
        request.signature = "sha256=" + String(repeating: "0", count: 64)
        await #expect(throws: MessagingFailure.invalidSignature) {
            _ = try await api.ingestWebhook(request: request, context: .testing)
        }
        request.signature = ""
        await #expect(throws: MessagingFailure.missingSignature) {
            _ = try await api.ingestWebhook(request: request, context: .testing)
        }
        #expect(try await store.pendingJournal(limit: 10).isEmpty)
        request.signature = signature
        #expect(try await api.ingestWebhook(request: request, context: .testing).outcome == "accepted")
        #expect(try await store.pendingJournal(limit: 10).map(\.body) == [body])

        request.body = whatsappBody(phoneNumberID: "9999", from: "447700900001", id: "wamid.2", text: "hi")
        #expect(try await api.ingestWebhook(request: request, context: .testing).outcome == "unknown_channel")
        #expect(try await store.pendingJournal(limit: 10).count == 1)
    }

    /// A Twilio 21610 callback names only the sid: the outbox says whose send it was, so the contact is opted out
    /// even before conversations has the sid.
    @Test func aTwilioOptOutCallbackNamesTheContactOfOurSend() async throws {
        let tw = try await store.createChannel(
            orgID: "org-a", kind: .twilioSMS,
            settings: [.accountSID: "AC1", .authToken: "t0ken", .fromNumber: "+15550100199"])
        let id = Identifier.make()
        _ = try await store.accept(
            OutboxRow(
                id: id, orgID: "org-a", idempotencyKey: nil, requestHash: "h", contactID: "contact-7",
                channelID: tw.id, recipient: "+15550001111", content: OutboundContent.text("hi").jsonText,
                answer: Data(), recordRequest: Data(), now: .now()))
        try await store.finish(id: id, result: .sent(providerID: "SM21610", final: .sent), now: .now())
        let journal = JournalWriter(store: store)
        for (sid, code) in [("SM21610", "21610"), ("SMother", "21610"), ("SM21610", "30003")] {
            try await journal.append([
                JournalEntry(
                    id: Identifier.make(), provider: "twilio", channelID: tw.id,
                    body: Data("MessageSid=\(sid)&MessageStatus=undelivered&ErrorCode=\(code)&To=%2B15550001111".utf8),
                    receivedAt: 1)
            ])
        }
        let sink = RecordingSink()
        let processor = JournalProcessor(store: store, writer: journal, sink: sink, logger: Logger(label: "test"))
        #expect(await processor.drain() == false)
        // (statuses are applied concurrently: compared without order)
        let failures = sink.failures.withLock { $0 }.map {
            "\($0.providerMessageID) \($0.failureReason ?? "-") \($0.contactID ?? "-")"
        }
        // another sid is not ours; an undeliverable one needs no contact
        #expect(failures.sorted() == ["SM21610 opted_out contact-7", "SM21610 undeliverable -", "SMother opted_out -"])
    }

    @Test func theProcessorRetriesABatchInOrderAfterATransientFailureAndSkipsRefusals() async throws {
        let wa = try await channel()
        let journal = JournalWriter(store: store)
        let sink = RecordingSink()
        sink.unavailable.withLock { $0 = ["wamid.a1"] }
        sink.refused.withLock { $0 = ["wamid.c1"] }
        for (from, id, text) in [
            ("447700900001", "wamid.a1", "a first"), ("447700900002", "wamid.b1", "b first"),
            ("447700900001", "wamid.a2", "a second"), ("447700900003", "wamid.c1", "poison"),
        ] {
            try await journal.append([
                JournalEntry(
                    id: Identifier.make(), provider: "whatsapp", channelID: wa.id,
                    body: whatsappBody(phoneNumberID: "1001", from: from, id: id, text: text), receivedAt: 1)
            ])
        }
        let processor = JournalProcessor(store: store, writer: journal, sink: sink, logger: Logger(label: "test"))
        #expect(await processor.drain())  // the service was down: the whole batch is left to retry
        #expect(sink.delivered.withLock { $0 }.isEmpty)
        #expect(try await store.pendingJournal(limit: 10).count == 4)

        sink.unavailable.withLock { $0 = [] }
        // A new processor on the same store: what a restart after a crash would do.
        let restarted = JournalProcessor(store: store, writer: journal, sink: sink, logger: Logger(label: "test"))
        #expect(await restarted.drain() == false)
        // Journal order (a sender's messages never overtake each other); c1 was refused for good, not retried.
        #expect(
            sink.delivered.withLock { $0 }
                == ["org-a|wamid.a1|a first", "org-a|wamid.b1|b first", "org-a|wamid.a2|a second"])
        #expect(try await store.pendingJournal(limit: 10).isEmpty)
    }

    @Test func theSandboxMakesAWhatsAppShapedWebhookForTheOrgsSandboxChannel() async throws {
        let (api, _) = api()
        var request = Switchboard_Messaging_V1_SimulateInboundRequest()
        request.orgID = "org-a"
        request.fromPhone = "+447700900001"
        request.name = "Ana"
        request.text = "hello"
        let answer = try await api.simulateInbound(request: request, context: .testing)
        let sandbox = try await store.sandbox(orgID: "org-a")
        #expect(answer.channelID == sandbox.id)
        let entry = try #require(try await store.pendingJournal(limit: 1).first)
        let events = try WhatsAppWebhook.parse(entry.body)
        guard case .message(let message) = try #require(events.first).event else {
            Issue.record("not a message: \(events)")
            return
        }
        #expect(message.providerMessageID == answer.providerMessageID)
        #expect(message.sender.phone == "+447700900001")
        #expect(message.keywordText == "hello")
        request.fromPhone = "447700900001"
        await #expect(throws: ServiceFailure.self) { _ = try await api.simulateInbound(request: request, context: .testing) }
    }
}

extension ServerContext {
    static var testing: ServerContext {
        ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: "test", method: "test"), remotePeer: "in-process:0",
            localPeer: "in-process:0", cancellation: .init())
    }
}
