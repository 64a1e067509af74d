import ContactsKit
import Foundation
import Testing

@testable import MessagingService

/// What one WhatsApp fixture holding one message must parse to, read from the file by hand.
struct WhatsAppMessageCase: Sendable, CustomTestStringConvertible {
    var file: String
    var type: String
    var id: String
    var text: String
    var keywordText: String?
    var sender: InboundSender
    var sentAt: TimeInterval
    var replyTo: String? = nil
    var forwarded = false
    /// The exact `contentJSON`, or nil where a dedicated test checks it.
    var content: String?

    var testDescription: String { file }
}

private let pywaSender = InboundSender(
    phone: "+972987654321", whatsappUserID: "US.13491208655302741918", username: nil, profileName: "Test Name")
private let kerry = InboundSender(phone: "+5678", whatsappUserID: nil, username: nil, profileName: "Kerry Fisher")
private let v25Sender = InboundSender(
    phone: "+16315551181", whatsappUserID: "US.13491208655302741918", username: "@testusername",
    profileName: "test user name")

let whatsappMessageCases: [WhatsAppMessageCase] = [
    .init(
        file: "courier_wac_error_msg.json", type: "unsupported", id: "external_id", text: "", keywordText: nil,
        sender: kerry, sentAt: 1_454_119_029, content: nil),
    .init(
        file: "courier_wac_hello.json", type: "text", id: "external_id", text: "Hello World",
        keywordText: "Hello World",
        sender: kerry, sentAt: 1_454_119_029, content: #"{"body":"Hello World"}"#),
    .init(
        file: "courier_wac_hello_from_bsuid_no_phone.json", type: "text", id: "external_id", text: "Hello World",
        keywordText: "Hello World",
        sender: InboundSender(phone: nil, whatsappUserID: "US.1234", username: "kfisher", profileName: "Kerry Fisher"),
        sentAt: 1_454_119_029, content: #"{"body":"Hello World"}"#),
    .init(
        file: "pywa_audio.json", type: "audio", id: "wamid.xyzxyz", text: "", keywordText: nil, sender: pywaSender,
        sentAt: 1_697_043_509, forwarded: true,
        content: #"{"mediaId":"1234567890987654321","mimeType":"audio/ogg; codecs=opus","#
            + #""sha256":"E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA="}"#),
    .init(
        file: "pywa_contacts.json", type: "contacts", id: "wamid.xyzxyz", text: "", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_044_621, content: nil),
    .init(
        file: "pywa_current_location.json", type: "location", id: "wamid.xyzxyz", text: "", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_044_557, forwarded: true,
        content: #"{"latitude":12.25089,"longitude":43.90539}"#),
    .init(
        file: "pywa_document.json", type: "document", id: "wamid.xyzxyz", text: "caption", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_043_666, forwarded: true,
        content: #"{"caption":"caption","filename":"filename.pdf","mediaId":"1234567890987654321","#
            + #""mimeType":"application/pdf","sha256":"grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY="}"#),
    .init(
        file: "pywa_forwarded.json", type: "text", id: "wamid.xyzxyz", text: "forwarded text",
        keywordText: "forwarded text", sender: pywaSender, sentAt: 1_697_044_815, forwarded: true,
        content: #"{"body":"forwarded text"}"#),
    .init(
        file: "pywa_forwarded_many_times.json", type: "text", id: "wamid.xyzxyz", text: "text forwarded many times",
        keywordText: "text forwarded many times", sender: pywaSender, sentAt: 1_697_044_968, forwarded: true,
        content: #"{"body":"text forwarded many times"}"#),
    .init(
        file: "pywa_interactive_button_reply_with_bsuid.json", type: "interactive", id: "wamid.xyzxyz", text: "title",
        keywordText: "title", sender: pywaSender, sentAt: 1_698_266_730, replyTo: "wamid.xyzxyz",
        content: #"{"id":"callback_data","kind":"button_reply","title":"title"}"#),
    .init(
        file: "pywa_interactive_list_reply_with_description.json", type: "interactive", id: "wamid.zyzxyz",
        text: "title", keywordText: "title", sender: pywaSender, sentAt: 1_698_266_905, replyTo: "wamid.xyzxyz",
        content: #"{"description":"description","id":"callback_data","kind":"list_reply","title":"title"}"#),
    .init(
        file: "pywa_interactive_message_with_err.json", type: "unsupported", id: "wamid.wegrchytvwcggt=", text: "",
        keywordText: nil, sender: pywaSender, sentAt: 1_700_505_494, replyTo: "wamid.gvwegfretge==", content: nil),
    .init(
        file: "pywa_media_with_url.json", type: "image", id: "wamid.xyzxyz", text: "", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_043_379,
        content: #"{"mediaId":"65463453","mimeType":"image/jpeg","sha256":"4654+8g=","url":"#
            + #""https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re"#
            + #"&hash=heiwchueowbcew-dnedcw"}"#),
    .init(
        file: "pywa_referral.json", type: "text", id: "wamid.ID", text: "BODY", keywordText: "BODY",
        sender: pywaSender, sentAt: 1_697_045_000, content: #"{"body":"BODY"}"#),
    .init(
        file: "pywa_reply.json", type: "text", id: "wamid.xyzxyz", text: "replied text", keywordText: "replied text",
        sender: pywaSender, sentAt: 1_697_044_746, replyTo: "wamid.xyzxyz==", content: #"{"body":"replied text"}"#),
    .init(
        file: "pywa_static_sticker.json", type: "sticker", id: "wamid.xyzxyz", text: "", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_043_760,
        content: #"{"animated":false,"mediaId":"1234567890987654321","mimeType":"image/webp","#
            + #""sha256":"OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc="}"#),
    .init(
        file: "pywa_unreaction_empty.json", type: "reaction", id: "wamid.xyzxyz", text: "", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_044_456, content: #"{"messageId":"wamid.yzxyzx="}"#),
    .init(
        file: "pywa_unsupported.json", type: "unsupported", id: "wamid.xyzxyz", text: "", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_044_706, content: nil),
    .init(
        file: "pywa_video.json", type: "video", id: "wamid.xyzxyz", text: "caption", keywordText: nil,
        sender: pywaSender, sentAt: 1_697_044_362, forwarded: true,
        content: #"{"caption":"caption","mediaId":"765756756","mimeType":"video/mp4","#
            + #""sha256":"Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc="}"#),
    .init(
        file: "pywa_voice.json", type: "voice", id: "wamid.xyzxyz", text: "", keywordText: nil, sender: pywaSender,
        sentAt: 1_697_043_473,
        content: #"{"mediaId":"1234567890987654321","mimeType":"audio/ogg; codecs=opus","#
            + #""sha256":"m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI="}"#),
    .init(
        file: "waapijs_v25_incoming.json", type: "text", id: "ABGGFlA5Fpa", text: "this is a text message",
        keywordText: "this is a text message", sender: v25Sender, sentAt: 1_504_902_988,
        content: #"{"body":"this is a text message"}"#),
    .init(
        file: "waapijs_v25_incoming_username_only.json", type: "text", id: "ABGGFlA5Fpa",
        text: "this is a text message", keywordText: "this is a text message",
        sender: InboundSender(
            phone: nil, whatsappUserID: "US.13491208655302741918", username: "@testusername",
            profileName: "test user name"),
        sentAt: 1_504_902_988, content: #"{"body":"this is a text message"}"#),
]

/// The message in a one-message fixture, failing the test when there is not exactly one.
func onlyMessage(in file: String) throws -> ParsedMessage {
    let messages = try WhatsAppWebhook.parse(WebhookFixtures.data("whatsapp/" + file)).compactMap { routed in
        if case .message(let message) = routed.event { message } else { nil }
    }
    try #require(messages.count == 1)
    return messages[0]
}

@Suite("WhatsApp fixtures: messages")
struct WhatsAppMessageFixtureTests {
    @Test(arguments: whatsappMessageCases)
    func parsesTheMessage(_ expected: WhatsAppMessageCase) throws {
        let message = try onlyMessage(in: expected.file)
        #expect(message.type == expected.type)
        #expect(message.providerMessageID == expected.id)
        #expect(message.text == expected.text)
        #expect(message.keywordText == expected.keywordText)
        #expect(message.sender == expected.sender)
        #expect(message.sentAt == Date(timeIntervalSince1970: expected.sentAt))
        #expect(message.replyToProviderID == expected.replyTo)
        #expect(message.forwarded == expected.forwarded)
        #expect(message.medium == "whatsapp")
        if let content = expected.content {
            #expect(message.contentJSON == content)
        }
        #expect(WebhookFixtures.object(message.contentJSON) != nil)
    }

    @Test func everyWhatsAppFixtureHasAnExpectation() throws {
        let covered = Set(whatsappMessageCases.map(\.file) + whatsappStatusCases.map(\.file))
        #expect(Set(try WebhookFixtures.names(in: "whatsapp", ending: ".json")) == covered)
    }

    @Test(arguments: [
        ("pywa_", "1122334455667", "972123456789"), ("courier_", "1234567890", "+250 788 123 200"),
        ("waapijs_", "123456123", "16505551111"),
    ])
    func routesByPhoneNumberID(prefix: String, phoneNumberID: String, display: String) throws {
        let files = try WebhookFixtures.names(in: "whatsapp", ending: ".json").filter { $0.hasPrefix(prefix) }
        #expect(!files.isEmpty)
        for file in files {
            let body = try WebhookFixtures.data("whatsapp/" + file)
            #expect(try WhatsAppWebhook.phoneNumberIDs(in: body) == [phoneNumberID])
            for routed in try WhatsAppWebhook.parse(body) {
                #expect(routed.route == .whatsapp(phoneNumberID: phoneNumberID, displayPhoneNumber: display))
            }
        }
    }
}
