import Foundation
import Testing

@testable import MessagingService

/// The fixtures whose content is too large or too loose for the table: unsupported, contacts, referral, errors.
@Suite("WhatsApp content")
struct WhatsAppContentTests {
    @Test(arguments: [
        (
            "pywa_unsupported.json", "unsupported", 131_051, "Message type unknown",
            "Message type is currently not supported."
        ),
        (
            "courier_wac_error_msg.json", "unsupported", 131_051, "Unsupported message type",
            "Message type is not currently supported"
        ),
        (
            "pywa_interactive_message_with_err.json", "interactive", 131_000, "Something went wrong",
            "Unsupported webhook payload"
        ),
    ])
    func unsupportedKeepsTheErrorsAndTheRawMessage(
        file: String, originalType: String, code: Int, title: String, details: String
    ) throws {
        let message = try onlyMessage(in: file)
        let content = try #require(WebhookFixtures.object(message.contentJSON))
        #expect(Set(content.allKeys.compactMap { $0 as? String }) == ["originalType", "errors", "raw"])
        #expect(content["originalType"] as? String == originalType)
        let errors = try #require(content["errors"] as? [NSDictionary])
        #expect(errors.count == 1)
        #expect((errors.first?["code"] as? NSNumber)?.intValue == code)
        #expect(errors.first?["title"] as? String == title)
        #expect(errors.first?["details"] as? String == details)
        // The raw message is the fixture's message object, value for value.
        let fixture = try #require(WebhookFixtures.json("whatsapp/" + file) as? NSDictionary)
        let value = (((fixture["entry"] as? [NSDictionary])?.first?["changes"] as? [NSDictionary])?.first?["value"])
        let original = try #require(((value as? NSDictionary)?["messages"] as? [NSDictionary])?.first)
        #expect(content["raw"] as? NSDictionary == original)
    }

    @Test func theSystemErrorBesideAMessageIsAlsoANotice() throws {
        let events = try WhatsAppWebhook.parse(WebhookFixtures.data("whatsapp/pywa_interactive_message_with_err.json"))
        #expect(events.count == 2)
        guard case .notice(let text) = events.last?.event else {
            Issue.record("expected a notice after the message")
            return
        }
        #expect(text.contains("131000"))
        #expect(text.contains("Something went wrong"))
    }

    @Test func sharedContactsAreKeptAsSent() throws {
        let message = try onlyMessage(in: "pywa_contacts.json")
        let content = try #require(WebhookFixtures.object(message.contentJSON))
        let cards = try #require(content["contacts"] as? [NSDictionary])
        #expect(cards.count == 3)
        let names = cards.compactMap { ($0["name"] as? NSDictionary)?["formatted_name"] as? String }
        #expect(names == ["Chandler Bing", "Monica", "Rachel Green"])
        let phone = ((cards.first?["phones"] as? [NSDictionary])?.first)?["phone"] as? String
        #expect(phone == "+1 555-555-5555")
    }

    @Test func aClickToWhatsAppAdBecomesAReferral() throws {
        let message = try onlyMessage(in: "pywa_referral.json")
        let expected = AdReferral(
            sourceURL: "AD_OR_POST_FB_URL", sourceID: "ADID", sourceType: "ad or post", headline: "AD_TITLE",
            body: "AD_DESCRIPTION", mediaType: "image or video", imageURL: "RAW_IMAGE_URL", videoURL: "RAW_VIDEO_URL",
            ctwaClid: "CTWA_CLID")
        #expect(message.referral == expected)
        #expect(try onlyMessage(in: "pywa_reply.json").referral == nil)
    }

    @Test func aReactionWithAnEmojiShowsIt() throws {
        let body = #"""
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "messages":[{"from":"44","id":"w2","type":"reaction","reaction":{"message_id":"w1","emoji":"👍"}}]}}]}]}
            """#
        guard case .message(let message) = try WhatsAppWebhook.parse(Data(body.utf8)).first?.event else {
            Issue.record("expected a message")
            return
        }
        #expect(message.text == "👍")
        #expect(message.keywordText == nil)
        #expect(message.contentJSON == #"{"emoji":"👍","messageId":"w1"}"#)
        #expect(message.sentAt == nil)
    }

    @Test func aQuickReplyButtonIsKeywordText() throws {
        let body = #"""
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "messages":[{"from":"44","id":"w3","type":"button","context":{"id":"w0"},
            "button":{"text":"STOP","payload":"opt-out"}}]}}]}]}
            """#
        guard case .message(let message) = try WhatsAppWebhook.parse(Data(body.utf8)).first?.event else {
            Issue.record("expected a message")
            return
        }
        #expect(message.type == "button")
        #expect(message.keywordText == "STOP")
        #expect(message.textOrigin == "tapped")  // the business's wording, not a consent keyword
        #expect(message.replyToProviderID == "w0")
        #expect(message.contentJSON == #"{"payload":"opt-out","text":"STOP"}"#)
    }

    @Test func anImageCaptionIsNotKeywordText() throws {
        let body = #"""
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "messages":[{"from":"44","id":"w4","type":"image","image":{"id":"m1","caption":"STOP"}}]}}]}]}
            """#
        guard case .message(let message) = try WhatsAppWebhook.parse(Data(body.utf8)).first?.event else {
            Issue.record("expected a message")
            return
        }
        #expect(message.text == "STOP")
        #expect(message.keywordText == nil)
    }

    @Test func aTypeThisParserDoesNotKnowIsUnsupported() throws {
        let body = #"""
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "messages":[{"from":"44","id":"w5","type":"order","order":{"catalog_id":"c"}}]}}]}]}
            """#
        guard case .message(let message) = try WhatsAppWebhook.parse(Data(body.utf8)).first?.event else {
            Issue.record("expected a message")
            return
        }
        #expect(message.type == "unsupported")
        let content = try #require(WebhookFixtures.object(message.contentJSON))
        #expect(content["originalType"] as? String == "order")
        #expect(content["errors"] == nil)
        #expect((content["raw"] as? NSDictionary)?["id"] as? String == "w5")
    }
}
