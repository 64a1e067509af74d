import ContactsKit
import ConversationsKit
import Foundation
import GRPCCore
import ServiceKit
import SwitchboardClient

/// The real destination of inbound events: contacts.ResolveInboundBatch, then conversations.RecordInboundBatch /
/// UpdateDelivery, over gRPC — two calls for a whole batch of messages. Both are idempotent per provider message
/// id, so a retried batch is harmless.
struct ServiceSink: InboundSink {
    let contacts: ContactsClient<ServiceTransport>
    let conversations: ConversationsClient<ServiceTransport>
    static let maxText = 4096
    /// Messages per call (the services accept up to 1,000).
    static let chunk = 500

    func deliver(_ deliveries: [InboundDelivery]) async throws(ServiceFailure) -> [ServiceFailure?] {
        var outcomes: [ServiceFailure?] = []
        var start = 0
        while start < deliveries.count {
            let end = min(start + Self.chunk, deliveries.count)
            outcomes += try await deliverChunk(Array(deliveries[start..<end]))
            start = end
        }
        return outcomes
    }

    private func deliverChunk(_ deliveries: [InboundDelivery]) async throws(ServiceFailure) -> [ServiceFailure?] {
        let resolved = try await contacts.resolveInbound(
            deliveries.map { delivery in
                ContactsClient<ServiceTransport>.InboundItem(
                    orgID: delivery.orgID, sender: delivery.message.sender,
                    messageID: delivery.message.providerMessageID, at: Self.at(delivery), text: delivery.message.keywordText,
                    referral: delivery.message.referral?.fields, textOrigin: delivery.message.textOrigin)
            })
        var outcomes = [ServiceFailure?](repeating: nil, count: deliveries.count)
        var items: [ConversationsClient<ServiceTransport>.InboundItem] = []
        var positions: [Int] = []
        for (index, result) in resolved.enumerated() {
            switch result {
            case .failure(let failure):
                outcomes[index] = failure
            case .success(let resolution):
                let delivery = deliveries[index]
                let contact = resolution.contact
                let message = delivery.message
                items.append(
                    .init(
                        orgID: delivery.orgID, channelID: delivery.channelID, medium: delivery.medium,
                        contact: ContactSnapshot(
                            id: contact.id, name: contact.name, phone: contact.phone,
                            whatsappUsername: contact.whatsappUsername),
                        mergedContactIDs: resolution.mergedContactIDs,
                        message: InboundMessage(
                            // The preview/search text is bounded like WhatsApp's own text limit; the content keeps all.
                            providerMessageID: message.providerMessageID, type: message.type,
                            text: String(message.text.prefix(Self.maxText)), contentJSON: message.contentJSON,
                            sentAt: Self.at(delivery), replyToProviderID: message.replyToProviderID,
                            forwarded: message.forwarded, referralJSON: message.referral?.json)))
                positions.append(index)
            }
        }
        guard !items.isEmpty else { return outcomes }
        let recorded = try await conversations.recordInbound(items)
        for (position, result) in zip(positions, recorded) {
            if case .failure(let failure) = result { outcomes[position] = failure }
        }
        return outcomes
    }

    func apply(_ status: ParsedStatus, orgID: String, channelID: String, receivedAt: Millis) async throws(ServiceFailure) {
        let message = try await conversations.updateDelivery(
            orgID: orgID, channelID: channelID, providerMessageID: status.providerMessageID, status: status.status,
            at: status.at.map { Millis($0.timeIntervalSince1970 * 1000) } ?? receivedAt, errorCode: status.errorCode,
            errorText: status.errorText, failureReason: status.failureReason)
        // Twilio 21610 in a callback means what it means in the answer to a send: the recipient unsubscribed.
        guard status.failureReason == "opted_out",
            let contactID = message.flatMap({ $0.direction == .outbound ? $0.contactID : nil }) ?? status.contactID
        else { return }
        try await contacts.optOutByProvider(
            orgID: orgID, contactID: contactID, proof: status.providerMessageID,
            note: "Twilio 21610: the recipient unsubscribed (message \(status.providerMessageID))")
    }

    /// When the customer wrote: the provider's timestamp, else when the webhook arrived.
    static func at(_ delivery: InboundDelivery) -> Millis {
        delivery.message.sentAt.map { Millis($0.timeIntervalSince1970 * 1000) } ?? delivery.receivedAt
    }
}

extension AdReferral {
    /// The referral's fields under the names `attributes.ctwa` uses.
    var fields: [String: String] {
        let pairs: [(String, String?)] = [
            ("sourceUrl", sourceURL), ("sourceId", sourceID), ("sourceType", sourceType), ("headline", headline),
            ("body", body), ("mediaType", mediaType), ("imageUrl", imageURL), ("videoUrl", videoURL),
            ("ctwaClid", ctwaClid),
        ]
        var fields: [String: String] = [:]
        for (key, value) in pairs { if let value, !value.isEmpty { fields[key] = value } }
        return fields
    }

    /// The same fields as a JSON object, or nil when the referral carried none.
    var json: String? {
        let fields = fields
        guard !fields.isEmpty else { return nil }
        var payload = EventPayload()
        for key in fields.keys.sorted() { payload.set(key, fields[key]) }
        return payload.json
    }
}
