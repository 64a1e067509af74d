import Foundation

/// Reads Twilio messaging webhooks (form bodies): inbound SMS, MMS and WhatsApp-via-Twilio messages, and status
/// callbacks for messages we sent.
enum TwilioWebhook {
    /// Twilio's `MessageStatus` values and the delivery status each one means here.
    private static let statuses: [String: String] = [
        "queued": "queued", "sent": "sent", "delivered": "delivered", "undelivered": "failed", "failed": "failed",
        "read": "read",
    ]

    /// One inbound message (SmsStatus/MessageStatus "received" or no status, has Body or NumMedia) or one status
    /// callback (MessageStatus other than received/receiving).
    static func parse(_ body: Data) throws(WebhookParseError) -> RoutedEvent {
        let form = TwilioFields(try formParameters(body))
        guard let sid = form["MessageSid"] ?? form["SmsMessageSid"] ?? form["SmsSid"] else {
            throw .notAForm("no MessageSid")
        }
        let status = (form["MessageStatus"] ?? form["SmsStatus"])?.lowercased()
        let accountSID = form["AccountSid"]
        if status == nil || status == "received" || status == "receiving" {
            let route = InboundRoute.twilio(accountSID: accountSID, to: form["To"].map(address))
            guard status != nil || form["Body"] != nil || form["NumMedia"] != nil else {
                return RoutedEvent(route: route, event: .notice("Twilio webhook for \(sid) with no status and no body"))
            }
            return RoutedEvent(route: route, event: .message(TwilioMessage.parse(form, sid: sid)))
        }
        let route = InboundRoute.twilio(accountSID: accountSID, to: form["From"].map(address))
        guard let status, let mapped = statuses[status] else {
            return RoutedEvent(route: route, event: .notice("Twilio status '\(status ?? "")' for \(sid) ignored"))
        }
        // Twilio's callbacks carry `ErrorCode` and (almost always) no `ErrorMessage`: the code's own wording then.
        let code = form["ErrorCode"]
        let parsed = ParsedStatus(
            providerMessageID: sid,
            status: mapped,
            at: nil,
            recipient: form["To"].map(address),
            errorCode: code,
            errorText: form["ErrorMessage"].map(bounded) ?? code.map { FailureReason.twilioMessages[$0] ?? "Twilio error \($0)" },
            failureReason: mapped == "failed" ? FailureReason.twilio(code: code) : nil
        )
        return RoutedEvent(route: route, event: .status(parsed))
    }

    /// An address without its `whatsapp:` channel prefix.
    static func address(_ value: String) -> String {
        isWhatsApp(value) ? String(value.dropFirst("whatsapp:".count)) : value
    }

    static func isWhatsApp(_ value: String) -> Bool {
        value.lowercased().hasPrefix("whatsapp:")
    }
}

/// The fields of a Twilio form by name: the first value of each, empty values counting as absent.
struct TwilioFields: Sendable {
    private var values: [String: String] = [:]

    init(_ parameters: [(name: String, value: String)]) {
        for (name, value) in parameters where values[name] == nil && !value.isEmpty {
            values[name] = value
        }
    }

    subscript(name: String) -> String? { values[name] }
}
