import HTTPTypes
import ServiceKit
/// A request body object read field by field, so every mistake names its field.
struct JSONObject {
    let pairs: [String: JSONValue]

    /// Parses a body that must be a JSON object whose keys are all in `allowed`.
    init(body: some Collection<UInt8>, allowed: Set<String>) throws(APIError) {
        let value = body.isEmpty ? JSONValue.object([]) : try JSONValue.parse(body)
        guard case .object(let pairs) = value else {
            throw APIError(.badRequest, "invalid_json", "the request body must be a JSON object")
        }
        for (key, _) in pairs where !allowed.contains(key) {
            throw APIError(
                .badRequest, "unknown_field",
                "unknown field '\(Echo.short(key))'; expected one of \(allowed.sorted().joined(separator: ", "))", field: key)
        }
        self.pairs = Dictionary(pairs, uniquingKeysWith: { $1 })
    }

    func has(_ key: String) -> Bool { pairs[key] != nil }

    func isNull(_ key: String) -> Bool { pairs[key] == .null }

    private func wrongType(_ key: String, _ expected: String) -> APIError {
        APIError(.badRequest, "invalid_field", "'\(key)' must be \(expected)", field: key)
    }

    /// Absent → nil; null → "" when `nullClears`, else an error; a string → its value.
    func string(_ key: String, nullClears: Bool = false) throws(APIError) -> String? {
        switch pairs[key] {
        case nil: return nil
        case .null?:
            if nullClears { return "" }
            throw wrongType(key, "a string")
        case .string(let value)?: return value
        default: throw wrongType(key, "a string")
        }
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        switch pairs[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw wrongType(key, "true or false")
        }
    }

    func int(_ key: String) throws(APIError) -> Int64? {
        switch pairs[key] {
        case nil, .null?: return nil
        case .int(let value)?: return value
        // JSON has one number type: 24.0 is the integer 24 (as JSON Schema's `integer` says).
        case .double(let value)? where value.rounded() == value && abs(value) <= 9_007_199_254_740_992:
            return Int64(value)
        default: throw wrongType(key, "an integer")
        }
    }

    func strings(_ key: String) throws(APIError) -> [String]? {
        switch pairs[key] {
        case nil: return nil
        case .null?: return []
        case .array(let values)?:
            var result: [String] = []
            for value in values {
                guard case .string(let text) = value else { throw wrongType(key, "an array of strings") }
                result.append(text)
            }
            return result
        default: throw wrongType(key, "an array of strings")
        }
    }

    func object(_ key: String) throws(APIError) -> JSONValue? {
        switch pairs[key] {
        case nil: return nil
        case .null?: return .object([])
        case .object(let pairs)?: return .object(pairs)
        default: throw wrongType(key, "an object")
        }
    }
}
