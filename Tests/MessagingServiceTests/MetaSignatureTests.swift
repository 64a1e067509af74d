import Foundation
import Testing

@testable import MessagingService

@Suite("Meta webhook signature")
struct MetaSignatureTests {
    static let secret = "switchboard-test-app-secret"

    @Test func matchesAnIndependentHMAC() throws {
        // python3: hmac.new(secret, open('courier_wac_hello.json','rb').read(), hashlib.sha256).hexdigest()
        let body = try WebhookFixtures.data("whatsapp/courier_wac_hello.json")
        let expected = "sha256=846c1d3d06fdcdb46e5e26fc8df88df421dce9f714fdbc8b5de07d97ca350c4a"
        #expect(WebhookSignature.metaSignature(body: body, appSecret: Self.secret) == expected)
        #expect(WebhookSignature.verifyMeta(body: body, header: expected, appSecret: Self.secret))
    }

    @Test(arguments: try WebhookFixtures.names(in: "whatsapp", ending: ".json"))
    func verifiesTheExactBytesAndNothingElse(file: String) throws {
        let body = try WebhookFixtures.data("whatsapp/" + file)
        let header = WebhookSignature.metaSignature(body: body, appSecret: Self.secret)
        #expect(header.hasPrefix("sha256="))
        #expect(WebhookSignature.verifyMeta(body: body, header: header, appSecret: Self.secret))
        #expect(WebhookSignature.verifyMeta(body: body, header: " " + header.uppercased(), appSecret: Self.secret))

        var changed = body
        changed[changed.count / 2] ^= 0x01
        #expect(!WebhookSignature.verifyMeta(body: changed, header: header, appSecret: Self.secret))
        #expect(!WebhookSignature.verifyMeta(body: body + Data(" ".utf8), header: header, appSecret: Self.secret))
        #expect(!WebhookSignature.verifyMeta(body: body, header: header, appSecret: Self.secret + "x"))
    }

    @Test func refusesMissingOrMalformedHeaders() throws {
        let body = try WebhookFixtures.data("whatsapp/pywa_reply.json")
        let header = WebhookSignature.metaSignature(body: body, appSecret: Self.secret)
        let hex = String(header.dropFirst("sha256=".count))
        let malformed: [String?] = [
            nil, "", hex, "sha1=" + hex, "sha256:" + hex, "sha256=" + hex.dropLast(), "sha256=" + hex + "00",
            "sha256=" + hex.dropLast() + "g", "sha256=" + String(repeating: "0", count: 64),
        ]
        for candidate in malformed {
            #expect(!WebhookSignature.verifyMeta(body: body, header: candidate, appSecret: Self.secret))
        }
        #expect(!WebhookSignature.verifyMeta(body: body, header: header, appSecret: ""))
    }

    @Test func oneChangedHexDigitFails() throws {
        let body = try WebhookFixtures.data("whatsapp/waapijs_v25_sent.json")
        let header = WebhookSignature.metaSignature(body: body, appSecret: Self.secret)
        var digits = Array(header)
        let last = digits.count - 1
        digits[last] = digits[last] == "0" ? "1" : "0"
        #expect(!WebhookSignature.verifyMeta(body: body, header: String(digits), appSecret: Self.secret))
    }
}
