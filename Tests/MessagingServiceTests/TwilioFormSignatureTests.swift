import Foundation
import Testing

@testable import MessagingService

/// `index.json`: every form fixture's params, decoded by `formParameters`, verify against the signature Twilio's
/// own `RequestValidator` computed for them.
@Suite("Twilio form fixtures: decoding and signatures")
struct TwilioFormSignatureTests {
    struct Entry: Sendable, CustomTestStringConvertible {
        var file: String
        var params: [String: String]
        var url: String
        var token: String
        var signature: String

        var testDescription: String { file }
    }

    static func entries() throws -> [Entry] {
        let root = try #require(WebhookFixtures.json("twilio/inbound/index.json") as? [String: Any])
        let fixtures = try #require(root["fixtures"] as? [[String: Any]])
        return try fixtures.map { fixture in
            Entry(
                file: try #require(fixture["file"] as? String),
                params: try #require(fixture["decoded_params"] as? [String: String]),
                url: try #require(fixture["signed_url"] as? String),
                token: try #require(fixture["auth_token"] as? String),
                signature: try #require(fixture["x_twilio_signature"] as? String))
        }
    }

    @Test func everyFormFixtureIsIndexed() throws {
        let files = try WebhookFixtures.names(in: "twilio/inbound", ending: ".form")
        #expect(Set(try Self.entries().map(\.file)) == Set(files))
    }

    @Test(arguments: try entries())
    func decodedParamsVerify(_ entry: Entry) throws {
        let body = try WebhookFixtures.data("twilio/inbound/" + entry.file)
        let params = try TwilioWebhook.formParameters(body)
        #expect(params.count == entry.params.count)
        #expect(Dictionary(params.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }) == entry.params)

        let verify = { (url: String, params: [(name: String, value: String)], token: String) in
            WebhookSignature.verifyTwilio(url: url, parameters: params, signature: entry.signature, authToken: token)
        }
        #expect(verify(entry.url, params, entry.token))
        #expect(
            verify(entry.url.replacingOccurrences(of: "example.test/", with: "example.test:443/"), params, entry.token))
        #expect(!verify(entry.url, params, entry.token + "x"))
        #expect(!verify(entry.url + "&x=1", params, entry.token))
        #expect(!verify(entry.url, params.dropLast().map { $0 }, entry.token))

        // One byte changed in the body changes what is signed.
        var changed = body
        let index = try #require(changed.lastIndex(of: UInt8(ascii: "=")))
        changed.insert(UInt8(ascii: "Z"), at: index + 1)
        #expect(!verify(entry.url, try TwilioWebhook.formParameters(changed), entry.token))
        #expect(
            WebhookSignature.twilioSignature(url: entry.url, parameters: params, authToken: entry.token)
                == entry.signature)
    }
}
