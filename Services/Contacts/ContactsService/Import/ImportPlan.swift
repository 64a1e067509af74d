import ContactsKit
import Foundation
import ServiceKit

/// Rows read and validated from the file, ready to be written in one transaction.
struct ImportBatch: Sendable {
    var rows: [ImportPlan.Row] = []
    /// The 1-based number of the batch's last row.
    var lastRow: Int64 = 0
    /// Where the next batch starts in the file.
    var endOffset: UInt64 = 0

    /// Reads up to `size` records after row `lastRow` and validates each with `plan`.
    static func read(
        from reader: inout CSVFileReader, plan: ImportPlan, after lastRow: Int64, size: Int = ImportLimits.batchSize
    ) throws -> ImportBatch {
        var batch = ImportBatch(lastRow: lastRow)
        batch.rows.reserveCapacity(size)
        while batch.rows.count < size, let record = try reader.next() {
            batch.lastRow += 1
            batch.rows.append(plan.read(record.fields, rowNumber: batch.lastRow, issue: record.issue))
            batch.endOffset = record.endOffset
        }
        return batch
    }
}

/// A validated mapping turned into column positions, ready to read rows.
struct ImportPlan: Sendable {
    var phone: Int?
    var name: Int?
    var email: Int?
    var tags: Int?
    var optedIn: Int?
    var waUserID: Int?
    var attributes: [(index: Int, key: String)] = []
    var headers: [String]

    /// Checks a mapping against the file's headers: known fields, each single field used at most once,
    /// and a phone or WhatsApp user id column to identify contacts.
    init(mapping: [ImportColumn], headers: [String]) throws(ServiceFailure) {
        self.headers = headers
        var seenIndexes = Set<Int>()
        for column in mapping {
            guard column.index >= 0, column.index < headers.count else {
                throw .invalid("invalid_mapping", "column \(column.index) does not exist in the file", field: "mapping")
            }
            guard seenIndexes.insert(column.index).inserted else {
                throw .invalid("invalid_mapping", "column '\(column.header)' is mapped twice", field: "mapping")
            }
            guard let field = ImportField(column.field) else {
                throw .invalid(
                    "invalid_mapping",
                    "'\(column.field)' is not an import field (phone, name, email, tags, optedIn, whatsappUserId, "
                        + "attribute:<key>, ignore)", field: "mapping")
            }
            func assign(_ slot: inout Int?, _ name: String) throws(ServiceFailure) {
                guard slot == nil else {
                    throw .invalid("invalid_mapping", "more than one column is mapped to \(name)", field: "mapping")
                }
                slot = column.index
            }
            switch field {
            case .phone: try assign(&phone, "phone")
            case .name: try assign(&name, "name")
            case .email: try assign(&email, "email")
            case .tags: try assign(&tags, "tags")
            case .optedIn: try assign(&optedIn, "optedIn")
            case .whatsappUserId: try assign(&waUserID, "whatsappUserId")
            case .attribute(let key):
                guard !attributes.contains(where: { $0.key == key }) else {
                    throw .invalid("invalid_mapping", "more than one column is mapped to attribute:\(key)", field: "mapping")
                }
                attributes.append((column.index, key))
            case .ignore: break
            }
        }
        guard phone != nil || waUserID != nil else {
            throw .invalid(
                "invalid_mapping", "map a column to phone (or whatsappUserId) to identify contacts", field: "mapping")
        }
    }

    func header(_ index: Int?) -> String {
        guard let index, index < headers.count else { return "" }
        return headers[index]
    }

    /// One row's values after validation, or the reasons it fails.
    struct Row: Sendable {
        var phone: String?
        var name: String?
        var email: String?
        var tags: [String] = []
        var optedIn: Bool?
        var waUserID: String?
        var attributes: [(String, String)] = []
        var errors: [ImportRowError] = []
    }

    func read(_ cells: [String], rowNumber: Int64, issue: CSVIssue?) -> Row {
        var row = Row()
        func cell(_ index: Int?) -> String? {
            guard let index, index < cells.count else { return nil }
            let value = cells[index].trimmed
            return value.isEmpty ? nil : value
        }
        func fail(_ index: Int?, _ value: String, _ reason: String, _ message: String) {
            row.errors.append(
                ImportRowError(row: rowNumber, column: header(index), value: value, reason: reason, message: message))
        }
        if let issue {
            let message =
                switch issue {
                case .unterminatedQuote: "a quoted field is never closed"
                case .invalidUTF8: "the row is not valid UTF-8"
                case .cellTooLarge: "a cell is longer than \(ImportLimits.maxCellBytes) bytes"
                }
            fail(nil, "", issue.rawValue, message)
            return row
        }
        if let raw = cell(phone) {
            if let value = E164(normalizing: raw) { row.phone = value.value } else {
                fail(phone, raw, "invalid_phone", "not a phone number in E.164 form (e.g. +919876543210)")
            }
        }
        if let raw = cell(waUserID) {
            if raw.count <= ContactRules.maxUserIDLength, !raw.contains(" ") { row.waUserID = raw } else {
                fail(waUserID, raw, "invalid_whatsapp_user_id", "not a WhatsApp user id")
            }
        }
        if let raw = cell(name) {
            if raw.count <= ContactRules.maxNameLength { row.name = raw } else {
                fail(name, String(raw.prefix(50)), "invalid_name", "longer than \(ContactRules.maxNameLength) characters")
            }
        }
        if let raw = cell(email) {
            if let value = EmailAddress.normalize(raw) { row.email = value } else {
                fail(email, raw, "invalid_email", "not a valid email address")
            }
        }
        if let raw = cell(tags) {
            for part in TagName.splitCell(raw) {
                if let tag = TagName.normalize(part) {
                    if !row.tags.contains(tag) { row.tags.append(tag) }
                } else {
                    fail(tags, part, "invalid_tag", "not a valid tag (1–64 characters)")
                }
            }
            if row.tags.count > ContactRules.maxTagsPerContact {
                fail(tags, raw, "too_many_tags", "a contact has at most \(ContactRules.maxTagsPerContact) tags")
            }
        }
        if let raw = cell(optedIn) {
            if let value = CSVBool.parse(raw) { row.optedIn = value } else {
                fail(optedIn, raw, "invalid_boolean", "use true/false, yes/no or 1/0")
            }
        }
        for (index, key) in attributes {
            if let value = cell(index) { row.attributes.append((key, value)) }
        }
        if row.errors.isEmpty, row.phone == nil, row.waUserID == nil {
            fail(phone ?? waUserID, "", "missing_identity", "the row has no phone number")
        }
        return row
    }
}
