import Foundation
import Testing

@testable import MessagingService

/// What one WhatsApp fixture holding one status must parse to, read from the file by hand.
struct WhatsAppStatusCase: Sendable, CustomTestStringConvertible {
    var file: String
    var id: String
    var status: String
    var recipient: String
    var at: TimeInterval
    var errorCode: String? = nil
    var errorText: String? = nil
    var reason: String? = nil

    var testDescription: String { file }
}

let whatsappStatusCases: [WhatsAppStatusCase] = [
    .init(
        file: "courier_wac_error_status.json", id: "external_id", status: "failed", recipient: "+5678",
        at: 1_454_119_029, errorCode: "131014",
        errorText: "Request for url https://URL.jpg failed with error: 404 (Not Found)", reason: "provider_error"),
    .init(
        file: "pywa_status_delivered.json", id: "wamid.xyzxyz", status: "delivered", recipient: "+972987654321",
        at: 1_698_266_945),
    .init(
        file: "pywa_status_failed.json", id: "wamid.xyzxyz", status: "failed", recipient: "+972987654321",
        at: 1_689_380_458, errorCode: "130472", errorText: "User's number is part of an experiment",
        reason: "provider_error"),
    .init(
        file: "pywa_status_played.json", id: "wamid.xyzxyz", status: "played", recipient: "+972987654321",
        at: 1_689_380_458),
    .init(
        file: "pywa_status_read.json", id: "wamid.xyzxyz", status: "read", recipient: "+972987654321",
        at: 1_689_380_458),
    .init(
        file: "waapijs_v25_delivered.json", id: "ABGGFlA5Fpa", status: "delivered", recipient: "+16315551181",
        at: 1_504_902_988),
    .init(
        file: "waapijs_v25_read.json", id: "ABGGFlA5Fpa", status: "read", recipient: "+16315551181",
        at: 1_504_902_988),
    .init(
        file: "waapijs_v25_sent.json", id: "ABGGFlA5Fpa", status: "sent", recipient: "+16315551181",
        at: 1_504_902_988),
]

@Suite("WhatsApp fixtures: statuses")
struct WhatsAppStatusFixtureTests {
    @Test(arguments: whatsappStatusCases)
    func parsesTheStatus(_ expected: WhatsAppStatusCase) throws {
        let events = try WhatsAppWebhook.parse(WebhookFixtures.data("whatsapp/" + expected.file))
        try #require(events.count == 1)
        guard case .status(let status) = events[0].event else {
            Issue.record("expected a status, got \(events[0].event)")
            return
        }
        #expect(status.providerMessageID == expected.id)
        #expect(status.status == expected.status)
        #expect(status.recipient == expected.recipient)
        #expect(status.at == Date(timeIntervalSince1970: expected.at))
        #expect(status.errorCode == expected.errorCode)
        #expect(status.errorText == expected.errorText)
        #expect(status.failureReason == expected.reason)
    }

    /// A `failed` status gets the reason the send path gives for the same code: one table for both.
    @Test(arguments: [
        ("131047", "window_closed"), ("131026", "undeliverable"), ("132000", "template_error"),
        ("132001", "template_error"), ("190", "token_invalid"), ("130429", "provider_unavailable"),
        ("131056", "provider_unavailable"), ("131014", "provider_error"),
    ])
    func aFailedStatusGetsTheSendPathsReason(code: String, reason: String) throws {
        let body = """
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "statuses":[{"id":"w1","status":"failed","timestamp":1504902988,"recipient_id":"15550001",
            "errors":[{"code":\(code),"title":"t"}]}]}}]}]}
            """
        let events = try WhatsAppWebhook.parse(Data(body.utf8))
        guard case .status(let status) = events.first?.event else {
            Issue.record("expected a status")
            return
        }
        #expect(status.errorCode == code)
        #expect(status.failureReason == reason)
        #expect(status.failureReason == FailureReason.whatsapp(code: code))
        if case .failed(_, _, let sendReason) = DeliveryOutcome.whatsapp(
            status: 400, body: Data(#"{"error":{"code":\#(code),"message":"m"}}"#.utf8))
        {
            #expect(sendReason == reason)
        }
    }

    @Test func aStatusToAHiddenNumberNamesTheBusinessScopedID() throws {
        let body = #"""
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "statuses":[{"id":"w1","status":"delivered","timestamp":1504902988,"recipient_user_id":"US.9"}]}}]}]}
            """#
        let events = try WhatsAppWebhook.parse(Data(body.utf8))
        guard case .status(let status) = events.first?.event else {
            Issue.record("expected a status")
            return
        }
        #expect(status.recipient == "US.9")
        #expect(status.at == Date(timeIntervalSince1970: 1_504_902_988))
    }

    @Test func anUnknownStatusValueIsANotice() throws {
        let body = #"""
            {"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
            "statuses":[{"id":"w1","status":"deleted"}]}}]}]}
            """#
        let events = try WhatsAppWebhook.parse(Data(body.utf8))
        #expect(events.count == 1)
        guard case .notice(let text) = events.first?.event else {
            Issue.record("expected a notice")
            return
        }
        #expect(text.contains("deleted"))
    }
}
