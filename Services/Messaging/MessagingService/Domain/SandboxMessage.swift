import Foundation
import GRPCCore
import ServiceKit
import SwitchboardProtos

/// A simulated customer message on the sandbox channel, turned into the webhook body WhatsApp would send, so it
/// takes exactly the path a real one takes.
struct SandboxMessage {
    var phoneDigits: String?
    var userID: String?
    var username: String?
    var name: String?
    var text: String
    var referral: [String: Any]?
    var messageID: String

    init(_ request: Switchboard_Messaging_V1_SimulateInboundRequest) throws(ServiceFailure) {
        let phone = request.fromPhone.trimmingCharacters(in: .whitespaces)
        if !phone.isEmpty {
            let digits = phone.dropFirst()
            guard phone.hasPrefix("+"), (2...15).contains(digits.count), digits.allSatisfy(\.isASCII),
                digits.allSatisfy(\.isNumber), digits.first != "0"
            else {
                throw .invalid("invalid_phone", "'\(Echo.short(phone))' is not a phone number in E.164 form", field: "from")
            }
            phoneDigits = String(digits)
        }
        userID = try Self.identifier(request.whatsappUserID, field: "whatsappUserId", reason: "invalid_whatsapp_user_id")
        guard phoneDigits != nil || userID != nil else {
            throw .invalid("missing_identity", "give `from` (a phone number) or `whatsappUserId`", field: "from")
        }
        username = try Self.identifier(request.username, field: "username", reason: "invalid_username")
        guard request.name.count <= Self.maxNameLength else {
            throw .invalid("invalid_name", "name is longer than \(Self.maxNameLength) characters", field: "name")
        }
        name = request.name.isEmpty ? nil : request.name
        guard !request.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, request.text.utf8.count <= 4096 else {
            throw .invalid("invalid_text", "text must be 1–4096 bytes", field: "text")
        }
        text = request.text
        if !request.referralJson.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.referralJson.utf8)) as? [String: Any]
            else { throw .invalid("invalid_field", "referral must be a JSON object", field: "referral") }
            referral = object
        }
        messageID = try Self.messageID(request.messageID)
    }

    /// What contacts accepts for a WhatsApp user id or username, refused here (400) rather than dropped later.
    static let maxIdentifierLength = 128
    static let maxNameLength = 200
    static let prefix = "sandbox."

    static func identifier(_ raw: String, field: String, reason: String) throws(ServiceFailure) -> String? {
        let raw = raw.trimmingCharacters(in: .whitespacesAndNewlines)  // as contacts reads it
        guard !raw.isEmpty else { return nil }
        guard raw.count <= maxIdentifierLength, !raw.contains(where: { $0.isWhitespace }) else {
            throw .invalid(reason, "\(field) must be at most \(maxIdentifierLength) characters without spaces", field: field)
        }
        return raw
    }

    /// Every sandbox message id starts with `sandbox.` (a client's own id gets the prefix too), so that nothing the
    /// sandbox records can pass for a provider's message (`wamid.…`).
    static func messageID(_ raw: String) throws(ServiceFailure) -> String {
        guard !raw.isEmpty else { return prefix + Identifier.make() }
        guard raw.count <= maxIdentifierLength, raw.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
            throw .invalid(
                "invalid_message_id", "messageId must be at most \(maxIdentifierLength) ASCII characters without spaces",
                field: "messageId")
        }
        return raw.hasPrefix(prefix) ? raw : prefix + raw
    }

    func webhookBody() -> Data {
        var profile: [String: Any] = [:]
        if let name { profile["name"] = name }
        if let username { profile["username"] = username }
        var contact: [String: Any] = ["profile": profile]
        if let phoneDigits { contact["wa_id"] = phoneDigits }
        if let userID { contact["user_id"] = userID }
        var message: [String: Any] = [
            "id": messageID, "timestamp": String(Millis.now() / 1000), "type": "text", "text": ["body": text],
        ]
        if let phoneDigits { message["from"] = phoneDigits }
        if let userID { message["from_user_id"] = userID }
        if let referral { message["referral"] = referral }
        let body: [String: Any] = [
            "object": "whatsapp_business_account",
            "entry": [[
                "id": "sandbox",
                "changes": [[
                    "field": "messages",
                    "value": [
                        "messaging_product": "whatsapp",
                        "metadata": ["phone_number_id": "sandbox", "display_phone_number": "sandbox"],
                        "contacts": [contact], "messages": [message],
                    ] as [String: Any],
                ]],
            ] as [String: Any]],
        ]
        return (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
    }
}
