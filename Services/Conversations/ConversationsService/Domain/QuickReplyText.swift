import Foundation
import GRPCCore
import ServiceKit

/// The content of a quick reply: text with `{{variable}}` and `{{variable|fallback}}` placeholders.
///
/// Only the documented variables exist; an unknown one (or an unclosed `{{`) is refused when the quick reply is
/// saved, so an agent never sends `{{contact.nmae}}` to a customer. A missing value renders the fallback, or nothing.
struct QuickReplyText: Equatable {
    static let variables: Set<String> = [
        "contact.name", "contact.firstName", "org.name", "agent.name", "date", "time",
    ]
    static let maxLength = 4096

    enum Part: Equatable {
        case text(String)
        case variable(name: String, fallback: String?)
    }

    let parts: [Part]

    init(_ content: String) throws(ServiceFailure) {
        guard !content.trimmingWhitespace.isEmpty, content.count <= Self.maxLength else {
            throw .invalid("invalid_content", "content must be 1–\(Self.maxLength) characters", field: "content")
        }
        var parts: [Part] = []
        var rest = Substring(content)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw .invalid("invalid_content", "a '{{' is never closed with '}}'", field: "content")
            }
            let inside = rest[open.upperBound..<close.lowerBound]
            let pieces = inside.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pieces[0]).trimmingWhitespace
            guard Self.variables.contains(name) else {
                throw ServiceFailure(
                    .invalidArgument, "unknown_variable",
                    "'{{\(inside)}}' is not a variable: use \(Self.variables.sorted().joined(separator: ", "))",
                    field: "content", details: ["variable": name])
            }
            parts.append(.variable(name: name, fallback: pieces.count > 1 ? String(pieces[1]) : nil))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    /// The variables used, in order of first use.
    var variableNames: [String] {
        var names: [String] = []
        for case .variable(let name, _) in parts where !names.contains(name) { names.append(name) }
        return names
    }

    /// `contact.firstName` is derived from `contact.name` when not given.
    func render(_ values: [String: String]) -> String {
        var values = values.filter { !$0.value.trimmingWhitespace.isEmpty }
        if values["contact.firstName"] == nil, let name = values["contact.name"] {
            values["contact.firstName"] = name.trimmingWhitespace.split(separator: " ").first.map(String.init)
        }
        return parts.map { part in
            switch part {
            case .text(let text): text
            case .variable(let name, let fallback): values[name] ?? fallback ?? ""
            }
        }.joined()
    }

    /// A `/shortcut`: a slash, then 1–31 lower-case letters, digits, `-` or `_`.
    static func shortcut(_ raw: String) throws(ServiceFailure) -> String {
        let value = raw.trimmingWhitespace.lowercased()
        let body = value.dropFirst()
        guard value.hasPrefix("/"), (1...31).contains(body.count),
            body.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" })
        else {
            throw .invalid(
                "invalid_shortcut", "a shortcut is '/' then 1–31 letters, digits, '-' or '_' (e.g. /greeting)",
                field: "shortcut")
        }
        return value
    }
}
