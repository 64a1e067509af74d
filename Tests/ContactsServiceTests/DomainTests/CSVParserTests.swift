import Foundation
import Testing

@testable import ContactsService
import ContactsKit

/// Parses `bytes` fed as the given consecutive chunks.
private func parse(_ bytes: [UInt8], chunks: [Range<Int>]? = nil, startingAt offset: UInt64 = 0) -> [CSVRecord] {
    var parser = CSVParser(startingAt: offset)
    var records: [CSVRecord] = []
    bytes.withUnsafeBytes { all in
        for range in chunks ?? [0..<all.count] {
            parser.feed(UnsafeRawBufferPointer(rebasing: all[range]), into: &records)
        }
    }
    parser.finish(into: &records)
    return records
}

private func parse(_ text: String) -> [CSVRecord] {
    parse(Array(text.utf8))
}

/// An input exercising every parser path at once: BOM, all line endings, quotes, blank lines, no final newline.
private let mixedInput: [UInt8] =
    [0xEF, 0xBB, 0xBF]
    + Array("phone,name,tags\r\n+1,\"Doe, John\",\"vip,retail\"\n\n+2,\"say \"\"hi\"\"\",\r".utf8)
    + Array("\r\n+3,\"multi\r\nline\nvalue\",a\"b\r\n,,\n".utf8) + [0x61, 0xFF, 0x2C, 0xE2, 0x82, 0xAC]
    + Array("\n\"é\",日本".utf8)

