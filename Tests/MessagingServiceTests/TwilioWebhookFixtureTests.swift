import ContactsKit
import Foundation
import Testing

@testable import MessagingService

/// What one Twilio form fixture must parse to, read from the file by hand.
struct TwilioCase: Sendable, CustomTestStringConvertible {
    var file: String
    var expected: RoutedEvent

    var testDescription: String { file }
}

private let courierSID = "SMe287d7109a5a925f182f0e07fe5b223b"
private let courierRoute = InboundRoute.twilio(accountSID: "acctid", to: "+12028831111")
private let courierSender = InboundSender(phone: "+14133881111", whatsappUserID: nil, username: nil, profileName: nil)

private func sms(_ sid: String, _ body: String, from: String, medium: String = "sms") -> InboundEvent {
    .message(
        ParsedMessage(
            providerMessageID: sid, type: "text", text: body, keywordText: body,
            contentJSON: #"{"body":"\#(body)"}"#, sentAt: nil, replyToProviderID: nil, forwarded: false, referral: nil,
            sender: InboundSender(phone: from, whatsappUserID: nil, username: nil, profileName: nil), medium: medium))
}

private func mms(caption: String?) -> InboundEvent {
    let media = #""media":[{"url":"cat.jpg"},{"url":"dog.jpg"}]"#
    return .message(
        ParsedMessage(
            providerMessageID: courierSID, type: "image", text: caption ?? "", keywordText: nil,
            contentJSON: caption.map { #"{"caption":"\#($0)",\#(media)}"# } ?? "{\(media)}", sentAt: nil,
            replyToProviderID: nil, forwarded: false, referral: nil, sender: courierSender, medium: "sms"))
}

private func status(
    _ sid: String, _ status: String, to recipient: String? = nil, errorCode: String? = nil, errorText: String? = nil,
    reason: String? = nil
) -> InboundEvent {
    .status(
        ParsedStatus(
            providerMessageID: sid, status: status, at: nil, recipient: recipient, errorCode: errorCode,
            errorText: errorText, failureReason: reason))
}

let twilioCases: [TwilioCase] = [
    .init(file: "mms_inbound_two_media_no_body.form", expected: .init(route: courierRoute, event: mms(caption: nil))),
    .init(
        file: "mms_inbound_two_media_with_body.form", expected: .init(route: courierRoute, event: mms(caption: "Msg"))),
    .init(
        file: "sms_inbound_alert_request_variables.form",
        expected: .init(
            route: .twilio(accountSID: "AC58f1e8f2b1c6b88ca90a012a4be0c279", to: "+19253920364"),
            event: sms("SM1521fa559fb923c1ed64f56cd1bed8ef", "twilio-go testing!", from: "+19253920364"))),
    .init(
        file: "sms_inbound_real_tw.form",
        expected: .init(
            route: .twilio(accountSID: "AC7ef44158dbb01b972d64d7e5c851c8d7", to: "+13177933221"),
            event: sms("SMa741ddeb574e5dda5516c73417fcd28a", "Hi there from Twilio", from: "+13177592786"))),
    .init(
        file: "sms_inbound_to_shortcode_messaging_service.form",
        expected: .init(
            route: .twilio(accountSID: "acctid", to: "384387"),
            event: sms("SMbbf29aeb9d380ce2a1c0ae4635ff9dab", "John Cruz", from: "+14133881111"))),
    .init(
        file: "sms_inbound_twiml_valid.form",
        expected: .init(route: courierRoute, event: sms(courierSID, "Msg", from: "+14133881111"))),
    .init(
        file: "whatsapp_via_twilio_inbound.form",
        expected: .init(route: courierRoute, event: sms(courierSID, "Msg", from: "+14133881111", medium: "whatsapp"))),
    .init(
        file: "status_delivered.form",
        expected: .init(route: .twilio(accountSID: nil, to: nil), event: status(courierSID, "delivered"))),
    .init(
        file: "status_failed_21610_stop.form",
        expected: .init(
            route: .twilio(accountSID: nil, to: nil),
            event: status(
                courierSID, "failed", to: "+12028831111", errorCode: "21610",
                errorText: "Attempt to send to unsubscribed recipient", reason: "opted_out"))),
    .init(
        file: "status_failed_63018_rate_limit.form",
        expected: .init(
            route: .twilio(accountSID: nil, to: nil), event: status(
                courierSID, "failed", errorCode: "63018", errorText: "Rate limit exceeded for the WhatsApp sender",
                reason: "provider_error"))),
    .init(
        file: "status_invalid_value_huh.form",
        expected: .init(
            route: .twilio(accountSID: nil, to: nil), event: .notice("Twilio status 'huh' for \(courierSID) ignored"))),
    .init(
        file: "status_read.form",
        expected: .init(route: .twilio(accountSID: nil, to: nil), event: status(courierSID, "read"))),
    .init(
        file: "status_sent_messaging_service.form",
        expected: .init(
            route: .twilio(accountSID: "acctid", to: "+14133881111"),
            event: status("SM0b6e2697aae04182a9f5b5c7a8994c7f", "sent", to: "2021"))),
    .init(
        file: "status_sent_real_tw.form",
        expected: .init(
            route: .twilio(accountSID: "AC7ef44158dbb01b972d64d7e5c851c8d7", to: "+13177592786"),
            event: status("SM7ac25b8b7f04410093ff54e1fd2b4256", "sent", to: "+13177933221"))),
]

@Suite("Twilio fixtures")
struct TwilioWebhookFixtureTests {
    @Test(arguments: twilioCases)
    func parsesTheForm(_ testCase: TwilioCase) throws {
        let routed = try TwilioWebhook.parse(WebhookFixtures.data("twilio/inbound/" + testCase.file))
        #expect(routed == testCase.expected)
    }

    @Test func everyFormFixtureHasAnExpectation() throws {
        let files = try WebhookFixtures.names(in: "twilio/inbound", ending: ".form")
        #expect(Set(files) == Set(twilioCases.map(\.file)))
    }

    /// One table for the send path and the callbacks: a failed callback gets the reason a refused send would.
    @Test(arguments: [
        ("21610", "opted_out"), ("21211", "invalid_number"), ("30003", "undeliverable"), ("30005", "undeliverable"),
        ("30006", "undeliverable"), ("30007", "provider_error"), ("", "provider_error"),
    ])
    func aFailedCallbackGetsTheSendPathsReason(code: String, reason: String) throws {
        for status in ["failed", "undelivered"] {
            let form = "MessageSid=SM1&MessageStatus=\(status)&ErrorCode=\(code)&To=%2B15550001"
            guard case .status(let parsed) = try TwilioWebhook.parse(Data(form.utf8)).event else {
                Issue.record("expected a status")
                return
            }
            #expect(parsed.status == "failed")
            #expect(parsed.failureReason == reason)
            #expect(parsed.errorCode == (code.isEmpty ? nil : code))
            let refused = DeliveryOutcome.twilio(status: 400, body: Data(#"{"code": \#(code.isEmpty ? "0" : code)}"#.utf8))
            if !code.isEmpty { #expect(refused == .failed(code: code, text: "HTTP 400 from provider", reason: reason)) }
        }
    }

    @Test func aCallbacksOwnErrorMessageIsKept() throws {
        let form = "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30008&ErrorMessage=Carrier+said+no"
        guard case .status(let parsed) = try TwilioWebhook.parse(Data(form.utf8)).event else {
            Issue.record("expected a status")
            return
        }
        #expect(parsed.errorText == "Carrier said no")
        let unknown = "MessageSid=SM1&MessageStatus=failed&ErrorCode=99999"
        guard case .status(let other) = try TwilioWebhook.parse(Data(unknown.utf8)).event else { return }
        #expect(other.errorText == "Twilio error 99999")
    }

    @Test func anMMSTypeFollowsTheFirstContentType() throws {
        let form =
            "MessageSid=MM1&SmsStatus=received&From=%2B1555&NumMedia=2&Body="
            + "&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm%2F1&MediaContentType0=video%2Fmp4"
            + "&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm%2F2&MediaContentType1=image%2Fjpeg"
        guard case .message(let message) = try TwilioWebhook.parse(Data(form.utf8)).event else {
            Issue.record("expected a message")
            return
        }
        #expect(message.type == "video")
        #expect(message.text == "")
        #expect(
            message.contentJSON
                == #"{"media":[{"contentType":"video/mp4","url":"https://api.twilio.com/m/1"},"#
                + #"{"contentType":"image/jpeg","url":"https://api.twilio.com/m/2"}]}"#)
        let pdf = "MessageSid=MM2&From=%2B1555&NumMedia=1&MediaUrl0=u&MediaContentType0=application%2Fpdf"
        guard case .message(let document) = try TwilioWebhook.parse(Data(pdf.utf8)).event else {
            Issue.record("expected a message")
            return
        }
        #expect(document.type == "document")
    }

    @Test func whatsappViaTwilioKeepsTheProfileAndButtons() throws {
        let form =
            "MessageSid=SM9&SmsStatus=received&From=whatsapp%3A%2B5511999&To=whatsapp%3A%2B1415&WaId=5511999"
            + "&ProfileName=Ana&Body=Stop&ButtonText=Stop&ButtonPayload=opt-out&OriginalRepliedMessageSid=SM1"
            + "&AccountSid=AC1"
        let routed = try TwilioWebhook.parse(Data(form.utf8))
        #expect(routed.route == .twilio(accountSID: "AC1", to: "+1415"))
        guard case .message(let message) = routed.event else {
            Issue.record("expected a message")
            return
        }
        #expect(message.medium == "whatsapp")
        #expect(
            message.sender == InboundSender(phone: "+5511999", whatsappUserID: nil, username: nil, profileName: "Ana"))
        #expect(message.type == "button")
        #expect(message.keywordText == "Stop")
        #expect(message.textOrigin == "tapped")
        #expect(message.replyToProviderID == "SM1")
        #expect(message.contentJSON == #"{"payload":"opt-out","text":"Stop"}"#)
    }

    @Test(arguments: [("queued", "queued"), ("undelivered", "failed"), ("DELIVERED", "delivered")])
    func statusValuesMapToDeliveryStatuses(twilio: String, expected: String) throws {
        let form = "MessageSid=SM1&MessageStatus=\(twilio)&ErrorCode=30003&ErrorMessage=Unreachable+handset"
        guard case .status(let status) = try TwilioWebhook.parse(Data(form.utf8)).event else {
            Issue.record("expected a status")
            return
        }
        #expect(status.status == expected)
        #expect(status.errorCode == "30003")
        #expect(status.errorText == "Unreachable handset")
    }
}
