import ContactsKit
import Foundation
import ServiceKit

/// Validation of contact fields, shared by the API and the CSV import.
enum ContactRules {
    static let maxNameLength = 200
    static let maxUserIDLength = 128

    static func phone(_ raw: String, field: String = "phone") throws(ServiceFailure) -> String? {
        let trimmed = raw.trimmed
        if trimmed.isEmpty { return nil }
        guard let phone = E164(normalizing: trimmed) else {
            throw .invalid(
                "invalid_phone",
                "'\(raw)' is not a phone number in E.164 form (+ then 2–15 digits, e.g. +919876543210)", field: field)
        }
        return phone.value
    }

    static func email(_ raw: String, field: String = "email") throws(ServiceFailure) -> String? {
        let trimmed = raw.trimmed
        if trimmed.isEmpty { return nil }
        guard let email = EmailAddress.normalize(trimmed) else {
            throw .invalid("invalid_email", "'\(raw)' is not a valid email address", field: field)
        }
        return email
    }

    static func name(_ raw: String, field: String = "name") throws(ServiceFailure) -> String? {
        let trimmed = raw.trimmed
        if trimmed.isEmpty { return nil }
        guard trimmed.count <= maxNameLength else {
            throw .invalid("invalid_name", "name is longer than \(maxNameLength) characters", field: field)
        }
        return trimmed
    }

    static func userID(_ raw: String, field: String) throws(ServiceFailure) -> String? {
        let trimmed = raw.trimmed
        if trimmed.isEmpty { return nil }
        guard trimmed.count <= maxUserIDLength, !trimmed.contains(where: { $0.isWhitespace }) else {
            throw .invalid("invalid_\(field == "whatsappUserId" ? "whatsapp_user_id" : "username")",
                           "\(field) must be at most \(maxUserIDLength) characters without spaces", field: field)
        }
        return trimmed
    }

    static func tags(_ raw: [String], field: String = "tags") throws(ServiceFailure) -> [String] {
        var result: [String] = []
        for tag in raw {
            guard let normalized = TagName.normalize(tag) else {
                throw .invalid("invalid_tag", "'\(tag)' is not a valid tag (1–64 characters, no commas)", field: field)
            }
            if !result.contains(normalized) { result.append(normalized) }
        }
        return result.sorted()
    }

    /// A JSON object text; the reserved `ctwa` key may only be written by the system.
    static func attributes(_ raw: String, allowReserved: Bool = false) throws(ServiceFailure) -> [String: Any] {
        guard let data = raw.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw .invalid("invalid_attributes", "attributes must be a JSON object", field: "attributes")
        }
        if !allowReserved, object["ctwa"] != nil {
            throw .invalid(
                "invalid_attributes", "attributes.ctwa is reserved for Click-to-WhatsApp attribution",
                field: "attributes.ctwa")
        }
        return object
    }

    static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
