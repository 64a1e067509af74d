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
                throw .invalid("invalid_phone", "'\(phone)' is not a phone number in E.164 form", field: "from")
            }
            phoneDigits = String(digits)
        }
        userID = request.whatsappUserID.isEmpty ? nil : request.whatsappUserID
        guard phoneDigits != nil || userID != nil else {
            throw .invalid("missing_identity", "give `from` (a phone number) or `whatsappUserId`", field: "from")
        }
        username = request.username.isEmpty ? nil : request.username
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
        messageID = request.messageID.isEmpty ? "sandbox." + Identifier.make() : request.messageID
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
