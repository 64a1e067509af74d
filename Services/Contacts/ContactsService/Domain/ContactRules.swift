import ContactsKit
import Foundation
import ServiceKit

/// Validation of contact fields, shared by the API and the CSV import.
enum ContactRules {
    static let maxNameLength = 200
    static let maxUserIDLength = 128
    /// Limits refused with 400 rather than stored: tags on one contact, attribute keys, one key's length and the
    /// attributes' JSON text.
    static let maxTagsPerContact = 50
    static let maxAttributeKeys = 50
    static let maxAttributeKeyLength = 64
    static let maxAttributesBytes = 16 * 1024

    static func phone(_ raw: String, field: String = "phone") throws(ServiceFailure) -> String? {
        let trimmed = raw.trimmed
        if trimmed.isEmpty { return nil }
        guard let phone = E164(normalizing: trimmed) else {
            throw .invalid(
                "invalid_phone",
                "'\(Echo.short(raw))' is not a phone number in E.164 form (+ then 2–15 digits, e.g. +919876543210)",
                field: field)
        }
        return phone.value
    }

    static func email(_ raw: String, field: String = "email") throws(ServiceFailure) -> String? {
        let trimmed = raw.trimmed
        if trimmed.isEmpty { return nil }
        guard let email = EmailAddress.normalize(trimmed) else {
            throw .invalid("invalid_email", "'\(Echo.short(raw))' is not a valid email address", field: field)
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
                throw .invalid(
                    "invalid_tag", "'\(Echo.short(tag))' is not a valid tag (1–64 characters, no commas)", field: field)
            }
            if !result.contains(normalized) { result.append(normalized) }
        }
        try tagCount(result.count, field: field)
        return result.sorted()
    }

    /// A contact carries at most ``maxTagsPerContact`` tags.
    static func tagCount(_ count: Int, field: String = "tags") throws(ServiceFailure) {
        guard count <= maxTagsPerContact else {
            throw .invalid("too_many_tags", "a contact has at most \(maxTagsPerContact) tags", field: field)
        }
    }

    /// A JSON object text; the reserved `ctwa` key may only be written by the system.
    static func attributes(_ raw: String, allowReserved: Bool = false) throws(ServiceFailure) -> [String: Any] {
        guard allowReserved || raw.utf8.count <= maxAttributesBytes else {
            throw .invalid(
                "attributes_too_large", "attributes are larger than \(maxAttributesBytes) bytes", field: "attributes")
        }
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
        if !allowReserved {
            guard object.count <= maxAttributeKeys else {
                throw .invalid(
                    "too_many_attributes", "a contact has at most \(maxAttributeKeys) attributes", field: "attributes")
            }
            if let long = object.keys.first(where: { $0.isEmpty || $0.count > maxAttributeKeyLength }) {
                throw .invalid(
                    "invalid_attribute_key",
                    "attribute names are 1–\(maxAttributeKeyLength) characters ('\(Echo.short(long))')",
                    field: "attributes")
            }
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
