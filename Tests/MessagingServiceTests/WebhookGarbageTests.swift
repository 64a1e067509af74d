import Foundation
import Testing

@testable import MessagingService

/// Whatever arrives at a webhook URL, the parsers answer with an error or notices, never a crash.
@Suite("Webhook garbage")
struct WebhookGarbageTests {
    @Test(arguments: [
        ("", WebhookParseError.notJSON),
        ("not json", .notJSON),
        ("{\"entry\": [", .notJSON),
        ("[1, 2]", .notAWhatsAppPayload("the body is not a JSON object")),
        ("5", .notAWhatsAppPayload("the body is not a JSON object")),
        ("{}", .notAWhatsAppPayload("the body has no entry array")),
        ("{\"entry\": 5}", .notAWhatsAppPayload("the body has no entry array")),
        ("{\"object\": \"page\", \"entry\": {}}", .notAWhatsAppPayload("the body has no entry array")),
    ])
    func unreadableWhatsAppBodiesThrow(body: String, error: WebhookParseError) {
        #expect(throws: error) { try WhatsAppWebhook.parse(Data(body.utf8)) }
        #expect(throws: error) { try WhatsAppWebhook.phoneNumberIDs(in: Data(body.utf8)) }
    }

    @Test func oddPartsOfAReadableBodyBecomeNotices() throws {
        let body = #"""
            {"entry": [5, {"changes": 7}, {"changes": [5,
              {"field": "account_update", "value": {"event": "x"}},
              {"field": "messages", "value": {"metadata": {"phone_number_id": 42},
                "messages": [5, {"type": "text"}, {"id": 3, "type": "image", "image": "x"}],
                "statuses": [{"status": "sent"}, {"id": "w", "status": 9}]}}]}]}
            """#
        let events = try WhatsAppWebhook.parse(Data(body.utf8))
        let notices = events.filter { if case .notice = $0.event { true } else { false } }
        #expect(events.count == 9)
        #expect(notices.count == 8)
        guard case .message(let message) = events.first(where: { !notices.contains($0) })?.event else {
            Issue.record("expected the message with an id")
            return
        }
        #expect(message.providerMessageID == "3")
        #expect(message.type == "unsupported")
        #expect(try WhatsAppWebhook.phoneNumberIDs(in: Data(body.utf8)) == ["42"])
    }

    @Test func everyTruncationOfAFixtureIsHandled() throws {
        let body = try WebhookFixtures.data("whatsapp/pywa_interactive_message_with_err.json")
        for length in 0..<body.count {
            _ = try? WhatsAppWebhook.parse(body.prefix(length))
            _ = try? TwilioWebhook.parse(body.prefix(length))
        }
        #expect(try WhatsAppWebhook.parse(body).count == 2)
    }

    @Test func randomBytesAreHandled() {
        var generator = SplitMix(seed: 0x5EED)
        var forms = 0
        for _ in 0..<2_000 {
            let length = Int(generator.next() % 200)
            let bytes = Data((0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
            _ = try? WhatsAppWebhook.parse(bytes)
            if (try? TwilioWebhook.formParameters(bytes)) != nil { forms += 1 }
            _ = try? TwilioWebhook.parse(bytes)
        }
        #expect(forms > 0)
    }

    @Test func formDecodingFollowsTheURLEncodingRules() throws {
        let body = "a=1&&b=x+y%2Bz&c&d=%zz&a=2&e=caf%C3%A9&=v&f=%E2%9C%93%"
        let params = try TwilioWebhook.formParameters(Data(body.utf8))
        #expect(params.map(\.name) == ["a", "b", "c", "d", "a", "e", "", "f"])
        #expect(params.map(\.value) == ["1", "x y+z", "", "%zz", "2", "café", "v", "✓%"])
        #expect(try TwilioWebhook.formParameters(Data()).isEmpty)
    }

    @Test(arguments: ["%ff%fe=1", "Body=%C3", "a=\u{0}b%80"])
    func formsThatAreNotUTF8Throw(body: String) {
        #expect(throws: WebhookParseError.self) { try TwilioWebhook.formParameters(Data(body.utf8)) }
    }

    @Test func twilioFormsWithoutAMessageAreRefusedOrNoticed() throws {
        #expect(throws: WebhookParseError.notAForm("no MessageSid")) { try TwilioWebhook.parse(Data("Body=hi".utf8)) }
        #expect(throws: WebhookParseError.notAForm("no MessageSid")) { try TwilioWebhook.parse(Data()) }
        let bare = try TwilioWebhook.parse(Data("MessageSid=SM1&AccountSid=AC1".utf8))
        #expect(bare.route == .twilio(accountSID: "AC1", to: nil))
        guard case .notice = bare.event else {
            Issue.record("expected a notice")
            return
        }
    }

    @Test func aJSONBodyHashMustMatch() {
        let url =
            "https://mycompany.com/myapp.php?bodySHA256="
            + "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        let body = Data(#"{"property": "value", "boolean": true}"#.utf8)
        let signature = "y77kIzt2vzLz71DgmJGsen2scGs="
        #expect(WebhookSignature.verifyTwilioJSON(url: url, body: body, signature: signature, authToken: "12345"))
        let other = Data(#"{"property": "value", "boolean": false}"#.utf8)
        #expect(!WebhookSignature.verifyTwilioJSON(url: url, body: other, signature: signature, authToken: "12345"))
    }
}

/// A small seeded generator so the random-bytes test is the same every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
