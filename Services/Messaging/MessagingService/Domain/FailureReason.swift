/// What a provider's error code means for a message that failed, one table for both places a failure is learned:
/// the answer to a send (`DeliveryOutcome`) and a status webhook that reports `failed` later (`WhatsAppWebhook`,
/// `TwilioWebhook`). The reasons are the ones `docs/rest-api.md` lists under the message's `error.reason`.
enum FailureReason {
    /// WhatsApp Cloud API codes (Meta's error code reference).
    static func whatsapp(code: String?) -> String {
        switch code {
        case "131047": "window_closed"
        case "131026": "undeliverable"
        case "132000", "132001", "132005", "132007", "132012", "132015", "132016": "template_error"
        case "190": "token_invalid"
        // Throttling a send retries (`DeliveryOutcome`); reported as final in a status webhook, it still means the
        // provider could not take the message, not that it refused it.
        case "130429", "131056": "provider_unavailable"
        default: "provider_error"
        }
    }

    /// Twilio error codes (Twilio's error dictionary).
    static func twilio(code: String?) -> String {
        switch code {
        case "21610": "opted_out"
        case "21211": "invalid_number"
        case "30003", "30005", "30006": "undeliverable"
        case "20003": "token_invalid"
        default: "provider_error"
        }
    }

    /// Twilio's own wording of the codes a status callback commonly carries, for a callback that sends
    /// `ErrorCode` without `ErrorMessage` (Twilio's callbacks never carry the text).
    static let twilioMessages: [String: String] = [
        "20003": "Authentication error",
        "21211": "Invalid 'To' phone number",
        "21408": "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
        "21610": "Attempt to send to unsubscribed recipient",
        "21612": "The 'To' phone number is not currently reachable via SMS",
        "21614": "'To' number is not a valid mobile number",
        "30001": "Queue overflow",
        "30002": "Account suspended",
        "30003": "Unreachable destination handset",
        "30004": "Message blocked",
        "30005": "Unknown destination handset",
        "30006": "Landline or unreachable carrier",
        "30007": "Message filtered (carrier violation)",
        "30008": "Unknown error",
        "63016": "Failed to send freeform message because you are outside the allowed window",
        "63018": "Rate limit exceeded for the WhatsApp sender",
    ]
}
