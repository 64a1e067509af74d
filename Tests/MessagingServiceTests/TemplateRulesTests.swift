import MessagingKit
import Foundation
import ServiceKit
import Testing

@testable import MessagingService

/// Template registrations: names, languages, categories, and the parameters each component declares.
@Suite("Message templates")
struct TemplateRulesTests {
    func check(_ components: String, name: String = "order_update", language: String = "en_US")
        throws(ServiceFailure) -> TemplateRules.Checked
    {
        try TemplateRules.check(name: name, language: language, category: "", status: "", componentsJSON: components)
    }

    @Test func aQuickReplyButtonCanBeTheOptOutButton() throws {
        let checked = try check(
            #"[{"type":"BODY","text":"Big sale"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Shop"},"#
                + #"{"type":"QUICK_REPLY","text":"Stop promotions","optOut":true},"#
                + #"{"type":"QUICK_REPLY","text":"Cancel","optOut":false}]}]"#)
        #expect(TemplateRules.optOutButtons(componentsJSON: checked.componentsJSON) == ["Stop promotions"])
        #expect(TemplateRules.optOutButtons(componentsJSON: #"[{"type":"BODY","text":"x"}]"#) == [])
    }

    @Test(arguments: [
        #"{"type":"URL","text":"Track","url":"https://x.test","optOut":true}"#,
        #"{"type":"QUICK_REPLY","optOut":true}"#,
        #"{"type":"QUICK_REPLY","text":"","optOut":true}"#,
        #"{"type":"QUICK_REPLY","text":"Stop","optOut":1}"#,
        #"{"type":"QUICK_REPLY","text":"Stop","optOut":"true"}"#,
    ])
    func anOptOutFlagOnlyOnAQuickReplyButtonAsABoolean(_ button: String) {
        #expect(throws: ServiceFailure.self) {
            try check(#"[{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":["# + button + "]}]")
        }
    }

    @Test func countsParametersPerComponent() throws {
        let checked = try check(
            #"[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},{"type":"BODY","text":"Hi {{1}}, {{2}} ships {{3}}"},"#
                + #"{"type":"FOOTER","text":"Acme"},{"type":"BUTTONS","buttons":[{"type":"URL","url":"https://x.test/{{1}}"},"#
                + #"{"type":"QUICK_REPLY","text":"Stop"}]}]"#)
        #expect(checked.header == 1 && checked.body == 3 && checked.buttons == [1, 0])
        #expect(checked.category == "UTILITY" && checked.status == "APPROVED")
    }

    @Test(arguments: [
        (#"[{"type":"BODY","text":"Hi {{2}}"}]"#, "a gap"),
        (#"[{"type":"BODY","text":"Hi {{name}}"}]"#, "a named parameter"),
        (#"[{"type":"HEADER","text":"x"}]"#, "no body"),
        (#"[{"type":"BODY"}]"#, "a body without text"),
        (#"[{"type":"SIDEBAR","text":"x"},{"type":"BODY","text":"x"}]"#, "an unknown component"),
        (#"[]"#, "no components"),
        (#"{"type":"BODY"}"#, "not an array"),
    ])
    func refusesBadComponents(components: String, _ why: String) {
        #expect(throws: ServiceFailure.self, "\(why)") { try check(components) }
    }

    @Test(arguments: [("Order_Update", "en_US"), ("order update", "en_US"), ("order_update", "english"), ("", "en")])
    func refusesBadNamesAndLanguages(name: String, language: String) {
        #expect(throws: ServiceFailure.self) { try check(#"[{"type":"BODY","text":"x"}]"#, name: name, language: language) }
    }

    @Test func storeScopesTemplatesToTheOrgsWhatsAppChannel() async throws {
        let store = try MessagingStore.inMemory()
        let wa = try await store.createChannel(orgID: "org-a", kind: .whatsappCloud, settings: [.phoneNumberID: "77"])
        let sms = try await store.createChannel(orgID: "org-a", kind: .twilioSMS, settings: [.accountSID: "AC1"])
        let body = #"[{"type":"BODY","text":"Hi {{1}}"}]"#
        let created = try await store.createTemplate(
            orgID: "org-a", channelID: wa.id, name: "hello", language: "en", category: "marketing", status: "",
            componentsJSON: body)
        #expect(created.bodyParameters == 1 && created.category == "MARKETING")
        await #expect(throws: ServiceFailure.self) {
            _ = try await store.createTemplate(
                orgID: "org-a", channelID: wa.id, name: "hello", language: "en", category: "", status: "",
                componentsJSON: body)
        }
        await #expect(throws: ServiceFailure.self) {
            _ = try await store.createTemplate(
                orgID: "org-a", channelID: sms.id, name: "hello", language: "en", category: "", status: "",
                componentsJSON: body)
        }
        await #expect(throws: ServiceFailure.self) { _ = try await store.templates(orgID: "org-b", channelID: wa.id) }
        #expect(try await store.templates(orgID: "org-a", channelID: wa.id).map(\.name) == ["hello"])
        try await store.deleteTemplate(orgID: "org-a", channelID: wa.id, id: created.id)
        #expect(try await store.templates(orgID: "org-a", channelID: wa.id).isEmpty)
    }
}
