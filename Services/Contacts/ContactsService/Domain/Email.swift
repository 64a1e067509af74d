import ContactsKit
import Foundation

/// Validation and canonical form of e-mail addresses as contacts carry them.
///
/// Deliberately stricter than RFC 5322 (no quoted local parts, comments or IP-literal domains) and looser than
/// a mailbox check: it answers "does this look like an address we can store and show", nothing more.
public enum EmailAddress {
    /// Returns the address trimmed, with its domain lower-cased, or `nil` when it is not a plausible address.
    ///
    /// Rules: exactly one `@`; a local part of 1–64 printable ASCII characters without spaces or any of
    /// `(),:;<>[]\"`; a domain of at least two dot-separated labels of ASCII letters, digits and hyphens (1–63
    /// characters, not starting or ending with a hyphen) whose last label is at least two letters; 254 characters
    /// at most in total.
    public static func normalize(_ raw: String) -> String? {
        let trimmed = raw.trimmed
        let bytes = Array(trimmed.utf8)
        guard bytes.count <= 254 else { return nil }
        guard let at = bytes.firstIndex(of: UInt8(ascii: "@")),
            bytes[(at + 1)...].firstIndex(of: UInt8(ascii: "@")) == nil
        else { return nil }

        let local = bytes[..<at]
        guard (1...64).contains(local.count), local.allSatisfy(isLocalPartByte) else { return nil }

        let domain = bytes[(at + 1)...].map(lowercasedASCII)
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy(isValidLabel) else { return nil }
        guard let tld = labels.last, tld.count >= 2, tld.allSatisfy(isASCIILetter) else { return nil }

        return String(decoding: local, as: UTF8.self) + "@" + String(decoding: domain, as: UTF8.self)
    }

    private static func isLocalPartByte(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F else { return false }
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: ";"),
            UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\\"),
            UInt8(ascii: "\""):
            return false
        default:
            return true
        }
    }

    private static func isValidLabel(_ label: ArraySlice<UInt8>) -> Bool {
        guard (1...63).contains(label.count), label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
        else { return false }
        return label.allSatisfy { isASCIILetter($0) || isASCIIDigit($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isASCIILetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}
