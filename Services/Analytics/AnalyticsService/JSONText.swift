import ServiceKit

/// A JSON document written straight to text (the reports): Foundation's `JSONSerialization` spent more time
/// boxing and writing a report than reading it from SQLite took.
indirect enum JSONText {
    case object([(String, JSONText)])
    case array([JSONText])
    case string(String?)
    case int(Int)
    case double(Double?)
    case bool(Bool)
    /// Text that is already JSON (a stored payload).
    case raw(String)
    case null

    var text: String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                out += EventPayload.quoted(key)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(into: &out)
            }
            out += "]"
        case .string(let value?): out += EventPayload.quoted(value)
        case .int(let value): out += String(value)
        case .double(let value?):
            out += value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .bool(let value): out += value ? "true" : "false"
        case .raw(let value): out += value.isEmpty ? "null" : value
        case .string(nil), .double(nil), .null: out += "null"
        }
    }
}
