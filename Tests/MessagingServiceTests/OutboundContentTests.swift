import Foundation
import GRPCCore
import MessagingKit
import ServiceKit
import Testing

@testable import MessagingService

/// The send API's message shapes: parsing, WhatsApp's limits, what SMS can carry, the stored form, and the
/// provider bodies built from them.
@Suite struct OutboundContentTests {
    func parse(_ json: String) throws -> OutboundContent { try OutboundContent.parse(json: json) }

    func refusal(_ json: String) -> ServiceFailure? {
        do {
            _ = try OutboundContent.parse(json: json)
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesEveryType() throws {
        #expect(try parse(#"{"type":"text","text":"Hi"}"#) == .text("Hi"))
        #expect(
            try parse(#"{"type":"image","media":{"link":"https://x.test/a.jpg","caption":"look"}}"#)
                == .media(.image, .link("https://x.test/a.jpg"), caption: "look", filename: nil))
        #expect(
            try parse(#"{"type":"document","media":{"id":"1234","filename":"a.pdf"}}"#)
                == .media(.document, .id("1234"), caption: nil, filename: "a.pdf"))
        #expect(
            try parse(##"{"type":"template","template":{"name":"order_update","language":"en_US","parameters":{"body":["Ana","#1"],"buttons":[["tok"]]}}}"##)
                == .template(.init(name: "order_update", language: "en_US", header: [], body: ["Ana", "#1"], buttons: [["tok"]])))
        let list = try parse(
            #"{"type":"interactive","interactive":{"type":"list","body":"Menu","button":"Choose","sections":[{"rows":[{"id":"r1","title":"Pizza","description":"hot"}]}]}}"#)
        guard case .interactive(let interactive) = list else { Issue.record("not interactive"); return }
        #expect(interactive.kind == .list && interactive.sections.first?.rows.first?.description == "hot")
    }

    @Test func storedFormReadsBackTheSame() throws {
        for json in [
            #"{"type":"text","text":"Hi \"you\" / é"}"#,
            #"{"type":"video","media":{"link":"https://x.test/v.mp4","caption":"c"}}"#,
            #"{"type":"audio","media":{"id":"55"}}"#,
            #"{"type":"template","template":{"name":"t","language":"pt_BR","parameters":{"header":["h"],"body":["b"]}}}"#,
            #"{"type":"interactive","interactive":{"type":"button","header":"H","body":"B","footer":"F","buttons":[{"id":"y","title":"Yes"},{"id":"n","title":"No"}]}}"#,
            #"{"type":"interactive","interactive":{"type":"list","body":"B","button":"Go","sections":[{"title":"A","rows":[{"id":"1","title":"One"}]},{"title":"B","rows":[{"id":"2","title":"Two"}]}]}}"#,
        ] {
            let content = try parse(json)
            #expect(try parse(content.jsonText) == content, "\(json)")
        }
    }

    @Test(arguments: [
        (#"{"type":"text"}"#, "invalid_field", "text"),
        (#"{"type":"text","text":""}"#, "invalid_field", "text"),
        (#"{"type":"text","text":"a","extra":1}"#, "unknown_field", "extra"),
        (#"{"type":"sticker","media":{"id":"1"}}"#, "invalid_field", "type"),
        (#"{"type":"image","media":{"link":"ftp://x/a.jpg"}}"#, "invalid_field", "media.link"),
        (#"{"type":"image","media":{"link":"https://x/a.jpg","id":"1"}}"#, "invalid_field", "media"),
        (#"{"type":"audio","media":{"id":"1","caption":"no"}}"#, "unknown_field", "media.caption"),
        (#"{"type":"interactive","interactive":{"type":"button","body":"B","buttons":[]}}"#, "invalid_interactive", "interactive.buttons"),
        (#"{"type":"interactive","interactive":{"type":"button","body":"B","buttons":[{"id":"1","title":"a"},{"id":"2","title":"b"},{"id":"3","title":"c"},{"id":"4","title":"d"}]}}"#, "invalid_interactive", "interactive.buttons"),
        (#"{"type":"interactive","interactive":{"type":"button","body":"B","buttons":[{"id":"1","title":"twenty-one characters"}]}}"#, "invalid_interactive", "interactive.buttons[0].title"),
        (#"{"type":"interactive","interactive":{"type":"button","body":"B","buttons":[{"id":"1","title":"a"},{"id":"1","title":"b"}]}}"#, "invalid_interactive", "interactive.buttons[1].id"),
        (#"{"type":"interactive","interactive":{"type":"list","body":"B","button":"Go","sections":[{"rows":[{"id":"1","title":"a"},{"id":"2","title":"a"},{"id":"3","title":"a"},{"id":"4","title":"a"},{"id":"5","title":"a"},{"id":"6","title":"a"},{"id":"7","title":"a"},{"id":"8","title":"a"},{"id":"9","title":"a"},{"id":"10","title":"a"},{"id":"11","title":"a"}]}]}}"#, "invalid_interactive", "interactive.sections[0].rows[10]"),
        (#"{"type":"interactive","interactive":{"type":"list","body":"B","button":"Go","sections":[{"rows":[{"id":"1","title":"a"}]},{"title":"T","rows":[{"id":"2","title":"b"}]}]}}"#, "invalid_interactive", "interactive.sections[0].title"),
        (#"{"type":"interactive","interactive":{"type":"carousel","body":"B"}}"#, "invalid_interactive", "interactive.type"),
    ])
    func refusesWithAFieldAndAReason(json: String, reason: String, field: String) {
        let failure = refusal(json)
        #expect(failure?.code == .invalidArgument)
        #expect(failure?.reason == reason, "\(json)")
        #expect(failure?.field == field, "\(json)")
    }

    @Test func smsCarriesTextAndLinkedMediaOnly() throws {
        #expect(try parse(#"{"type":"text","text":"a"}"#).smsRefusal == nil)
        #expect(try parse(#"{"type":"image","media":{"link":"https://x/a.jpg"}}"#).smsRefusal == nil)
        #expect(try parse(#"{"type":"image","media":{"id":"9"}}"#).smsRefusal != nil)
        #expect(try parse(#"{"type":"template","template":{"name":"t","language":"en"}}"#).smsRefusal != nil)
        #expect(
            try parse(#"{"type":"interactive","interactive":{"type":"button","body":"B","buttons":[{"id":"1","title":"a"}]}}"#)
                .smsRefusal != nil)
    }

    // MARK: provider bodies

    func object(_ data: Data) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    func whatsapp(_ json: String) throws -> NSDictionary {
        NSDictionary(dictionary: ProviderRequest.whatsappBody(to: "+15550001111", content: try parse(json)))
    }

    @Test func whatsappBodiesAreMetasShapes() throws {
        #expect(
            try whatsapp(#"{"type":"text","text":"Hi"}"#)
                == [
                    "messaging_product": "whatsapp", "recipient_type": "individual", "to": "15550001111", "type": "text",
                    "text": ["preview_url": false, "body": "Hi"],
                ] as NSDictionary)
        #expect(
            try whatsapp(#"{"type":"document","media":{"id":"77","filename":"a.pdf","caption":"c"}}"#)["document"]
                as? NSDictionary == ["id": "77", "filename": "a.pdf", "caption": "c"] as NSDictionary)
        #expect(
            try whatsapp(#"{"type":"template","template":{"name":"t","language":"en_US","parameters":{"header":["H"],"body":["a","b"],"buttons":[[],["tok"]]}}}"#)["template"]
                as? NSDictionary
                == [
                    "name": "t", "language": ["code": "en_US"],
                    "components": [
                        ["type": "header", "parameters": [["type": "text", "text": "H"]]],
                        ["type": "body", "parameters": [["type": "text", "text": "a"], ["type": "text", "text": "b"]]],
                        ["type": "button", "sub_type": "url", "index": "1", "parameters": [["type": "text", "text": "tok"]]],
                    ],
                ] as NSDictionary)
        #expect(
            try whatsapp(#"{"type":"interactive","interactive":{"type":"button","header":"H","body":"B","footer":"F","buttons":[{"id":"y","title":"Yes"}]}}"#)["interactive"]
                as? NSDictionary
                == [
                    "type": "button", "header": ["type": "text", "text": "H"], "body": ["text": "B"],
                    "footer": ["text": "F"],
                    "action": ["buttons": [["type": "reply", "reply": ["id": "y", "title": "Yes"]]]],
                ] as NSDictionary)
    }

    @Test func twilioRequestIsAFormWithBasicAuth() throws {
        let channel = StoredChannel(
            channel: .init(
                id: "ch1", orgID: "o", kind: .twilioSMS,
                settings: [.accountSID: "AC123", .messagingServiceSID: "MG9", .apiBaseURL: "http://127.0.0.1:9/"],
                secretsSet: [.authToken], status: "active", createdAt: 0, updatedAt: 0),
            secrets: [.authToken: "tok"])
        let request = ProviderRequest.twilio(
            channel: channel, to: "+15550001111",
            content: try parse(#"{"type":"image","media":{"link":"https://x.test/a-b.jpg","caption":"hi & bye"}}"#),
            statusCallback: "https://edge.test/webhooks/twilio/ch1")
        #expect(request.url == "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json")
        let basic = "Basic " + Data("AC123:tok".utf8).base64EncodedString()
        #expect(request.headers.contains { $0.0 == "Authorization" && $0.1 == basic })
        #expect(
            String(decoding: request.body, as: UTF8.self)
                == "To=%2B15550001111&MessagingServiceSid=MG9&Body=hi%20%26%20bye&MediaUrl=https%3A%2F%2Fx.test%2Fa-b.jpg"
                + "&StatusCallback=https%3A%2F%2Fedge.test%2Fwebhooks%2Ftwilio%2Fch1")
    }

    // MARK: what the provider's answer means

    static func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    static func metaError(_ code: Int) -> Data { json(["error": ["message": "m\(code)", "type": "OAuthException", "code": code]]) }

    @Test(arguments: [
        (200, json(["messages": [["id": "wamid.X"]]]), DeliveryOutcome.sent(providerID: "wamid.X")),
        (429, metaError(130429), .retry(code: "130429", text: "m130429")),
        (400, metaError(131056), .retry(code: "131056", text: "m131056")),
        (500, metaError(131000), .retry(code: "131000", text: "m131000")),
        (503, Data("bad gateway".utf8), .retry(code: "503", text: "HTTP 503 from provider")),
        (400, metaError(131047), .failed(code: "131047", text: "m131047", reason: "window_closed")),
        (400, metaError(131026), .failed(code: "131026", text: "m131026", reason: "undeliverable")),
        (400, metaError(132000), .failed(code: "132000", text: "m132000", reason: "template_error")),
        (400, metaError(132001), .failed(code: "132001", text: "m132001", reason: "template_error")),
        (401, metaError(190), .failed(code: "190", text: "m190", reason: "token_invalid")),
        (400, metaError(100), .failed(code: "100", text: "m100", reason: "provider_error")),
    ])
    func whatsappAnswers(status: Int, body: Data, expected: DeliveryOutcome) {
        #expect(DeliveryOutcome.whatsapp(status: status, body: body) == expected)
    }

    static func twilioError(_ code: Int, _ status: Int) -> Data {
        json(["code": code, "message": "t\(code)", "more_info": "https://www.twilio.com/docs/errors/\(code)", "status": status])
    }

    @Test(arguments: [
        (201, json(["sid": "SM1", "status": "queued"]), DeliveryOutcome.sent(providerID: "SM1")),
        (429, twilioError(20429, 429), .retry(code: "20429", text: "t20429")),
        (500, twilioError(20500, 500), .retry(code: "20500", text: "t20500")),
        (400, twilioError(21610, 400), .failed(code: "21610", text: "t21610", reason: "opted_out")),
        (400, twilioError(21211, 400), .failed(code: "21211", text: "t21211", reason: "invalid_number")),
        (401, twilioError(20003, 401), .failed(code: "20003", text: "t20003", reason: "token_invalid")),
        (400, twilioError(21606, 400), .failed(code: "21606", text: "t21606", reason: "provider_error")),
    ])
    func twilioAnswers(status: Int, body: Data, expected: DeliveryOutcome) {
        #expect(DeliveryOutcome.twilio(status: status, body: body) == expected)
    }

    @Test func backoffIsFullJitterUnderAnExponentialCeiling() {
        var settings = DeliverySettings()
        settings.retryBase = 100
        settings.retryMax = 1_000
        for attempts in 1...12 {
            let ceiling: Millis = min(1_000, Millis(100) << Millis(attempts - 1))
            let delays = (0..<200).map { _ in DeliveryWorker.backoff(attempts: attempts, settings: settings) }
            #expect(delays.allSatisfy { (0...ceiling).contains($0) }, "attempt \(attempts)")
            #expect(Set(delays).count > 1, "jittered")
        }
    }

    /// After a stall the pacer catches up lost slots, but never lets more than `rate` sends leave in any second.
    @Test func pacerCatchesUpAfterAStallWithinTheWindow() async throws {
        let pacer = Pacer()
        var left: [ContinuousClock.Instant] = []
        for index in 0..<45 {
            if index == 20 { try await Task.sleep(for: .milliseconds(300)) }  // the lane stalls
            // When the pacer let each send leave (the task may see it later on a busy machine).
            left.append(await pacer.wait(rate: 20))
        }
        for index in 0..<(left.count - 20) {
            #expect(left[index + 20] - left[index] >= .milliseconds(1000), "sends \(index) and \(index + 20)")
        }
    }

    @Test func pacerNeverGoesFasterThanTheRate() async {
        let pacer = Pacer()
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<41 { await pacer.wait(rate: 400) }  // 2.5 ms apart: 40 intervals after the first
        #expect(clock.now - started >= .milliseconds(97))  // at most one interval of catch-up
    }
}