@Suite("CSV parser")
struct CSVParserTests {
    @Test("parses the product's sample import file")
    func productSample() {
        let sample = """
            phone,name,email,tags,optedIn
            +919876543210,John Doe,john@example.com,"vip,retail",true
            +12125551234,Jane Smith,,lead,false

            """
        let records = parse(sample)
        #expect(
            records.map(\.fields) == [
                ["phone", "name", "email", "tags", "optedIn"],
                ["+919876543210", "John Doe", "john@example.com", "vip,retail", "true"],
                ["+12125551234", "Jane Smith", "", "lead", "false"],
            ])
        #expect(records.map(\.endOffset) == [30, 88, 124])
        #expect(records.last?.endOffset == UInt64(sample.utf8.count))
        #expect(records.allSatisfy { $0.issue == nil })
    }

    @Test(
        "RFC 4180 edge cases",
        arguments: [
            ("a,b\r\nc,d\r\n", [["a", "b"], ["c", "d"]]),
            ("a,b\nc,d\n", [["a", "b"], ["c", "d"]]),
            ("a,b\rc,d\r", [["a", "b"], ["c", "d"]]),
            ("a,b\nc,d", [["a", "b"], ["c", "d"]]),
            ("a\r\nb\nc\rd", [["a"], ["b"], ["c"], ["d"]]),
            ("\"x,y\",z\n", [["x,y", "z"]]),
            ("\"say \"\"hi\"\"\"\n", [["say \"hi\""]]),
            ("\"line1\nline2\",b\n", [["line1\nline2", "b"]]),
            ("\"line1\r\nline2\rline3\"\r\n", [["line1\r\nline2\rline3"]]),
            (",,\n", [["", "", ""]]),
            ("a,\n", [["a", ""]]),
            ("a,", [["a", ""]]),
            (",a", [["", "a"]]),
            ("\"\"\n", [[""]]),
            ("\"\",\"\"", [["", ""]]),
            ("a\n\n\nb\n", [["a"], ["b"]]),
            ("\r\n\r\na\r\n\r\n", [["a"]]),
            ("\r\r\n\n", []),
            ("ab\"c,d\"\n", [["ab\"c", "d\""]]),
            ("\"a\"b,c\n", [["ab", "c"]]),
            (" a , b \n", [[" a ", " b "]]),
            (" \n", [[" "]]),
            ("\u{FEFF}a,b\n", [["a", "b"]]),
            ("é,日本,🔥\n", [["é", "日本", "🔥"]]),
            ("", []),
            ("\n", []),
            ("\u{FEFF}", []),
        ] as [(String, [[String]])]
    )
    func edgeCases(input: String, expected: [[String]]) {
        let records = parse(input)
        #expect(records.map(\.fields) == expected)
        #expect(records.allSatisfy { $0.issue == nil })
    }

    @Test("end offsets count every byte: BOM, both bytes of CRLF, blank lines and a missing final newline")
    func offsets() {
        #expect(parse("a,b\r\nc\n\nd\re").map(\.endOffset) == [5, 7, 10, 11])
        #expect(parse("\u{FEFF}a\nb\n").map(\.endOffset) == [5, 7])
        #expect(parse("a\r\r\nb").map(\.endOffset) == [2, 5])
        #expect(parse("\"x\ny\"\r\n").map(\.endOffset) == [7])
    }

    @Test("only a BOM at the very start of the stream is skipped")
    func bomOnlyAtStart() {
        let doubleBOM: [UInt8] = [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, 0x61, 0x0A]
        #expect(parse(doubleBOM).map(\.fields) == [["\u{FEFF}a"]])
        #expect(parse(Array("x\n\u{FEFF}y\n".utf8)).map(\.fields) == [["x"], ["\u{FEFF}y"]])
        // A resumed parser is mid-file: the same bytes are data, not a BOM.
        let resumed = parse([0xEF, 0xBB, 0xBF, 0x61, 0x0A], startingAt: 10)
        #expect(resumed.map(\.fields) == [["\u{FEFF}a"]])
        #expect(resumed.map(\.endOffset) == [15])
    }

    @Test("the start of a BOM followed by something else is data")
    func partialBOM() {
        let records = parse([0xEF, 0xBB, 0x61, 0x2C, 0x62, 0x0A])
        #expect(records.map(\.fields) == [["\u{FFFD}a", "b"]])
        #expect(records.first?.issue == .invalidUTF8)
        #expect(records.first?.endOffset == 6)
        let truncated = parse([0xEF, 0xBB])
        #expect(truncated.count == 1)
        #expect(truncated.first?.issue == .invalidUTF8)
        #expect(truncated.first?.endOffset == 2)
    }

    @Test("an unterminated quote yields a last record flagged as such")
    func unterminatedQuote() {
        let records = parse("x,y\na,\"bc\nd")
        #expect(records.map(\.fields) == [["x", "y"], ["a", "bc\nd"]])
        #expect(records.map(\.issue) == [nil, .unterminatedQuote])
        #expect(records.map(\.endOffset) == [4, 11])
        #expect(parse("\"").map(\.issue) == [.unterminatedQuote])
        // A closing quote at the very end of the file is not unterminated.
        #expect(parse("a,\"b\"").map(\.issue) == [nil])
    }

    @Test("invalid UTF-8 is replaced and flagged on its own record only")
    func invalidUTF8() {
        let bytes = Array("ok\n".utf8) + [0x61, 0xFF, 0x62] + Array(",c\nfine\n".utf8) + [0xE2, 0x82]
        let records = parse(bytes)
        #expect(records.map(\.fields) == [["ok"], ["a\u{FFFD}b", "c"], ["fine"], ["\u{FFFD}"]])
        #expect(records.map(\.issue) == [nil, .invalidUTF8, nil, .invalidUTF8])
        #expect(records.map(\.endOffset) == [3, 9, 14, 16])
    }

    @Test("a U+FFFD written in the file is not an encoding error")
    func literalReplacementCharacter() {
        #expect(parse("a\u{FFFD}b\n").map(\.issue) == [nil])
    }

    @Test("splitting the input at any byte gives the same records and offsets")
    func everySplitPoint() {
        let whole = parse(mixedInput)
        #expect(whole.count == 7)
        #expect(whole.map(\.issue) == [nil, nil, nil, nil, nil, .invalidUTF8, nil])
        #expect(whole[0].fields == ["phone", "name", "tags"])
        #expect(whole[3].fields == ["+3", "multi\r\nline\nvalue", "a\"b"])
        #expect(whole.last?.endOffset == UInt64(mixedInput.count))
        #expect(whole.last?.fields == ["é", "日本"])
        for split in 0...mixedInput.count {
            let records = parse(mixedInput, chunks: [0..<split, split..<mixedInput.count])
            #expect(records == whole, "split at byte \(split)")
        }
        let byteByByte = parse(mixedInput, chunks: (0..<mixedInput.count).map { $0..<($0 + 1) })
        #expect(byteByByte == whole)
        let withEmptyChunks = parse(
            mixedInput, chunks: [0..<0, 0..<1, 1..<1, 1..<mixedInput.count, mixedInput.count..<mixedInput.count])
        #expect(withEmptyChunks == whole)
    }

    @Test("every split of every edge case agrees with parsing it whole")
    func everySplitOfSmallInputs() {
        let inputs = ["a\r\nb", "\"a\"\"\"\r\n\r\n", "\u{FEFF}\"x\r\"\r", "\r\r\n\r", "a,\"b\nc", "é\r\n日"]
        for input in inputs {
            let bytes = Array(input.utf8)
            let whole = parse(bytes)
            for split in 0...bytes.count {
                #expect(
                    parse(bytes, chunks: [0..<split, split..<bytes.count]) == whole,
                    "\(input.debugDescription) @\(split)")
            }
        }
    }

    @Test("resuming at a record's end offset yields exactly the remaining records")
    func resume() {
        let whole = parse(mixedInput)
        for (index, record) in whole.enumerated() {
            let rest = Array(mixedInput[Int(record.endOffset)...])
            let resumed = parse(rest, startingAt: record.endOffset)
            #expect(resumed == Array(whole[(index + 1)...]), "resume after record \(index)")
        }
    }
}

