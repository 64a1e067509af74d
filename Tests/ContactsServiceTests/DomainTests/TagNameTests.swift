import Testing

@testable import ContactsService
import ContactsKit

@Suite("Tag names")
struct TagNameTests {
    @Test(
        "normalise to trimmed, single-spaced lower case",
        arguments: [
            ("VIP", "vip"),
            ("  vip  ", "vip"),
            ("Big   Spender", "big spender"),
            ("Retail\tCustomer", "retail customer"),
            ("line\nbreak", "line break"),
            ("a \u{00A0} b", "a b"),
            ("ÉTÉ 2024", "été 2024"),
            ("🔥 Hot lead", "🔥 hot lead"),
            ("lead-2024_q1.new", "lead-2024_q1.new"),
            (String(repeating: "A", count: 64), String(repeating: "a", count: 64)),
            (String(repeating: "🔥", count: 64), String(repeating: "🔥", count: 64)),
        ]
    )
    func valid(raw: String, expected: String) {
        #expect(TagName.normalize(raw) == expected)
    }

    @Test(
        "reject empty, over-long, comma or control characters",
        arguments: [
            "",
            "   ",
            "\t\n",
            String(repeating: "a", count: 65),
            String(repeating: "🔥", count: 65),
            "vip,retail",
            ",",
            "bad\u{0007}tag",
            "nul\u{0000}",
            "del\u{007F}",
        ]
    )
    func invalid(raw: String) {
        #expect(TagName.normalize(raw) == nil)
    }

    @Test(
        "split a CSV cell into raw parts",
        arguments: [
            ("vip, retail", ["vip", "retail"]),
            ("vip,retail", ["vip", "retail"]),
            ("VIP", ["VIP"]),
            ("Big Spender ,  lead", ["Big Spender", "lead"]),
            (" , ,vip,, ", ["vip"]),
            ("", []),
            ("   ", []),
            (",,,", []),
        ]
    )
    func splitCell(cell: String, expected: [String]) {
        #expect(TagName.splitCell(cell) == expected)
    }

    @Test("a split cell normalises to the tags a user expects")
    func splitThenNormalize() {
        let tags = TagName.splitCell(" VIP ,  Big  Spender,vip").compactMap(TagName.normalize)
        #expect(tags == ["vip", "big spender", "vip"])
    }
}
