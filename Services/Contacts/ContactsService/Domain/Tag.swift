import ContactsKit
import Foundation

/// The canonical spelling of contact tags, and how tags arrive in a CSV cell.
///
/// Tags compare by their normalised form, so `VIP`, ` vip ` and `Vip` are one tag named `vip`.
public enum TagName {
    /// The longest tag name accepted, in characters, after normalisation.
    public static let maxLength = 64

    /// Returns the tag name trimmed, with runs of inner whitespace collapsed to one space and lower-cased.
    ///
    /// `nil` when the result is empty, longer than ``maxLength`` characters, or contains a comma (commas
    /// separate tags in CSV cells) or a control character. Tabs and line breaks count as whitespace and are
    /// collapsed rather than rejected.
    public static func normalize(_ raw: String) -> String? {
        var collapsed = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in raw.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !collapsed.isEmpty
                continue
            }
            if scalar == "," || scalar.properties.generalCategory == .control { return nil }
            if pendingSpace {
                collapsed.append(" ")
                pendingSpace = false
            }
            collapsed.append(scalar)
        }
        let name = String(collapsed).lowercased()
        guard !name.isEmpty, name.count <= maxLength else { return nil }
        return name
    }

    /// Splits a CSV cell such as `vip, retail` on commas into its trimmed, non-empty parts, not yet normalised.
    public static func splitCell(_ cell: String) -> [String] {
        cell.split(separator: ",", omittingEmptySubsequences: true).compactMap { part in
            let trimmed = part.trimmed
            return trimmed.isEmpty ? nil : trimmed
        }
    }
}
