import AsyncHTTPClient
import ContactsKit
import ConversationsKit
import Foundation
import GRPCCore
import NIOCore
import NIOHTTP1
import ServiceKit
import SwiftProtobuf
import SwitchboardClient
import SwitchboardProtos

/// How the provider call is made (the real one is `HTTPProviderTransport`).
protocol ProviderTransport: Sendable {
    /// The provider's HTTP status and body; throws on network errors and timeouts.
    func post(_ request: ProviderRequest) async throws -> (status: Int, body: Data)
    /// Closes connections when the worker stops.
    func shutdown() async
}

/// Where the worker reports what happened: conversations (statuses) and contacts (a provider opt-out).
protocol DeliveryReports: Sendable {
    func record(_ request: Data) async throws -> ConversationsKit.Message
    func report(orgID: String, _ updates: [DeliveryUpdate]) async throws
    func optOut(orgID: String, contactID: String, messageID: String) async throws
}

/// The provider call over HTTP (TLS for the real providers), one connection pool per host sized to the
/// worker's in-flight limit.
final class HTTPProviderTransport: ProviderTransport {
    let client: HTTPClient
    static let timeout = TimeAmount.seconds(30)
    static let maxAnswer = 1 << 20

    init(inFlight: Int) {
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: .seconds(5), read: Self.timeout),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(inFlight, 1)))
        configuration.redirectConfiguration = .disallow
        // A refused connection is an attempt that failed: the worker's backoff decides when to try again (the
        // pool would otherwise keep reconnecting until the connect timeout).
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func post(_ request: ProviderRequest) async throws -> (status: Int, body: Data) {
        var http = HTTPClientRequest(url: request.url)
        http.method = .POST
        for (name, value) in request.headers { http.headers.add(name: name, value: value) }
        http.headers.add(name: "User-Agent", value: "switchboard-messaging")
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let response = try await client.execute(http, timeout: Self.timeout)
        let body = try await response.body.collect(upTo: Self.maxAnswer)
        return (Int(response.status.code), Data(body.readableBytesView))
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}

/// Reports to the real services over gRPC.
struct ServiceReports: DeliveryReports {
    let contacts: ContactsClient<ServiceTransport>
    let conversations: ConversationsClient<ServiceTransport>

    func record(_ request: Data) async throws -> ConversationsKit.Message {
        let record = try Switchboard_Conversations_V1_RecordOutboundRequest(serializedBytes: request)
        return try await conversations.recordOutbound(
            orgID: record.orgID, messageID: record.messageID,
            conversationID: record.conversationID.isEmpty ? nil : record.conversationID,
            contact: record.hasContact ? ContactSnapshot(record.contact) : nil, channelID: record.channelID,
            medium: Medium(rawValue: record.medium) ?? .whatsapp, type: record.type, text: record.text,
            contentJSON: record.contentJson, senderAgentID: record.senderAgentID.isEmpty ? nil : record.senderAgentID)
    }

    func report(orgID: String, _ updates: [DeliveryUpdate]) async throws {
        _ = try await conversations.updateDeliveries(orgID: orgID, updates)
    }

    /// Twilio 21610: the recipient replied STOP to the number; the contact is opted out, source `provider`.
    func optOut(orgID: String, contactID: String, messageID: String) async throws {
        try await contacts.optOutByProvider(
            orgID: orgID, contactID: contactID, proof: messageID,
            note: "Twilio 21610: the recipient unsubscribed (message \(messageID))")
    }
}

extension ContactsClient where Transport == ServiceTransport {
    /// Opts an opted-in contact out with source `provider` (a refused send or a failed status callback with Twilio
    /// 21610), the message (our id, or the provider's sid) as proof. A contact that is gone or already opted out is
    /// left alone.
    func optOutByProvider(orgID: String, contactID: String, proof messageID: String, note: String)
        async throws(ServiceFailure)
    {
        let contacts = self
        let contact: Contact?
        do {
            contact = try await contacts.get(orgID: orgID, id: contactID)
        } catch {
            // (A `catch … as ServiceFailure where …` pattern here crashes the 6.3.1 compiler.)
            guard error.code == .notFound else { throw error }
            contact = nil  // the contact is gone: nothing to opt out
        }
        guard let contact, contact.optedIn else { return }
        _ = try await contacts.setConsent(
            orgID: orgID, contactID: contactID, optedIn: false, source: ConsentSource.provider.rawValue,
            note: note, actor: Actor(kind: "system", id: "messaging", name: "delivery worker"), messageID: messageID)
    }
}
