#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One record (row) of a CSV file, with where it ends so an import can resume after it.
public struct CSVRecord: Sendable, Equatable {
    /// The record's fields, decoded as UTF-8 (invalid sequences become U+FFFD and set ``issue``).
    public var fields: [String]
    /// Byte offset just after this record's line ending (or the end of the file), relative to the file start.
    public var endOffset: UInt64
    /// A problem found while reading this record; its fields are still the parser's best reading.
    public var issue: CSVIssue?
    /// The 0-based field the issue is in, when it is about one field (``CSVIssue/cellTooLarge``).
    public var issueField: Int?

    public init(fields: [String], endOffset: UInt64, issue: CSVIssue? = nil, issueField: Int? = nil) {
        self.fields = fields
        self.endOffset = endOffset
        self.issue = issue
        self.issueField = issueField
    }
}

/// What can be wrong with a single CSV record, named as it is reported in import error files.
public enum CSVIssue: String, Sendable {
    /// The file ended inside a quoted field.
    case unterminatedQuote = "unterminated_quote"
    /// The record contains bytes that are not valid UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// A field is longer than the parser's `maxFieldBytes`; the parser kept only its first `maxFieldBytes`.
    case cellTooLarge = "cell_too_large"
}

/// An incremental RFC 4180 parser over raw bytes.
///
/// Feed it chunks in order; a record may span any number of chunks. Records end at CRLF, LF or a lone CR;
/// quoted fields may hold commas, line breaks and `""` escapes; a quote inside an unquoted field is kept as is.
/// Blank lines produce no record. A field longer than `maxFieldBytes` is cut there (memory stays bounded) and its
/// record reports ``CSVIssue/cellTooLarge``. A UTF-8 byte order mark at the very start of the stream is skipped. Every
/// byte, skipped or not, counts towards ``CSVRecord/endOffset``, so `CSVParser(startingAt: record.endOffset)`
/// fed from that file position continues exactly where the record left off.
public struct CSVParser: Sendable {
    private enum State: Sendable {
        case fieldStart, unquoted, quoted, quoteInQuoted, afterCR
    }

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    private var state = State.fieldStart
    /// Bytes consumed so far, counted from the start of the file.
    private var offset: UInt64
    private var checkingBOM: Bool
    private var bomMatched = 0
    private var field: [UInt8] = []
    private var fields: [String] = []
    private var fieldsPerRecord = 0
    private var recordHasInvalidUTF8 = false
    private let maxFieldBytes: Int
    /// The first field of the current record that went over `maxFieldBytes`.
    private var oversizedField: Int?
    /// A record ended by CR, held back until the next byte shows whether an LF belongs to its line ending.
    private var pending: CSVRecord?

    public init() {
        self.init(startingAt: 0)
    }

    /// A parser that treats `offset` bytes of the file as already consumed; a BOM is only skipped at offset 0.
    public init(startingAt offset: UInt64, maxFieldBytes: Int = .max) {
        self.offset = offset
        self.maxFieldBytes = maxFieldBytes
        self.checkingBOM = offset == 0
        field.reserveCapacity(256)
    }

    /// Parses `bytes`, appending every record completed by them to `records`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into records: inout [CSVRecord]) {
        let count = bytes.count
        guard count > 0 else { return }
        let base = offset
        offset += UInt64(count)
        var i = 0
        if checkingBOM {
            while i < count, bomMatched < 3, bytes[i] == Self.bom[bomMatched] {
                bomMatched += 1
                i += 1
            }
            if bomMatched == 3 {
                checkingBOM = false
            } else if i < count {
                replayPartialBOM()
            } else {
                return
            }
        }

