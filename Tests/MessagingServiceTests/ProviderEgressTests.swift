import Foundation
import ServiceKit
import Testing

@testable import MessagingService

/// Where provider calls may go (allow-list, private ranges), how provider error text is bounded, and the box
/// that seals channel secrets.
@Suite struct ProviderEgressTests {
    @Test(arguments: [
        "0.0.0.0", "127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
        "169.254.169.254", "100.64.0.1", "100.127.255.255", "::", "::1", "[::1]", "fe80::1", "fc00::1", "fd12::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
    ])
    func privateLiteralsAreRefused(address: String) {
        #expect(PrivateAddress.isPrivate(literal: address) == true)
    }

    @Test(arguments: ["8.8.8.8", "157.240.1.1", "172.32.0.1", "100.128.0.1", "2a03:2880::1", "::ffff:8.8.8.8"])
    func publicLiteralsPass(address: String) {
        #expect(PrivateAddress.isPrivate(literal: address) == false)
    }

    @Test func namesAreNotLiterals() {
        #expect(PrivateAddress.isPrivate(literal: "graph.facebook.com") == nil)
    }

    @Test func defaultsAllowOnlyTheRealProvidersOverHTTPS() throws {
        let egress = try ProviderEgress(config: ConfigReader([:]))
        #expect(egress.refusal(of: "https://graph.facebook.com") == nil)
        #expect(egress.refusal(of: "https://api.twilio.com/") == nil)
        #expect(egress.refusal(of: "http://graph.facebook.com") != nil)
        #expect(egress.refusal(of: "https://graph.facebook.com.evil.test") != nil)
        #expect(egress.refusal(of: "https://user@graph.facebook.com") != nil)
    }

    @Test func anyHostStillRefusesPrivateTargetsUnlessAllowed() throws {
        let strict = try ProviderEgress(config: ConfigReader(["SWITCHBOARD_PROVIDER_URL_ALLOWLIST": "*"]))
        #expect(strict.refusal(of: "https://example.test") == nil)
        #expect(strict.refusal(of: "http://127.0.0.1:8080") != nil)
        #expect(strict.refusal(of: "http://[::1]:8080") != nil)
        #expect(strict.refusal(of: "http://localhost:8080") != nil)
        let open = try ProviderEgress(
            config: ConfigReader([
                "SWITCHBOARD_PROVIDER_URL_ALLOWLIST": "http://127.0.0.1",
                "SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS": "true",
            ]))
        #expect(open.refusal(of: "http://127.0.0.1:8080") == nil)
        #expect(open.refusal(of: "http://10.0.0.1") != nil)  // not on the list
    }

    @Test func badSettingsFailTheStart() {
        #expect(throws: ConfigError.self) {
            _ = try ProviderEgress(config: ConfigReader(["SWITCHBOARD_PROVIDER_URL_ALLOWLIST": "graph.facebook.com"]))
        }
        #expect(throws: ConfigError.self) {
            _ = try ProviderEgress(config: ConfigReader(["SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS": "yes please"]))
        }
    }

    @Test func providerErrorTextIsBoundedAndNeverTheRawBody() {
        let long = Data(#"{"error":{"message":"\#(String(repeating: "m", count: 5000))","code":100},"x":"RAW"}"#.utf8)
        guard case .failed(let code, let text, _) = DeliveryOutcome.whatsapp(status: 400, body: long) else {
            Issue.record("not a failure")
            return
        }
        #expect(code == "100" && text.count <= 300 && !text.contains("RAW"))
        #expect(DeliveryOutcome.twilio(status: 502, body: Data("<html>RAW</html>".utf8))
            == .retry(code: "502", text: "HTTP 502 from provider"))
    }

    @Test func sealedSecretsOpenOnlyWithTheirKeyAndChannel() throws {
        let box = SecretsBox.random()
        let sealed = try box.seal(#"{"accessToken":"tok"}"#, channelID: "c1")
        #expect(SecretsBox.isSealed(sealed) && !sealed.contains("tok"))
        #expect(try box.open(sealed, channelID: "c1") == #"{"accessToken":"tok"}"#)
        #expect(throws: SecretsError.self) { _ = try box.open(sealed, channelID: "c2") }
        #expect(throws: SecretsError.self) { _ = try SecretsBox.random().open(sealed, channelID: "c1") }
    }
}
