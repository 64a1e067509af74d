import ContactsKit
import Foundation

/// A Click-to-WhatsApp ad referral (WhatsApp `referral` object on any message type).
struct AdReferral: Sendable, Equatable {
    var sourceURL: String?
    var sourceID: String?
    var sourceType: String?
    var headline: String?
    var body: String?
    var mediaType: String?
    var imageURL: String?
    var videoURL: String?
    var ctwaClid: String?
}

/// One inbound message as a provider described it, before it meets a contact or a conversation.
struct ParsedMessage: Sendable, Equatable {
    var providerMessageID: String
    /// text, image, video, audio, voice, document, sticker, location, contacts, button, interactive, reaction,
    /// unsupported.
    var type: String
    /// What a preview or a search shows: body, caption, button text or reply title, location name, reaction emoji.
    var text: String
    /// What auto-tag rules (and, when typed, STOP/START keywords) see: a text body, a quick-reply button's text, an
    /// interactive reply's title. Nil for every other type: a caption is not keyword text.
    var keywordText: String?
    /// `typed` for what the customer wrote; `tapped` for a reply button, list row or template button (the
    /// business's wording: never a consent keyword); `opt_out_button` once the journal finds the tapped template
    /// button is the one the business marked as its opt-out button.
    var textOrigin: String = "typed"
    /// The type's fields as a JSON object (sorted keys, camelCase, absent values omitted).
    var contentJSON: String
    /// The provider's own timestamp (WhatsApp only).
    var sentAt: Date?
    /// The provider id of the message this one replies to (`context.id`).
    var replyToProviderID: String?
    var forwarded: Bool
    var referral: AdReferral?
    var sender: InboundSender
    /// `whatsapp` or `sms`.
    var medium: String
}

/// A delivery status for a message we sent.
struct ParsedStatus: Sendable, Equatable {
    var providerMessageID: String
    /// queued, sent, delivered, read, played, failed.
    var status: String
    var at: Date?
    /// Who the message went to: `+<digits>` where it is a phone, else the business-scoped user id or short code.
    var recipient: String?
    var errorCode: String?
    var errorText: String?
    /// For `failed`: what the code means (`FailureReason`, the table the send path uses), else nil.
    var failureReason: String? = nil
    /// For `opted_out`: the contact of our send with this provider id (from the outbox), should conversations not
    /// have the provider id yet.
    var contactID: String? = nil
}

/// Where an event belongs: a WhatsApp phone number id, or the Twilio account/number it was sent to.
///
/// For a WhatsApp change that names no number (an account-level `field`), `phoneNumberID` is empty. For a Twilio
/// inbound message `to` is our number (`To`); for a status callback it is our sending number (`From`), because
/// there `To` is the recipient (see `ParsedStatus.recipient`).
enum InboundRoute: Sendable, Equatable {
    case whatsapp(phoneNumberID: String, displayPhoneNumber: String?)
    case twilio(accountSID: String?, to: String?)
}

/// One thing a provider told us in a webhook.
enum InboundEvent: Sendable, Equatable {
    case message(ParsedMessage)
    case status(ParsedStatus)
    /// Something the provider sent that is neither (a `value.errors` system error, an invalid Twilio status value,
    /// an unknown change `field`): kept for the log, never a crash.
    case notice(String)
}

/// An event with the channel it belongs to.
struct RoutedEvent: Sendable, Equatable {
    var route: InboundRoute
    var event: InboundEvent
}

/// Why a webhook body could not be read at all. Odd parts of a readable body become notices instead.
enum WebhookParseError: Error, Sendable, Equatable {
    case notJSON
    case notAWhatsAppPayload(String)
    case notAForm(String)
    /// More entries, changes or numbers than the provider ever sends in one body.
    case tooLarge(String)
}

extension String {
    /// `+<digits>` when the string is a bare run of digits (WhatsApp's `wa_id`, `from`, `recipient_id`).
    var whatsappPhone: String? {
        guard !isEmpty, utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return "+" + self
    }
}

extension WebhookParseError {
    /// What is wrong with the body, in words.
    var reason: String {
        switch self {
        case .notJSON: "the body is not JSON"
        case .notAWhatsAppPayload(let why), .notAForm(let why), .tooLarge(let why): why
        }
    }
}
