import GRPCCore
import ConversationsKit
import ServiceKit
import Testing

@Suite struct DomainTests {
    static let allowed: Set<String> = [
        "OPEN>ASSIGNED", "OPEN>BOT_ACTIVE", "OPEN>AI_ACTIVE", "OPEN>RESOLVED",
        "ASSIGNED>OPEN", "ASSIGNED>ASSIGNED", "ASSIGNED>BOT_ACTIVE", "ASSIGNED>AI_ACTIVE", "ASSIGNED>RESOLVED",
        "BOT_ACTIVE>OPEN", "BOT_ACTIVE>ASSIGNED", "BOT_ACTIVE>AI_ACTIVE", "BOT_ACTIVE>RESOLVED",
        "AI_ACTIVE>OPEN", "AI_ACTIVE>ASSIGNED", "AI_ACTIVE>BOT_ACTIVE", "AI_ACTIVE>RESOLVED",
        "RESOLVED>OPEN",
    ]

    @Test(arguments: ConversationStatus.allCases, ConversationStatus.allCases)
    func transitionTable(from: ConversationStatus, to: ConversationStatus) {
        #expect(from.canMove(to: to) == Self.allowed.contains("\(from.rawValue)>\(to.rawValue)"))
    }

    @Test(arguments: [
        (DeliveryStatus.queued, DeliveryStatus.sent, true), (.sent, .delivered, true), (.delivered, .read, true),
        (.read, .played, true), (.queued, .read, true), (.sent, .sent, false), (.read, .delivered, false),
        (.delivered, .sent, false), (.queued, .failed, true), (.sent, .failed, true), (.delivered, .failed, false),
        (.read, .failed, false), (.played, .failed, false), (.failed, .delivered, false), (.received, .read, false),
        (.sent, .queued, false), (.sent, .received, false),
    ])
    func deliveryMovesOnlyForward(current: DeliveryStatus, next: DeliveryStatus, advances: Bool) {
        #expect(current.canAdvance(to: next) == advances)
    }

    @Test func windowIsWhatsAppOnlyAndLasts24Hours() {
        let inbound: Millis = 1_000_000
        #expect(Window.of(medium: .sms, lastInboundAt: inbound, now: inbound) == nil)
        #expect(Window.of(medium: .whatsapp, lastInboundAt: nil, now: inbound) == nil)
        let expires = inbound + 24 * 3_600_000
        #expect(Window.of(medium: .whatsapp, lastInboundAt: inbound, now: expires - 1) == Window(open: true, expiresAt: expires))
        #expect(Window.of(medium: .whatsapp, lastInboundAt: inbound, now: expires) == Window(open: false, expiresAt: expires))
    }

    @Test func rawValuesMatchTheContract() {
        #expect(ConversationStatus.botActive.rawValue == "BOT_ACTIVE")
        #expect(BulkAction.markRead.rawValue == "mark_read")
        #expect(Medium(rawValue: "sms") == .sms)
    }
}
