public import ServiceKit

/// One mapped column of an import: the CSV column (by index and header) and the contact field it fills.
public struct ImportColumn: Sendable, Equatable, Codable {
    public var index: Int
    public var header: String
    public var field: String

    public init(index: Int, header: String, field: String) {
        self.index = index
        self.header = header
        self.field = field
    }
}

/// What the user sees after uploading: headers, the first rows and a suggested mapping.
public struct ImportPreview: Sendable, Equatable, Codable {
    public var headers: [String]
    public var rows: [[String]]
    public var suggestedMapping: [ImportColumn]

    public init(headers: [String], rows: [[String]], suggestedMapping: [ImportColumn]) {
        self.headers = headers
        self.rows = rows
        self.suggestedMapping = suggestedMapping
    }
}

public enum ImportStatus: String, Sendable {
    case uploaded, queued, processing, completed, failed
}

/// A CSV import: uploaded → queued (confirmed with a mapping) → processing → completed or failed.
public struct ImportJob: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var status: ImportStatus
    public var fileName: String
    public var filePath: String
    public var sizeBytes: Int64
    public var totalRows: Int64
    public var processedRows: Int64
    public var created: Int64
    public var updated: Int64
    public var unchanged: Int64
    public var failed: Int64
    public var preview: ImportPreview
    public var mapping: [ImportColumn]
    public var actor: Actor
    public var resumeOffset: Int64
    public var createdAt: Millis
    public var startedAt: Millis?
    public var finishedAt: Millis?
    public var error: String?

    public init(id: String, orgID: String, status: ImportStatus, fileName: String, filePath: String, sizeBytes: Int64, totalRows: Int64, processedRows: Int64, created: Int64, updated: Int64, unchanged: Int64, failed: Int64, preview: ImportPreview, mapping: [ImportColumn], actor: Actor, resumeOffset: Int64, createdAt: Millis, startedAt: Millis?, finishedAt: Millis?, error: String?) {
        self.id = id
        self.orgID = orgID
        self.status = status
        self.fileName = fileName
        self.filePath = filePath
        self.sizeBytes = sizeBytes
        self.totalRows = totalRows
        self.processedRows = processedRows
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
        self.failed = failed
        self.preview = preview
        self.mapping = mapping
        self.actor = actor
        self.resumeOffset = resumeOffset
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
    }
}

public struct ImportRowError: Sendable, Equatable {
    public var row: Int64
    public var column: String
    public var value: String
    public var reason: String
    public var message: String

    public init(row: Int64, column: String, value: String, reason: String, message: String) {
        self.row = row
        self.column = column
        self.value = value
        self.reason = reason
        self.message = message
    }
}

/// Limits of one import file.
public enum ImportLimits {
    public static let maxBytes: Int64 = 100 * 1024 * 1024
    public static let maxRows: Int64 = 1_000_000
    public static let previewRows = 20
    /// A preview cell keeps at most this many characters (the file keeps the whole cell).
    public static let previewCellCharacters = 200
    /// Any cell, header or data, may hold at most this many bytes: a bigger one refuses the upload.
    public static let maxCellBytes = 32 * 1024
    /// The header row may be at most this many bytes and name at most `maxColumns` columns.
    public static let maxHeaderBytes = 64 * 1024
    public static let maxColumns = 500
    public static let batchSize = 20_000
}