@Suite("CSV file reader")
struct CSVFileReaderTests {
    private static func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-reader-\(UUID().uuidString).csv")
        try Data(bytes).write(to: url)
        return url.path
    }

    private static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func readAll(_ path: String, startOffset: UInt64 = 0, chunkSize: Int) throws -> [CSVRecord] {
        var reader = try CSVFileReader(path: path, startOffset: startOffset, chunkSize: chunkSize)
        var records: [CSVRecord] = []
        while let record = try reader.next() { records.append(record) }
        #expect(try reader.next() == nil)
        return records
    }

    @Test("reads 100k rows across chunk boundaries and resumes mid-file")
    func largeFile() throws {
        var text = "phone,name,email,tags,optedIn\n"
        for n in 0..<100_000 {
            text += "+1555\(1_000_000 + n),\"Name \(n)\",n\(n)@example.com,\"vip,retail\",\(n % 2 == 0)\r\n"
        }
        let bytes = Array(text.utf8)
        let path = try Self.temporaryFile(bytes)
        defer { Self.remove(path) }

        let records = try Self.readAll(path, chunkSize: 4099)
        #expect(records.count == 100_001)
        #expect(records[1].fields == ["+15551000000", "Name 0", "n0@example.com", "vip,retail", "true"])
        #expect(records[100_000].fields == ["+15551099999", "Name 99999", "n99999@example.com", "vip,retail", "false"])
        #expect(records.last?.endOffset == UInt64(bytes.count))
        #expect(records.allSatisfy { $0.issue == nil && $0.fields.count == 5 })

        let resumeAt = records[50_000].endOffset
        let rest = try Self.readAll(path, startOffset: resumeAt, chunkSize: 1 << 16)
        #expect(rest.count == 50_000)
        #expect(rest.first?.fields.first == "+15551050000")
        #expect(rest == Array(records[50_001...]))
    }

    @Test("file reading agrees with in-memory parsing for tiny chunks", arguments: [1, 2, 3, 7, 64, 1 << 20])
    func tinyChunks(chunkSize: Int) throws {
        let path = try Self.temporaryFile(mixedInput)
        defer { Self.remove(path) }
        #expect(try Self.readAll(path, chunkSize: chunkSize) == parse(mixedInput))
    }

    @Test("an empty file has no records")
    func emptyFile() throws {
        let path = try Self.temporaryFile([])
        defer { Self.remove(path) }
        #expect(try Self.readAll(path, chunkSize: 16).isEmpty)
    }

    @Test("a missing file throws an error naming it")
    func missingFile() {
        #expect {
            _ = try CSVFileReader(path: "/nonexistent/contacts.csv")
        } throws: { error in
            guard let error = error as? CSVFileError else { return false }
            return error.path == "/nonexistent/contacts.csv" && error.operation == "open"
                && error.description.contains("/nonexistent/contacts.csv")
        }
    }

    @Test("a field over maxFieldBytes is cut there and its record says which field, across chunks and quotes")
    func oversizedFieldsAreCutAndReported() {
        let text = "a,b,c\nshort,\"" + String(repeating: "x\"\"", count: 10) + "\",ok\nfine,\(String(repeating: "y", count: 9))\n"
        let bytes = Array(text.utf8)
        for chunkSize in [1, 3, 1000] {
            var parser = CSVParser(startingAt: 0, maxFieldBytes: 8)
            var records: [CSVRecord] = []
            bytes.withUnsafeBytes { all in
                for start in stride(from: 0, to: all.count, by: chunkSize) {
                    parser.feed(UnsafeRawBufferPointer(rebasing: all[start..<min(start + chunkSize, all.count)]), into: &records)
                }
            }
            parser.finish(into: &records)
            #expect(records.map(\.issue) == [nil, .cellTooLarge, .cellTooLarge])
            #expect(records.map(\.issueField) == [nil, 1, 1])
            #expect(records[1].fields == ["short", "x\"x\"x\"x\"", "ok"])
            #expect(records[2].fields == ["fine", "yyyyyyyy"])
        }
    }
}
