import Foundation
import MessagingKit
import Testing

@testable import MessagingService

@Suite("Which channel a signed WhatsApp body speaks for")
struct WebhookAuthorityTests {
    static func channel(_ id: String, org: String, number: String, secret: String) -> StoredChannel {
        StoredChannel(
            channel: .init(
                id: id, orgID: org, kind: .whatsappCloud, settings: [.phoneNumberID: number], secretsSet: [.appSecret],
                status: "active", createdAt: 0, updatedAt: 0),
            secrets: [.appSecret: secret])
    }

    static let mine = channel("a", org: "A", number: "111", secret: "secret-a")
    static let theirs = channel("b", org: "B", number: "222", secret: "secret-b")
    static let sibling = channel("c", org: "A", number: "333", secret: "secret-a")
    static let body = Data(#"{"entry":[]}"#.utf8)

    static func signed(by secret: String) -> String { WebhookSignature.metaSignature(body: body, appSecret: secret) }

    @Test func aBodyForOneNumberIsItsChannels() throws {
        let found = try WebhookAuthority.verifiedChannel(
            body: Self.body, signature: Self.signed(by: "secret-a"), phoneNumberIDs: ["111"], candidates: [Self.mine])
        #expect(found.channel.id == "a")
    }

    @Test(arguments: [["111", "222"], ["222", "111"]])
    func anotherTenantsNumberRefusesTheWholeBody(numbers: [String]) {
        #expect(throws: (any Error).self) {
            try WebhookAuthority.verifiedChannel(
                body: Self.body, signature: Self.signed(by: "secret-b"), phoneNumberIDs: numbers,
                candidates: [Self.mine, Self.theirs])
        }
    }

    @Test func aNumberWithoutAChannelRefusesTheWholeBody() {
        #expect(throws: (any Error).self) {
            try WebhookAuthority.verifiedChannel(
                body: Self.body, signature: Self.signed(by: "secret-a"), phoneNumberIDs: ["111", "999"],
                candidates: [Self.mine])
        }
    }

    @Test func numbersSharingTheSigningSecretShareABody() throws {
        let found = try WebhookAuthority.verifiedChannel(
            body: Self.body, signature: Self.signed(by: "secret-a"), phoneNumberIDs: ["333", "111"],
            candidates: [Self.mine, Self.sibling])
        #expect(found.channel.id == "c")
        #expect(WebhookAuthority.mayRoute(to: Self.mine, signedBy: Self.sibling))
    }

    @Test func theProcessorRoutesOnlyToTheSignersChannels() {
        #expect(WebhookAuthority.mayRoute(to: Self.mine, signedBy: Self.mine))
        #expect(!WebhookAuthority.mayRoute(to: Self.theirs, signedBy: Self.mine))
        #expect(!WebhookAuthority.mayRoute(to: Self.mine, signedBy: Self.theirs))
    }

    @Test func bodiesBeyondWhatMetaSendsAreRefusedBeforeAnyLookup() throws {
        let changes = (0..<60_000).map { #"{"value":{"metadata":{"phone_number_id":"\#($0)"}}}"# }
        let body = Data((#"{"entry":[{"changes":["# + changes.joined(separator: ",") + "]}]}").utf8)
        #expect(throws: WebhookParseError.self) { try WhatsAppWebhook.phoneNumberIDs(in: body) }
        let repeated = Array(repeating: #"{"value":{"metadata":{"phone_number_id":"7"}}}"#, count: 1_000)
        let ok = Data((#"{"entry":[{"changes":["# + repeated.joined(separator: ",") + "]}]}").utf8)
        #expect(try WhatsAppWebhook.phoneNumberIDs(in: ok) == ["7"])
    }
}
