import Foundation
import GRPCCore
import MessagingKit
import ServiceKit

/// Validation of a template registration and the parameter counts its components declare (`{{1}}` … `{{n}}`,
/// numbered from 1 without gaps in each component, as Meta requires).
enum TemplateRules {
    static let categories: Set<String> = ["MARKETING", "UTILITY", "AUTHENTICATION"]
    static let statuses: Set<String> = ["APPROVED", "PENDING", "REJECTED"]
    /// Limits on what a registration may carry (Meta's own are lower): the components' JSON text, how many
    /// components and buttons, one component's text, and the highest parameter number.
    static let maxComponentsBytes = 16 * 1024
    static let maxComponents = 10
    static let maxButtons = 10
    static let maxTextLength = 1024  // WhatsApp's limit for a template's BODY text
    static let maxParameter = 100

    struct Checked: Equatable {
        var name: String
        var language: String
        var category: String
        var status: String
        var componentsJSON: String
        var header: Int
        var body: Int
        var buttons: [Int]
    }

    static func check(name: String, language: String, category: String, status: String, componentsJSON: String)
        throws(ServiceFailure) -> Checked
    {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard (1...512).contains(name.count),
            name.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" })
        else {
            throw .invalid("invalid_template_name", "name is 1–512 lower-case letters, digits or '_'", field: "name")
        }
        let language = language.trimmingCharacters(in: .whitespaces)
        guard language.range(of: #"^[a-z]{2,3}(_[A-Z]{2})?$"#, options: .regularExpression) != nil else {
            throw .invalid("invalid_language", "language is a code like en or en_US", field: "language")
        }
        let category = category.isEmpty ? "UTILITY" : category.uppercased()
        guard categories.contains(category) else {
            throw .invalid("invalid_category", "category is MARKETING, UTILITY or AUTHENTICATION", field: "category")
        }
        let status = status.isEmpty ? "APPROVED" : status.uppercased()
        guard statuses.contains(status) else {
            throw .invalid("invalid_status", "status is APPROVED, PENDING or REJECTED", field: "status")
        }
        guard componentsJSON.utf8.count <= maxComponentsBytes else {
            throw .invalid(
                "components_too_large", "components are larger than \(maxComponentsBytes) bytes", field: "components")
        }
        guard let components = try? JSONSerialization.jsonObject(with: Data(componentsJSON.utf8)) as? [[String: Any]],
            !components.isEmpty
        else { throw .invalid("invalid_components", "components must be a non-empty JSON array of objects", field: "components") }
        guard components.count <= maxComponents else {
            throw .invalid("too_many_components", "a template has at most \(maxComponents) components", field: "components")
        }
        var header = 0
        var body: Int?
        var buttons: [Int] = []
        for component in components {
            let type = (component["type"] as? String)?.uppercased() ?? ""
            switch type {
            case "HEADER":
                header = try parameters(in: component["text"] as? String ?? "", component: "header")
            case "BODY":
                guard let text = component["text"] as? String, !text.isEmpty else {
                    throw .invalid("invalid_components", "the BODY component needs its text", field: "components")
                }
                body = try parameters(in: text, component: "body")
            case "FOOTER":
                break
            case "BUTTONS":
                let list = component["buttons"] as? [[String: Any]] ?? []
                guard list.count <= maxButtons else {
                    throw .invalid("too_many_buttons", "a template has at most \(maxButtons) buttons", field: "components")
                }
                for button in list {
                    try checkOptOut(button)
                    buttons.append(try parameters(in: button["url"] as? String ?? "", component: "button"))
                }
            default:
                throw .invalid(
                    "invalid_components", "component type must be HEADER, BODY, FOOTER or BUTTONS", field: "components")
            }
        }
        guard let body else {
            throw .invalid("invalid_components", "a template needs a BODY component", field: "components")
        }
        let normalized = (try? JSONSerialization.data(withJSONObject: components, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? componentsJSON
        return Checked(
            name: name, language: language, category: category, status: status, componentsJSON: normalized,
            header: header, body: body, buttons: buttons)
    }

    /// `optOut` marks the template's opt-out button (as Meta's marketing opt-out button): only a QUICK_REPLY button
    /// with a text may carry it, and only as `true` or `false`.
    static func checkOptOut(_ button: [String: Any]) throws(ServiceFailure) {
        guard let flag = button["optOut"] else { return }
        guard let value = jsonBool(flag) else {
            throw .invalid("invalid_components", "a button's optOut is true or false", field: "components")
        }
        guard !value || (button["type"] as? String == "QUICK_REPLY" && !((button["text"] as? String) ?? "").isEmpty)
        else {
            throw .invalid(
                "invalid_components", "only a QUICK_REPLY button with a text can be the opt-out button",
                field: "components")
        }
    }

    /// The texts of the QUICK_REPLY buttons marked `"optOut": true` in a stored template's components: tapping one
    /// opts the contact out (source `keyword`).
    static func optOutButtons(componentsJSON: String) -> [String] {
        guard let components = try? JSONSerialization.jsonObject(with: Data(componentsJSON.utf8)) as? [[String: Any]]
        else { return [] }
        return components.flatMap { component -> [String] in
            guard (component["type"] as? String)?.uppercased() == "BUTTONS" else { return [] }
            return (component["buttons"] as? [[String: Any]] ?? []).compactMap { button in
                guard button["type"] as? String == "QUICK_REPLY", let flag = button["optOut"],
                    jsonBool(flag) == true, let text = button["text"] as? String, !text.isEmpty
                else { return nil }
                return text
            }
        }
    }

    /// A JSON `true`/`false` (not a number: Foundation bridges both to NSNumber, so ask its own serialization).
    private static func jsonBool(_ value: Any) -> Bool? {
        guard let data = try? JSONSerialization.data(withJSONObject: [value]) else { return nil }
        switch String(decoding: data, as: UTF8.self) {
        case "[true]": return true
        case "[false]": return false
        default: return nil
        }
    }

    /// How many parameters a component text declares: `{{1}}` … `{{n}}`, each number from 1 to n present.
    static func parameters(in text: String, component: String) throws(ServiceFailure) -> Int {
        guard text.count <= maxTextLength else {
            throw .invalid(
                "invalid_components", "\(component) text is longer than \(maxTextLength) characters", field: "components")
        }
        var numbers: Set<Int> = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            guard let number = Int(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)),
                (1...maxParameter).contains(number)
            else {
                throw .invalid(
                    "invalid_components", "\(component) parameters are written {{1}}, {{2}}, … up to {{\(maxParameter)}}", field: "components")
            }
            numbers.insert(number)
            rest = rest[close.upperBound...]
        }
        guard numbers.count == (numbers.max() ?? 0) else {
            throw .invalid(
                "invalid_components", "\(component) parameters must be numbered {{1}} to {{n}} without gaps",
                field: "components")
        }
        return numbers.count
    }
}
