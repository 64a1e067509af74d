import Testing

@testable import ContactsService

@Suite("E-mail address normalisation")
struct EmailTests {
    @Test(
        "accepts plausible addresses and lower-cases the domain only",
        arguments: [
            ("john@example.com", "john@example.com"),
            ("  John.Doe+tag@Example.COM \n", "John.Doe+tag@example.com"),
            ("a@b.co", "a@b.co"),
            ("user_name-1@sub.domain-x.example.org", "user_name-1@sub.domain-x.example.org"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("x@xn--bcher-kva.ch", "x@xn--bcher-kva.ch"),
            ("1234@123.example", "1234@123.example"),
            ("!#$%&*/=?^`{|}~@example.com", "!#$%&*/=?^`{|}~@example.com"),
        ]
    )
    func valid(raw: String, expected: String) {
        #expect(EmailAddress.normalize(raw) == expected)
    }

    @Test(
        "rejects malformed addresses",
        arguments: [
            "",
            "   ",
            "plain",
            "@example.com",
            "john@",
            "john@@example.com",
            "john@doe@example.com",
            "john doe@example.com",
            "john(doe)@example.com",
            "john,doe@example.com",
            "john:doe@example.com",
            "john;doe@example.com",
            "<john>@example.com",
            "[john]@example.com",
            "john\\doe@example.com",
            "\"john\"@example.com",
            "jöhn@example.com",
            "john@example",
            "john@example.c",
            "john@example.c0m",
            "john@-example.com",
            "john@example-.com",
            "john@exa_mple.com",
            "john@example..com",
            "john@.example.com",
            "john@example.com.",
            "john@müller.de",
            "john@example .com",
            "john@[192.168.0.1]",
        ]
    )
    func invalid(raw: String) {
        #expect(EmailAddress.normalize(raw) == nil)
    }

    @Test("local part is limited to 64 characters")
    func localPartLength() {
        #expect(EmailAddress.normalize(String(repeating: "a", count: 64) + "@example.com") != nil)
        #expect(EmailAddress.normalize(String(repeating: "a", count: 65) + "@example.com") == nil)
    }

    @Test("domain labels are limited to 63 characters")
    func labelLength() {
        #expect(EmailAddress.normalize("a@" + String(repeating: "b", count: 63) + ".com") != nil)
        #expect(EmailAddress.normalize("a@" + String(repeating: "b", count: 64) + ".com") == nil)
    }

    @Test("the whole address is limited to 254 characters")
    func totalLength() {
        let local = String(repeating: "a", count: 64)
        func domain(_ lastLabel: Int) -> String {
            String(repeating: "b", count: 63) + "." + String(repeating: "c", count: 63) + "."
                + String(repeating: "d", count: lastLabel) + ".com"
        }
        let longest = local + "@" + domain(57)
        #expect(longest.count == 254)
        #expect(EmailAddress.normalize(longest) == longest)
        #expect(EmailAddress.normalize(local + "@" + domain(58)) == nil)
    }
}
