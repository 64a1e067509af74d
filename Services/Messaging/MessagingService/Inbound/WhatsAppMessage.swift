import ContactsKit
import Foundation

/// Turns one `value.messages[]` object of a WhatsApp webhook into a `ParsedMessage`.
enum WhatsAppMessage {
    /// The message, or nil when it has no id (nothing could ever refer to it).
    ///
    /// `systemErrors` are the change's `value.errors`: WhatsApp puts them there, not on the message, when it could
    /// not render a message (an `interactive` with no `interactive` object); they are kept on such a message.
    static func parse(_ message: ProviderJSON, contacts: [ProviderJSON], systemErrors: [ProviderJSON])
        -> ParsedMessage?
    {
        guard let id = message["id"]?.nonEmptyText else { return nil }
        let context = message["context"]
        var parsed = ParsedMessage(
            providerMessageID: id,
            type: "unsupported",
            text: "",
            keywordText: nil,
            contentJSON: "{}",
            sentAt: message["timestamp"]?.number.map { Date(timeIntervalSince1970: $0) },
            replyToProviderID: context?["id"]?.nonEmptyText,
            forwarded: context?["forwarded"]?.isTrue == true || context?["frequently_forwarded"]?.isTrue == true,
            referral: message["referral"].flatMap(referral),
            sender: sender(of: message, contacts: contacts),
            medium: "whatsapp"
        )
        let errors = message["errors"]?.items ?? []
        if errors.isEmpty, let content = WhatsAppContent(message) {
            parsed.type = content.type
            parsed.text = content.text
            parsed.keywordText = content.keywordText
            if content.tapped { parsed.textOrigin = "tapped" }
            parsed.contentJSON = content.json.jsonText
        } else {
            parsed.contentJSON = unsupported(message, errors: errors.isEmpty ? systemErrors : errors).jsonText
        }
        return parsed
    }

    /// `{"originalType", "errors": [{"code", "title", "details"}], "raw"}`.
    private static func unsupported(_ message: ProviderJSON, errors: [ProviderJSON]) -> ProviderJSON {
        let summaries = errors.map { error in
            ProviderJSON.fields([
                "code": error["code"],
                "title": (error["title"]?.nonEmptyText ?? error["message"]?.nonEmptyText).asJSON,
                "details": (error["error_data"]?["details"]?.nonEmptyText ?? error["details"]?.nonEmptyText).asJSON,
            ])
        }
        return .fields([
            "originalType": message["type"]?.nonEmptyText.asJSON,
            "errors": summaries.isEmpty ? nil : .array(summaries),
            "raw": message,
        ])
    }

    /// The phone from `from`, the business-scoped id from `from_user_id`, and the profile of the matching contact.
    private static func sender(of message: ProviderJSON, contacts: [ProviderJSON]) -> InboundSender {
        let from = message["from"]?.nonEmptyText
        let fromUserID = message["from_user_id"]?.nonEmptyText
        let contact =
            contacts.first { contact in
                let waID = contact["wa_id"]?.nonEmptyText
                let userID = contact["user_id"]?.nonEmptyText
                return (waID != nil && waID == from) || (userID != nil && (userID == fromUserID || userID == from))
            } ?? (contacts.count == 1 && from == nil && fromUserID == nil ? contacts.first : nil)
        let phone = from?.whatsappPhone ?? contact?["wa_id"]?.nonEmptyText?.whatsappPhone
        // A `from` that is not a phone is the business-scoped id itself.
        let userID = fromUserID ?? contact?["user_id"]?.nonEmptyText ?? (phone == nil ? from : nil)
        return InboundSender(
            phone: phone,
            whatsappUserID: userID,
            username: contact?["profile"]?["username"]?.nonEmptyText,
            profileName: contact?["profile"]?["name"]?.nonEmptyText
        )
    }

    private static func referral(_ referral: ProviderJSON) -> AdReferral? {
        guard referral.objectFields != nil else { return nil }
        return AdReferral(
            sourceURL: referral["source_url"]?.nonEmptyText,
            sourceID: referral["source_id"]?.nonEmptyText,
            sourceType: referral["source_type"]?.nonEmptyText,
            headline: referral["headline"]?.nonEmptyText,
            body: referral["body"]?.nonEmptyText,
            mediaType: referral["media_type"]?.nonEmptyText,
            imageURL: referral["image_url"]?.nonEmptyText,
            videoURL: referral["video_url"]?.nonEmptyText,
            ctwaClid: referral["ctwa_clid"]?.nonEmptyText
        )
    }
}
