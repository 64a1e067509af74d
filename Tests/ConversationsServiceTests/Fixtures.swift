import GRPCCore
import ConversationsKit
import ServiceKit
import Testing

@testable import ConversationsService

/// A fixed clock for the tests: minutes after a base instant.
let base: Millis = 1_750_000_000_000
func at(_ minutes: Int) -> Millis { base + Millis(minutes) * 60_000 }

let orgA = "org-a"
let orgB = "org-b"
let whatsapp = "channel-wa"
let sms = "channel-sms"

func person(_ id: String, name: String? = nil, phone: String? = nil) -> ContactSnapshot {
    ContactSnapshot(id: id, name: name ?? "Person \(id)", phone: phone, whatsappUsername: nil)
}

func text(_ body: String, id: String = Identifier.make()) -> InboundMessage {
    InboundMessage(providerMessageID: id, type: "text", text: body, contentJSON: "{\"body\":\"\(body)\"}")
}

@discardableResult
func receive(
    _ store: ConversationsStore, org: String = orgA, channel: String = whatsapp, medium: Medium = .whatsapp,
    _ contact: ContactSnapshot, _ body: String = "hi", providerID: String = Identifier.make(),
    merged: [String] = [], now: Millis = at(0)
) async throws -> (message: Message, conversation: Conversation, duplicate: Bool, opened: Bool) {
    try await store.recordInbound(
        orgID: org, channelID: channel, medium: medium, contact: contact, mergedContactIDs: merged,
        message: text(body, id: providerID), now: now)
}

/// Expects a ServiceFailure with this reason.
func expectFailure(
    _ reason: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(reason)", sourceLocation: sourceLocation)
    } catch let failure as ServiceFailure {
        #expect(failure.reason == reason, sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}
