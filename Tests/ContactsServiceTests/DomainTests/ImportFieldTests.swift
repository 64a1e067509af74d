import Testing

@testable import ContactsService
import ContactsKit

@Suite("Import field mapping")
struct ImportFieldTests {
    @Test(
        "wire names round-trip",
        arguments: [
            ("phone", ImportField.phone),
            ("name", .name),
            ("email", .email),
            ("tags", .tags),
            ("optedIn", .optedIn),
            ("whatsappUserId", .whatsappUserId),
            ("ignore", .ignore),
            ("attribute:city", .attribute("city")),
            ("attribute:Date_of-birth.v2", .attribute("Date_of-birth.v2")),
            ("attribute:" + String(repeating: "k", count: 64), .attribute(String(repeating: "k", count: 64))),
        ]
    )
    func wireNames(wire: String, field: ImportField) {
        #expect(ImportField(wire) == field)
        #expect(field.string == wire)
    }

    @Test(
        "rejects unknown names and invalid or reserved attribute keys",
        arguments: [
            "",
            "Phone",
            "opted_in",
            "whatsappUserID",
            "unknown",
            "attribute:",
            "attribute",
            "attribute:ctwa",
            "attribute:CTWA",
            "attribute:has space",
            "attribute:a/b",
            "attribute:ünï",
            "attribute:" + String(repeating: "k", count: 65),
        ]
    )
    func invalidWireNames(wire: String) {
        #expect(ImportField(wire) == nil)
    }

    @Test(
        "suggests a mapping from the header row",
        arguments: [
            (
                ["phone", "name", "email", "tags", "optedIn"],
                [ImportField.phone, .name, .email, .tags, .optedIn]
            ),
            (
                ["Phone Number", "Full Name", "E-mail", "Labels", "Opt-In", "WA User ID"],
                [.phone, .name, .email, .tags, .optedIn, .whatsappUserId]
            ),
            (
                ["MSISDN", "customer_name", "Email.Address", "segments", "Marketing Consent", "bsuid"],
                [.phone, .name, .email, .tags, .optedIn, .whatsappUserId]
            ),
            (
                ["Mobile", "WhatsApp", "City", "Contact Name", "Name"],
                [.phone, .attribute("whatsapp"), .attribute("city"), .name, .attribute("name")]
            ),
            (
                ["tel", "cell", "user_id", "subscribed", "mail", "tag", "label"],
                [.phone, .attribute("cell"), .whatsappUserId, .optedIn, .email, .tags, .attribute("label")]
            ),
            (
                ["", "  ", "--", "ctwa", "CTWA", "Date of Birth", "  Lifetime Value ($) "],
                [
                    .ignore, .ignore, .ignore, .ignore, .ignore, .attribute("date_of_birth"),
                    .attribute("lifetime_value"),
                ]
            ),
            (["Straße", "#1 Customer?"], [.attribute("stra_e"), .attribute("1_customer")]),
            ([], []),
        ] as [([String], [ImportField])]
    )
    func suggest(headers: [String], expected: [ImportField]) {
        #expect(ImportField.suggest(headers: headers) == expected)
    }

    @Test("suggested attribute keys are always valid wire names")
    func suggestedKeysAreValid() {
        let long = String(repeating: "ab ", count: 40)
        let suggested = ImportField.suggest(headers: [long, "Date of Birth", "x.y-z", "Straße"])
        for field in suggested {
            #expect(ImportField(field.string) == field)
        }
        guard case .attribute(let key) = suggested[0] else {
            Issue.record("expected an attribute, got \(suggested[0])")
            return
        }
        #expect(key.count <= 64)
        #expect(!key.hasSuffix("_"))
    }

    @Test(
        "reads yes/no cells",
        arguments: [
            ("true", true), ("TRUE", true), (" yes ", true), ("Y", true), ("1", true),
            ("false", false), ("False", false), ("no", false), ("n", false), ("0", false), ("\tNO\n", false),
        ]
    )
    func bool(cell: String, expected: Bool) {
        #expect(CSVBool.parse(cell) == expected)
    }

    @Test("empty and unrecognised yes/no cells are nil", arguments: ["", "  ", "maybe", "2", "on", "t", "yess", "-1"])
    func boolNil(cell: String) {
        #expect(CSVBool.parse(cell) == nil)
    }
}
