import ContactsKit
import Foundation

/// What a column of an imported CSV file feeds into on the contact.
///
/// Wire names (``string``, ``init(_:)``): `phone`, `name`, `email`, `tags`, `optedIn`, `whatsappUserId`,
/// `attribute:<key>` and `ignore`.
public enum ImportField: Sendable, Hashable {
    case phone, name, email, tags, optedIn, whatsappUserId
    /// A custom attribute; the key is 1–64 ASCII letters, digits, `_`, `-` or `.`, and never `ctwa`.
    case attribute(String)
    case ignore

    private static let attributePrefix = "attribute:"
    /// Attribute keys owned by the product itself (click-to-WhatsApp ad referrals), never importable.
    private static let reservedAttributeKeys: Set<String> = ["ctwa"]
    private static let maxAttributeKeyLength = 64

    /// Parses a wire name; `nil` for an unknown name or an invalid or reserved attribute key.
    public init?(_ string: String) {
        switch string {
        case "phone": self = .phone
        case "name": self = .name
        case "email": self = .email
        case "tags": self = .tags
        case "optedIn": self = .optedIn
        case "whatsappUserId": self = .whatsappUserId
        case "ignore": self = .ignore
        default:
            guard string.hasPrefix(Self.attributePrefix) else { return nil }
            let key = String(string.dropFirst(Self.attributePrefix.count))
            guard Self.isValidAttributeKey(key) else { return nil }
            self = .attribute(key)
        }
    }

    /// The wire name.
    public var string: String {
        switch self {
        case .phone: "phone"
        case .name: "name"
        case .email: "email"
        case .tags: "tags"
        case .optedIn: "optedIn"
        case .whatsappUserId: "whatsappUserId"
        case .attribute(let key): Self.attributePrefix + key
        case .ignore: "ignore"
        }
    }

    /// Whether `key` can name a custom attribute: 1–64 ASCII letters, digits, `_`, `-`, `.`, and not reserved.
    public static func isValidAttributeKey(_ key: String) -> Bool {
        guard (1...maxAttributeKeyLength).contains(key.utf8.count),
            !reservedAttributeKeys.contains(key.lowercased())
        else { return false }
        return key.utf8.allSatisfy {
            isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: ".")
        }
    }

    /// Proposes a mapping for a file's header row, one field per header, for the user to confirm.
    ///
    /// Headers are compared lower-cased with spaces, underscores, dashes and dots removed (`Phone Number`,
    /// `phone_number` → `phone`). Each built-in field goes to the first header that names it; later headers
    /// naming it again, and headers naming nothing known, become attributes keyed by the header in snake case.
    /// Empty headers, and headers with no letters or digits, are ignored.
    public static func suggest(headers: [String]) -> [ImportField] {
        var taken: Set<ImportField> = []
        return headers.map { header in
            let compact = compactHeader(header)
            if compact.isEmpty { return .ignore }
            if let field = builtInSynonyms[compact], !taken.contains(field) {
                taken.insert(field)
                return field
            }
            let key = attributeKey(forHeader: header)
            return isValidAttributeKey(key) ? .attribute(key) : .ignore
        }
    }

    private static let builtInSynonyms: [String: ImportField] = {
        let table: [(ImportField, [String])] = [
            (
                .phone,
                [
                    "phone", "phonenumber", "mobile", "mobilenumber", "whatsapp", "whatsappnumber", "msisdn", "tel",
                    "telephone", "cell", "number",
                ]
            ),
            (.name, ["name", "fullname", "contactname", "customername"]),
            (.email, ["email", "emailaddress", "mail"]),
            (.tags, ["tags", "tag", "labels", "label", "segments"]),
            (.optedIn, ["optedin", "optin", "consent", "subscribed", "marketingconsent"]),
            (.whatsappUserId, ["whatsappuserid", "wauserid", "bsuid", "userid"]),
        ]
        var synonyms: [String: ImportField] = [:]
        for (field, names) in table {
            for name in names { synonyms[name] = field }
        }
        return synonyms
    }()

    /// `Phone Number` → `phonenumber`: lower-cased, without whitespace, underscores, dashes and dots.
    private static func compactHeader(_ header: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in header.lowercased().unicodeScalars {
            switch scalar {
            case "_", "-", ".": continue
            case _ where scalar.properties.isWhitespace: continue
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// `Date of Birth` → `date_of_birth`: lower-cased, each run of non-alphanumerics one `_`, trimmed of `_`.
    private static func attributeKey(forHeader header: String) -> String {
        var key: [UInt8] = []
        var pendingUnderscore = false
        for byte in header.lowercased().utf8 {
            if isASCIIAlphanumeric(byte) {
                let separate = pendingUnderscore && !key.isEmpty
                if key.count + (separate ? 2 : 1) > maxAttributeKeyLength { break }
                if separate { key.append(UInt8(ascii: "_")) }
                pendingUnderscore = false
                key.append(byte)
            } else {
                pendingUnderscore = true
            }
        }
        return String(decoding: key, as: UTF8.self)
    }

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// Reads the yes/no cells of an import file (`optedIn`).
public enum CSVBool {
    /// `true`/`yes`/`y`/`1` and `false`/`no`/`n`/`0`, trimmed and case-insensitive; `nil` for anything else,
    /// including an empty cell (callers tell "empty" from "invalid" by checking emptiness themselves).
    public static func parse(_ cell: String) -> Bool? {
        switch cell.trimmed.lowercased() {
        case "true", "yes", "y", "1": true
        case "false", "no", "n", "0": false
        default: nil
        }
    }
}
