import Foundation

/// Reads WhatsApp Cloud API webhook bodies (`{"object": "whatsapp_business_account", "entry": [...]}`) into events.
///
/// Only a body that is not JSON, or has no `entry` array, is refused; every odd entry, change, message or status
/// inside a readable body becomes a notice or an `unsupported` message.
enum WhatsAppWebhook {
    /// Every message / status / notice in a Cloud API webhook body (all entries, all changes), in payload order.
    static func parse(_ body: Data) throws(WebhookParseError) -> [RoutedEvent] {
        var events: [RoutedEvent] = []
        for entry in try entries(in: body) {
            guard let changes = entry["changes"]?.items else {
                let route = InboundRoute.whatsapp(phoneNumberID: "", displayPhoneNumber: nil)
                events.append(RoutedEvent(route: route, event: .notice("WhatsApp entry without changes")))
                continue
            }
            for change in changes {
                events += self.events(in: change)
            }
        }
        return events
    }

    /// The most a body may carry. Meta sends one entry with one change per webhook in practice and batches at most
    /// 1,000 updates; a body beyond these is not Meta's and is refused before any per-entry work.
    static let maxEntries = 1_000
    static let maxChanges = 1_000
    static let maxPhoneNumberIDs = 100

    /// The distinct `metadata.phone_number_id`s a body names, in order of first appearance (used to find the
    /// channels before the signature check). Linear in the body; refuses a body with more entries, changes or
    /// numbers than Meta ever sends. A change without a number names none (the processor ignores it).
    static func phoneNumberIDs(in body: Data) throws(WebhookParseError) -> [String] {
        let entries = try entries(in: body)
        guard entries.count <= maxEntries else {
            throw .tooLarge("a webhook carries at most \(maxEntries) entries, this one \(entries.count)")
        }
        let changeCount = entries.reduce(0) { $0 + ($1["changes"]?.items?.count ?? 0) }
        guard changeCount <= maxChanges else {
            throw .tooLarge("a webhook carries at most \(maxChanges) changes, this one \(changeCount)")
        }
        var ids: [String] = []
        var seen: Set<String> = []
        for entry in entries {
            for change in entry["changes"]?.items ?? [] {
                guard let id = change["value"]?["metadata"]?["phone_number_id"]?.nonEmptyText, seen.insert(id).inserted
                else { continue }
                ids.append(id)
                guard ids.count <= maxPhoneNumberIDs else {
                    throw .tooLarge("a webhook names at most \(maxPhoneNumberIDs) phone numbers")
                }
            }
        }
        return ids
    }

    private static func entries(in body: Data) throws(WebhookParseError) -> [ProviderJSON] {
        guard let json = ProviderJSON.decode(body) else { throw .notJSON }
        guard json.objectFields != nil else { throw .notAWhatsAppPayload("the body is not a JSON object") }
        guard let entries = json["entry"]?.items else { throw .notAWhatsAppPayload("the body has no entry array") }
        return entries
    }

    /// The events of one `changes[]` item: its messages, then its statuses, then its system errors.
    private static func events(in change: ProviderJSON) -> [RoutedEvent] {
        let value = change["value"]
        let metadata = value?["metadata"]
        let route = InboundRoute.whatsapp(
            phoneNumberID: metadata?["phone_number_id"]?.nonEmptyText ?? "",
            displayPhoneNumber: metadata?["display_phone_number"]?.nonEmptyText
        )
        let field = change["field"]?.text ?? ""
        guard field == "messages", let value, value.objectFields != nil else {
            let what = field.isEmpty ? "a change without a field" : "change field '\(field)'"
            return [RoutedEvent(route: route, event: .notice("WhatsApp \(what) ignored"))]
        }
        let contacts = value["contacts"]?.items ?? []
        let systemErrors = value["errors"]?.items ?? []
        var events: [RoutedEvent] = []
        for message in value["messages"]?.items ?? [] {
            let event: InboundEvent =
                if let parsed = WhatsAppMessage.parse(message, contacts: contacts, systemErrors: systemErrors) {
                    .message(parsed)
                } else {
                    .notice("WhatsApp message without an id ignored")
                }
            events.append(RoutedEvent(route: route, event: event))
        }
        for status in value["statuses"]?.items ?? [] {
            events.append(RoutedEvent(route: route, event: self.status(status)))
        }
        for error in systemErrors {
            events.append(RoutedEvent(route: route, event: .notice("WhatsApp error " + describe(error))))
        }
        if events.isEmpty {
            events.append(RoutedEvent(route: route, event: .notice("WhatsApp messages change with nothing in it")))
        }
        return events
    }

    private static let knownStatuses: Set<String> = ["sent", "delivered", "read", "played", "failed"]

    private static func status(_ status: ProviderJSON) -> InboundEvent {
        guard let id = status["id"]?.nonEmptyText else { return .notice("WhatsApp status without an id ignored") }
        let value = status["status"]?.text?.lowercased() ?? ""
        guard knownStatuses.contains(value) else {
            return .notice("WhatsApp status '\(value)' for \(id) ignored")
        }
        let recipientID = status["recipient_id"]?.nonEmptyText
        let error = status["errors"]?.items?.first
        let code = error?["code"]?.nonEmptyText
        return .status(
            ParsedStatus(
                providerMessageID: id,
                status: value,
                at: status["timestamp"]?.number.map { Date(timeIntervalSince1970: $0) },
                recipient: recipientID.map { $0.whatsappPhone ?? $0 } ?? status["recipient_user_id"]?.nonEmptyText,
                errorCode: code,
                errorText: error.flatMap(errorText),
                failureReason: value == "failed" ? FailureReason.whatsapp(code: code) : nil
            )
        )
    }

    /// `title`, else `error_data.details`, else `message`, else a top-level `details`.
    static func errorText(_ error: ProviderJSON) -> String? {
        error["title"]?.nonEmptyText ?? error["error_data"]?["details"]?.nonEmptyText
            ?? error["message"]?.nonEmptyText ?? error["details"]?.nonEmptyText
    }

    private static func describe(_ error: ProviderJSON) -> String {
        let code = error["code"]?.nonEmptyText ?? "?"
        let title = error["title"]?.nonEmptyText ?? error["message"]?.nonEmptyText ?? "no title"
        let details = error["error_data"]?["details"]?.nonEmptyText ?? error["details"]?.nonEmptyText
        return details.map { "\(code): \(title) (\($0))" } ?? "\(code): \(title)"
    }
}
