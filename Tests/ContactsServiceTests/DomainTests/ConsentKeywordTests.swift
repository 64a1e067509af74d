import Testing

@testable import ContactsService

/// Only what the customer typed is a consent keyword; a tapped button or list row is the business's wording.
@Suite("Consent keywords")
struct ConsentKeywordTests {
    @Test(arguments: [
        ("STOP", InboundTextOrigin.typed, ConsentKeyword.optOut), (" cancel ", .typed, .optOut), ("start", .typed, .optIn),
        ("STOP", .tapped, nil), ("Cancel", .tapped, nil), ("START", .tapped, nil), ("Yes", .tapped, nil),
        ("Stop promotions", .optOutButton, .optOut), ("Cancel", .optOutButton, .optOut), ("hello", .typed, nil),
    ] as [(String, InboundTextOrigin, ConsentKeyword?)])
    func meaning(text: String, origin: InboundTextOrigin, expected: ConsentKeyword?) {
        #expect(ConsentKeyword(text: text, origin: origin) == expected)
    }

    @Test func anOptOutButtonOptsOutEvenWithoutText() {
        #expect(ConsentKeyword(text: nil, origin: .optOutButton) == .optOut)
        #expect(ConsentKeyword(text: nil, origin: .typed) == nil)
    }
}
