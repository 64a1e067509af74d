import ContactsKit
import Testing

@Suite("Trimming")
struct TrimmingTests {
    @Test(arguments: [
        ("plain", "plain"), ("  padded\t", "padded"), ("\r\n line \n", "line"), ("", ""), ("   ", ""),
        ("\u{00A0}nbsp\u{2003}", "nbsp"), ("inner  space", "inner  space"), (" é ", "é"), ("x", "x"),
    ])
    func trimsUnicodeWhitespaceAtBothEnds(raw: String, expected: String) {
        #expect(raw.trimmed == expected)
        #expect(Substring(raw).trimmed == expected)
    }
}
