import ContactsKit
import GRPCCore
import Foundation
import ServiceKit

/// Where uploaded CSV files live while they are imported: `<data dir>/imports/<job id>.csv`.
public struct ImportFiles: Sendable {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(for jobID: String) -> String { (directory as NSString).appendingPathComponent("\(jobID).csv") }

    /// Writes an upload, chunk by chunk, refusing more than `ImportLimits.maxBytes`.
    final class Writer {
        let path: String
        private let descriptor: Int32
        private(set) var size: Int64 = 0
        let maxBytes: Int64

        init(path: String, maxBytes: Int64 = ImportLimits.maxBytes) throws {
            self.path = path
            self.maxBytes = maxBytes
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard descriptor >= 0 else {
                throw ServiceFailure(.internalError, "storage_error", "cannot create the import file")
            }
        }

        func write(_ bytes: [UInt8]) throws {
            size += Int64(bytes.count)
            guard size <= maxBytes else {
                throw ServiceFailure(
                    .invalidArgument, "payload_too_large", "an import file may be at most 100 MB", field: "file")
            }
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    guard written > 0 else {
                        throw ServiceFailure(.internalError, "storage_error", "cannot write the import file")
                    }
                    offset += written
                }
            }
        }

        func close() throws {
            guard fsync(descriptor) == 0, Glibc.close(descriptor) == 0 else {
                throw ServiceFailure(.internalError, "storage_error", "cannot save the import file")
            }
        }

        func discard() {
            _ = Glibc.close(descriptor)
            unlink(path)
        }
    }

    /// Reads the whole file once: headers, the first rows, the row count and a suggested mapping. Refuses a file
    /// whose header row is over `ImportLimits.maxHeaderBytes` or `maxColumns`, or with any cell over `maxCellBytes`;
    /// preview cells are cut to `previewCellCharacters`, so a job's stored document stays small.
    static func preview(path: String, maxRows: Int64 = ImportLimits.maxRows) throws
        -> (preview: ImportPreview, rows: Int64)
    {
        var reader = try CSVFileReader(path: path, maxFieldBytes: ImportLimits.maxCellBytes)
        guard let header = try reader.next() else {
            throw ServiceFailure.invalid("empty_file", "the file has no header row", field: "file")
        }
        guard header.endOffset <= UInt64(ImportLimits.maxHeaderBytes), header.issue != .cellTooLarge else {
            throw ServiceFailure.invalid(
                "header_too_large", "the header row may be at most \(ImportLimits.maxHeaderBytes) bytes", field: "file")
        }
        guard header.fields.count <= ImportLimits.maxColumns else {
            throw ServiceFailure.invalid(
                "too_many_columns", "the file may have at most \(ImportLimits.maxColumns) columns", field: "file")
        }
        let headers = header.fields.map { $0.trimmed }
        guard headers.contains(where: { !$0.isEmpty }) else {
            throw ServiceFailure.invalid("empty_file", "the header row is empty", field: "file")
        }
        var rows: [[String]] = []
        var count: Int64 = 0
        while let record = try reader.next() {
            count += 1
            guard count <= maxRows else {
                throw ServiceFailure.invalid(
                    "too_many_rows", "an import file may have at most \(maxRows) rows", field: "file")
            }
            if record.issue == .cellTooLarge { throw cellTooLarge(row: count, field: record.issueField, headers) }
            if rows.count < ImportLimits.previewRows {
                let cells = record.fields.prefix(headers.count)
                rows.append(cells.map { String($0.prefix(ImportLimits.previewCellCharacters)) })
            }
        }
        let suggested = ImportField.suggest(headers: headers).enumerated().map { index, field in
            ImportColumn(index: index, header: headers[index], field: field.string)
        }
        return (ImportPreview(headers: headers, rows: rows, suggestedMapping: suggested), count)
    }

    /// `row` counts data rows from 1, as the error report does; `column` is the header (or "column N").
    static func cellTooLarge(row: Int64, field: Int?, _ headers: [String]) -> ServiceFailure {
        let index = field ?? 0
        let named = index < headers.count && !headers[index].isEmpty
        let column = named ? String(headers[index].prefix(64)) : "column \(index + 1)"
        return ServiceFailure(
            .invalidArgument, "cell_too_large",
            "row \(row), column '\(column)': a cell may be at most \(ImportLimits.maxCellBytes) bytes", field: "file",
            details: ["row": String(row), "column": column])
    }
}