        let comma = UInt8(ascii: ",")
        let quote = UInt8(ascii: "\"")
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        while i < count {
            switch state {
            case .unquoted:
                let start = i
                while i < count {
                    let byte = bytes[i]
                    if byte == comma || byte == cr || byte == lf { break }
                    i += 1
                }
                if i > start { append(UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
                guard i < count else { break }
                let byte = bytes[i]
                i += 1
                endField()
                if byte == comma {
                    state = .fieldStart
                } else {
                    endRecord(endOffset: base + UInt64(i), byCR: byte == cr, into: &records)
                }
            case .fieldStart:
                let byte = bytes[i]
                if byte == quote {
                    state = .quoted
                    i += 1
                } else if byte == comma {
                    endField()
                    i += 1
                } else if byte == cr || byte == lf {
                    i += 1
                    if fields.isEmpty {
                        // A blank line: no record, but a CR may still be followed by its LF.
                        state = byte == cr ? .afterCR : .fieldStart
                    } else {
                        endField()
                        endRecord(endOffset: base + UInt64(i), byCR: byte == cr, into: &records)
                    }
                } else {
                    state = .unquoted
                }
            case .quoted:
                let start = i
                while i < count, bytes[i] != quote { i += 1 }
                if i > start { append(UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
                if i < count {
                    state = .quoteInQuoted
                    i += 1
                }
            case .quoteInQuoted:
                let byte = bytes[i]
                if byte == quote {
                    if field.count < maxFieldBytes {
                        field.append(quote)
                    } else if oversizedField == nil {
                        oversizedField = fields.count
                    }
                    state = .quoted
                    i += 1
                } else if byte == comma {
                    endField()
                    state = .fieldStart
                    i += 1
                } else if byte == cr || byte == lf {
                    i += 1
                    endField()
                    endRecord(endOffset: base + UInt64(i), byCR: byte == cr, into: &records)
                } else {
                    // Text after a closing quote (`"a"b`) is not RFC 4180; keep it rather than lose data.
                    state = .unquoted
                }
            case .afterCR:
                if bytes[i] == lf {
                    i += 1
                    pending?.endOffset = base + UInt64(i)
                }
                if let record = pending {
                    records.append(record)
                    pending = nil
                }
                state = .fieldStart
            }
        }
    }

    /// Ends the stream: emits a last record that had no line ending, or one cut off inside quotes.
    public mutating func finish(into records: inout [CSVRecord]) {
        if checkingBOM { replayPartialBOM() }
        switch state {
        case .afterCR:
            if let record = pending { records.append(record) }
            pending = nil
        case .fieldStart:
            if !fields.isEmpty {
                endField()
                endRecord(endOffset: offset, byCR: false, into: &records)
            }
        case .unquoted, .quoteInQuoted:
            endField()
            endRecord(endOffset: offset, byCR: false, into: &records)
        case .quoted:
            endField()
            recordHasInvalidUTF8 = false
            records.append(CSVRecord(fields: fields, endOffset: offset, issue: .unterminatedQuote))
            fields = []
            oversizedField = nil
        }
        state = .fieldStart
    }

    /// The stream began with part of a BOM and then something else: those bytes are data after all.
    private mutating func replayPartialBOM() {
        checkingBOM = false
        if bomMatched > 0 {
            field.append(contentsOf: Self.bom[..<bomMatched])
            state = .unquoted
        }
    }

    /// Appends one run of a field's bytes, keeping at most `maxFieldBytes` of the field.
    @inline(__always)
    private mutating func append(_ run: UnsafeRawBufferPointer) {
        if field.count + run.count <= maxFieldBytes {
            field.append(contentsOf: run)
        } else {
            if oversizedField == nil { oversizedField = fields.count }
            field.append(contentsOf: run.prefix(max(0, maxFieldBytes - field.count)))
        }
    }

    private mutating func endField() {
        if let text = String(validating: field, as: UTF8.self) {
            fields.append(text)
        } else {
            fields.append(String(decoding: field, as: UTF8.self))
            recordHasInvalidUTF8 = true
        }
        field.removeAll(keepingCapacity: true)
    }

    private mutating func endRecord(endOffset: UInt64, byCR: Bool, into records: inout [CSVRecord]) {
        var record = CSVRecord(fields: fields, endOffset: endOffset, issue: recordHasInvalidUTF8 ? .invalidUTF8 : nil)
        if let oversizedField {
            record.issue = .cellTooLarge
            record.issueField = oversizedField
            self.oversizedField = nil
        }
        fieldsPerRecord = fields.count
        fields = []
        fields.reserveCapacity(fieldsPerRecord)
        recordHasInvalidUTF8 = false
        if byCR {
            pending = record
            state = .afterCR
        } else {
            records.append(record)
            state = .fieldStart
        }
    }
}

/// Reads CSV records from a file in fixed-size chunks, so memory stays bounded whatever the file's size.
///
/// Copies of a reader share the open file; use one copy at a time.
public struct CSVFileReader {
    /// The open file and the chunk buffer, released together when the last reader copy goes away.
    private final class Source {
        let descriptor: Int32
        let buffer: UnsafeMutableRawBufferPointer

        init(descriptor: Int32, chunkSize: Int) {
            self.descriptor = descriptor
            self.buffer = .allocate(byteCount: chunkSize, alignment: 16)
        }

        deinit {
            close(descriptor)
            buffer.deallocate()
        }
    }

    private let source: Source
    private let path: String
    private var parser: CSVParser
    private var batch: [CSVRecord] = []
    private var batchIndex = 0
    private var reachedEnd = false

    /// Opens `path` and positions it at `startOffset`, which should be 0 or a record's ``CSVRecord/endOffset``.
    public init(path: String, startOffset: UInt64 = 0, chunkSize: Int = 1 << 20, maxFieldBytes: Int = .max) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CSVFileError(path: path, operation: "open", code: errno) }
        if startOffset > 0, lseek(descriptor, off_t(clamping: startOffset), SEEK_SET) < 0 {
            let code = errno
            close(descriptor)
            throw CSVFileError(path: path, operation: "seek", code: code)
        }
        self.source = Source(descriptor: descriptor, chunkSize: max(chunkSize, 1))
        self.path = path
        self.parser = CSVParser(startingAt: startOffset, maxFieldBytes: maxFieldBytes)
    }

    /// The next record, or `nil` at the end of the file.
    public mutating func next() throws -> CSVRecord? {
        while true {
            if batchIndex < batch.count {
                batchIndex += 1
                return batch[batchIndex - 1]
            }
            if reachedEnd { return nil }
            batch.removeAll(keepingCapacity: true)
            batchIndex = 0
            let buffer = source.buffer
            let count = read(source.descriptor, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw CSVFileError(path: path, operation: "read", code: errno)
            }
            if count == 0 {
                parser.finish(into: &batch)
                reachedEnd = true
            } else {
                parser.feed(UnsafeRawBufferPointer(rebasing: buffer[..<count]), into: &batch)
            }
        }
    }
}

/// A file could not be opened or read; `code` is the POSIX `errno`.
public struct CSVFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32

    public var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// Writes RFC 4180 CSV, for exports and import error reports.
public enum CSVWriter {
    /// One row: cells joined with commas, quoted when they contain a comma, quote, CR or LF, ended by CRLF.
    public static func row(_ cells: [String]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index > 0 { line.append(",") }
            let needsQuotes = cell.utf8.contains { byte in
                byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\r")
                    || byte == UInt8(ascii: "\n")
            }
            if needsQuotes {
                line.append("\"")
                line.append(cell.replacing("\"", with: "\"\""))
                line.append("\"")
            } else {
                line.append(cell)
            }
        }
        line.append("\r\n")
        return line
    }

    /// Defuses formula injection: a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a
    /// spreadsheet opening the export shows text instead of evaluating it.
    public static func neutralized(_ cell: String) -> String {
        switch cell.unicodeScalars.first {
        case "=", "+", "-", "@", "\t", "\r":
            return "'" + cell
        default:
            return cell
        }
    }
}
