import Testing

@testable import ContactsService

@Suite("E.164 phone normalisation")
struct PhoneTests {
    @Test(
        "accepts the ways people write numbers",
        arguments: [
            ("+442079460958", "+442079460958"),
            ("0044 20 7946 0958", "+442079460958"),
            ("00 1 212 555 1234", "+12125551234"),
            ("+1 (212) 555-1234", "+12125551234"),
            ("+1.212.555.1234", "+12125551234"),
            ("  +91 98765 43210 \n", "+919876543210"),
            ("\t+919876543210\r\n", "+919876543210"),
            ("+44\u{00A0}20\u{00A0}7946\u{00A0}0958", "+442079460958"),
            ("(+44) 20 7946 0958", "+442079460958"),
            ("+12", "+12"),
            ("+123456789012345", "+123456789012345"),
            ("00123456789012345", "+123456789012345"),
        ]
    )
    func valid(raw: String, expected: String) {
        #expect(E164(normalizing: raw)?.value == expected)
    }

    @Test(
        "rejects what is not E.164",
        arguments: [
            "",
            "   ",
            "+",
            "00",
            "+0123",
            "0123",
            "+1",
            "+1234567890123456",
            "001234567890123456",
            "2125551234",
            "1+2125551234",
            "+1+2125551234",
            "++12125551234",
            "+1 212 CALL NOW",
            "+1-800-FLOWERS",
            "+44 20 7946 0958 ext 12",
            "+1\t212 555 1234",
            "+1_212_555_1234",
            "+1/212/555/1234",
            "+٩١٩٨٧٦٥٤٣٢١٠",
            "+９１９８７６５４３２１０",
            "+91９８７６５43210",
            "000441234",
        ]
    )
    func invalid(raw: String) {
        #expect(E164(normalizing: raw) == nil)
    }

    @Test("different spellings of one number are the same value")
    func spellingsAreEqual() throws {
        let a = try #require(E164(normalizing: "+1 (212) 555-1234"))
        let b = try #require(E164(normalizing: "0012125551234"))
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(a.description == "+12125551234")
    }
}
