import Testing

@testable import ContactsService
import ContactsKit

@Suite("CSV writer")
struct CSVWriterTests {
    @Test(
        "quotes only cells that need it and ends rows with CRLF",
        arguments: [
            (["a", "b"], "a,b\r\n"),
            (["a,b", "c"], "\"a,b\",c\r\n"),
            (["say \"hi\""], "\"say \"\"hi\"\"\"\r\n"),
            (["line\nbreak"], "\"line\nbreak\"\r\n"),
            (["cr\rhere"], "\"cr\rhere\"\r\n"),
            (["crlf\r\nhere"], "\"crlf\r\nhere\"\r\n"),
            (["", ""], ",\r\n"),
            ([""], "\r\n"),
            ([], "\r\n"),
            (["é", "日本", " padded "], "é,日本, padded \r\n"),
            (["it's"], "it's\r\n"),
        ] as [([String], String)]
    )
    func row(cells: [String], expected: String) {
        #expect(CSVWriter.row(cells) == expected)
    }

    @Test("what the writer writes, the parser reads back")
    func roundTrip() {
        let rows = [
            ["phone", "name", "note"],
            ["+12125551234", "Doe, \"JD\" John", "line1\r\nline2\nline3\rline4"],
            ["", ",", "\"\""],
            ["=cmd()", "🔥", "tail"],
        ]
        var parser = CSVParser()
        var records: [CSVRecord] = []
        let bytes = Array(rows.map(CSVWriter.row).joined().utf8)
        bytes.withUnsafeBytes { parser.feed($0, into: &records) }
        parser.finish(into: &records)
        #expect(records.map(\.fields) == rows)
    }

    @Test(
        "neutralises cells a spreadsheet would run as formulas",
        arguments: [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+12125551234", "'+12125551234"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("a=b", "a=b"),
            (" =1", " =1"),
            ("'quoted", "'quoted"),
            ("John Doe", "John Doe"),
            ("", ""),
        ]
    )
    func neutralized(cell: String, expected: String) {
        #expect(CSVWriter.neutralized(cell) == expected)
    }
}
