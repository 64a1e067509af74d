import ContactsKit
import ConversationsKit
import Foundation
import GRPCCore
import ServiceKit
import SwitchboardClient

/// The real destination of inbound events: contacts.ResolveInbound, then conversations.RecordInbound /
/// UpdateDelivery, over gRPC. Both calls are idempotent per provider message id, so a retried webhook is harmless.
struct ServiceSink: InboundSink {
    let contacts: ContactsClient<ServiceTransport>
    let conversations: ConversationsClient<ServiceTransport>
    static let maxText = 4096

    func deliver(_ message: ParsedMessage, orgID: String, channelID: String, medium: String, receivedAt: Millis)
        async throws(ServiceFailure)
    {
        let at = message.sentAt.map { Millis($0.timeIntervalSince1970 * 1000) } ?? receivedAt
        let resolved = try await contacts.resolveInbound(
            orgID: orgID,
            sender: message.sender,
            messageID: message.providerMessageID, at: at, text: message.keywordText,
            referral: message.referral?.fields)
        let contact = resolved.contact
        try await conversations.recordInbound(
            orgID: orgID, channelID: channelID, medium: medium,
            contact: .init(id: contact.id, name: contact.name, phone: contact.phone, whatsappUsername: contact.whatsappUsername),
            mergedContactIDs: resolved.mergedContactIDs,
            message: .init(
                // The preview/search text is bounded like WhatsApp's own text limit; the content keeps everything.
                providerMessageID: message.providerMessageID, type: message.type,
                text: String(message.text.prefix(Self.maxText)),
                contentJSON: message.contentJSON, sentAt: at, replyToProviderID: message.replyToProviderID,
                forwarded: message.forwarded))
    }

    func apply(_ status: ParsedStatus, orgID: String, channelID: String, receivedAt: Millis) async throws(ServiceFailure) {
        try await conversations.updateDelivery(
            orgID: orgID, channelID: channelID, providerMessageID: status.providerMessageID, status: status.status,
            at: status.at.map { Millis($0.timeIntervalSince1970 * 1000) } ?? receivedAt, errorCode: status.errorCode,
            errorText: status.errorText)
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
}
