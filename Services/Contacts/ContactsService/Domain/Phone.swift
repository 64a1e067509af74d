import ContactsKit
import Foundation

/// A phone number in E.164 form: `+`, then 2–15 ASCII digits, the first one 1–9 (for example `+442079460958`).
///
/// Built only through ``init(normalizing:)``, so a value in hand is always valid and canonical; two spellings of
/// the same number (`+1 (212) 555-1234`, `+12125551234`) produce equal values.
public struct E164: Sendable, Hashable, CustomStringConvertible {
    /// The canonical text, `+` followed by digits only.
    public let value: String

    /// Normalises a phone number as people type it into a form or a spreadsheet.
    ///
    /// Surrounding whitespace is trimmed; spaces, dashes, dots, parentheses and no-break spaces (U+00A0) are
    /// removed; a leading international prefix `00` becomes `+`. Returns `nil` for anything that is not then
    /// `+` and 2–15 ASCII digits starting with 1–9: letters, a missing `+`, a `+` anywhere else, non-ASCII digits
    /// (Arabic-Indic, fullwidth), too few or too many digits.
    public init?(normalizing raw: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for scalar in raw.trimmed.unicodeScalars {
            switch scalar {
            case " ", "-", ".", "(", ")", "\u{00A0}":
                continue
            case "+":
                // A plus is only meaningful as the very first significant character.
                guard bytes.isEmpty else { return nil }
                bytes.append(UInt8(ascii: "+"))
            case "0"..."9":
                bytes.append(UInt8(scalar.value))
            default:
                return nil
            }
            // Bail out early on absurdly long input; 17 covers "00" plus 15 digits.
            if bytes.count > 17 { return nil }
        }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "0") {
            bytes.replaceSubrange(0..<2, with: [UInt8(ascii: "+")])
        }
        guard bytes.first == UInt8(ascii: "+") else { return nil }
        let digits = bytes.dropFirst()
        guard (2...15).contains(digits.count), let first = digits.first, first != UInt8(ascii: "0") else {
            return nil
        }
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        self.value = String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { value }
}
