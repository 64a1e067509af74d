import Foundation

/// A JSON value exactly as a provider sent it. Webhook bodies are read through this instead of fixed structs so
/// that unknown, missing or oddly typed fields never stop a body from being read.
enum ProviderJSON: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([ProviderJSON])
    case object([String: ProviderJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ProviderJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ProviderJSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Reads a whole body; nil when it is not JSON.
    static func decode(_ data: Data) -> ProviderJSON? {
        try? ProviderJSONParser.parse(data)
    }

    subscript(key: String) -> ProviderJSON? {
        if case .object(let fields) = self { fields[key] } else { nil }
    }

    var objectFields: [String: ProviderJSON]? {
        if case .object(let fields) = self { fields } else { nil }
    }

    var items: [ProviderJSON]? {
        if case .array(let items) = self { items } else { nil }
    }

    /// A string, or a number written as one (providers send ids and codes either way).
    var text: String? {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .double(let value): String(value)
        default: nil
        }
    }

    /// A non-empty `text`.
    var nonEmptyText: String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        case .string(let value): Double(value)
        default: nil
        }
    }

    var isTrue: Bool {
        switch self {
        case .bool(let value): value
        case .string(let value): value.lowercased() == "true"
        default: false
        }
    }

    /// Sorted-key JSON text: what `contentJSON` holds.
    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// An object of the given fields, leaving out the absent ones.
    static func fields(_ pairs: KeyValuePairs<String, ProviderJSON?>) -> ProviderJSON {
        var object: [String: ProviderJSON] = [:]
        for (key, value) in pairs {
            if let value { object[key] = value }
        }
        return .object(object)
    }
}

extension Optional where Wrapped == String {
    /// The string as a JSON value, absent when nil.
    var asJSON: ProviderJSON? { map(ProviderJSON.string) }
}
