import ContactsKit
import Foundation
import ServiceKit
import Testing

@testable import ContactsService

/// `resolveInbound`: who wrote, and what the message means for the contact.
@Suite("Inbound contact resolution")
struct InboundTests {
    let store = try! ContactsStore.inMemory()
    let org = "org-a"
    var counter = 0

    func resolve(
        phone: String? = "+447700900001", userID: String? = nil, username: String? = nil, name: String? = "Ana",
        text: String? = "hello", id: String = "wamid.\(UUID().uuidString)", referral: [String: String]? = nil,
        org: String? = nil
    ) async throws -> InboundResolution {
        try await store.resolveInbound(
            orgID: org ?? self.org,
            sender: InboundSender(phone: phone, whatsappUserID: userID, username: username, profileName: name),
            message: InboundFacts(messageID: id, at: 1_760_000_000_000, text: text, referral: referral))
    }

    @Test func firstMessageCreatesAnOptedInContactWithTheMessageAsProof() async throws {
        let result = try await resolve(id: "wamid.first")
        #expect(result.created)
        #expect(result.contact.phone == "+447700900001")
        #expect(result.contact.name == "Ana")
        #expect(result.contact.optedIn)
        #expect(result.contact.optInSource == "inbound_first_message")
        #expect(result.contact.optInProof?.messageID == "wamid.first")
        #expect(result.contact.optInProof?.at == 1_760_000_000_000)
        #expect(result.consentChange == "opted_in")
    }

    @Test func redeliveryChangesNothingTwice() async throws {
        let first = try await resolve(text: "STOP", id: "wamid.same")
        let again = try await resolve(text: "STOP", id: "wamid.same")
        #expect(first.consentChange == "opted_out")
        #expect(again.consentChange == "")
        #expect(!again.created)
        #expect(again.contact.id == first.contact.id)
        #expect(try await store.consentLedger(orgID: org, contactID: first.contact.id).count == 1)
    }

    @Test(arguments: ["STOP", " stop ", "StopAll", "UNSUBSCRIBE", "cancel", "END", "quit", "OPTOUT", "revoke"])
    func stopWordsOptOut(word: String) async throws {
        _ = try await resolve(text: "hi")
        let result = try await resolve(text: word)
        #expect(!result.contact.optedIn)
        #expect(result.contact.optInSource == "keyword")
        #expect(result.consentChange == "opted_out")
    }

    @Test(arguments: ["START", "unstop", "Yes"])
    func startWordsOptBackIn(word: String) async throws {
        _ = try await resolve(text: "STOP")
        let result = try await resolve(text: word, id: "wamid.back")
        #expect(result.contact.optedIn)
        #expect(result.contact.optInSource == "keyword")
        #expect(result.contact.optInProof?.messageID == "wamid.back")
    }

    @Test(arguments: ["please don't stop", "stop it now", "yes please", "STOP!"])
    func keywordsCountOnlyAsTheWholeMessage(text: String) async throws {
        _ = try await resolve(text: "STOP")
        let result = try await resolve(text: text)
        #expect(!result.contact.optedIn)
        #expect(result.consentChange == "")
    }

    @Test func anOptOutRecordedBeforeIsRespected() async throws {
        let (contact, _) = try await store.create(
            orgID: org, input: ContactInput(phone: "+447700900002"), upsert: false, actor: .system, consentSource: "api")
        _ = try await store.setConsent(
            orgID: org, contactID: contact.id, optedIn: false, source: "agent", proof: ConsentProof(at: 0), actor: .system)
        let result = try await resolve(phone: "+447700900002", text: "hello")
        #expect(!result.contact.optedIn)
        #expect(result.consentChange == "")
    }

    @Test func profileNameFillsOnlyAnEmptyName() async throws {
        let (contact, _) = try await store.create(
            orgID: org, input: ContactInput(phone: "+447700900003", name: "Agent's name"), upsert: false,
            actor: .system, consentSource: "api")
        let result = try await resolve(phone: "+447700900003", name: "Profile")
        #expect(result.contact.id == contact.id)
        #expect(result.contact.name == "Agent's name")
    }

    @Test func hiddenNumberThenBothMergesIntoOneContact() async throws {
        let byPhone = try await resolve(phone: "+447700900004", userID: nil, text: "hi")
        let byUser = try await resolve(phone: nil, userID: "US.123", username: "ana_b", name: nil, text: "hello")
        #expect(byUser.created)
        #expect(byUser.contact.phone == nil)
        #expect(byUser.contact.whatsappUsername == "ana_b")
        let both = try await resolve(phone: "+447700900004", userID: "US.123", text: "again")
        #expect(both.contact.id == byPhone.contact.id)
        #expect(both.mergedContactIDs == [byUser.contact.id])
        #expect(both.contact.whatsappUserID == "US.123")
        #expect(both.contact.whatsappUsername == "ana_b")
        await #expect(throws: ContactsFailure.contactNotFound) {
            _ = try store.contact(orgID: org, id: byUser.contact.id)
        }
        let ledger = try await store.consentLedger(orgID: org, contactID: both.contact.id)
        #expect(ledger.count == 2)  // both first-message opt-ins moved to the one contact
    }

    @Test func autoTagRulesTagTheSender() async throws {
        _ = try await store.createRule(
            orgID: org, input: AutoTagRuleInput(matchType: "contains", keyword: "order", tag: "buyer", enabled: true))
        _ = try await store.createRule(
            orgID: org, input: AutoTagRuleInput(matchType: "exact", keyword: "PROMO", tag: "promo", enabled: false))
        let result = try await resolve(text: "Where is my ORDER?")
        #expect(result.tagsAdded == ["buyer"])
        #expect(result.contact.tags == ["buyer"])
        let promo = try await resolve(text: "promo")
        #expect(promo.tagsAdded.isEmpty)
    }

    @Test func adReferralKeepsTheFirstTouchAndUpdatesTheLast() async throws {
        _ = try await resolve(id: "wamid.ad1", referral: ["sourceId": "ad-1", "headline": "Spring sale", "ctwaClid": "c1"])
        let second = try await resolve(id: "wamid.ad2", referral: ["sourceId": "ad-2", "headline": "Summer"])
        let attributes = try #require(
            try JSONSerialization.jsonObject(with: Data(second.contact.attributesJSON.utf8)) as? [String: Any])
        let ctwa = try #require(attributes["ctwa"] as? [String: Any])
        let first = try #require(ctwa["firstTouch"] as? [String: Any])
        let last = try #require(ctwa["lastTouch"] as? [String: Any])
        #expect(first["sourceId"] as? String == "ad-1")
        #expect(first["ctwaClid"] as? String == "c1")
        #expect(first["messageId"] as? String == "wamid.ad1")
        #expect(last["sourceId"] as? String == "ad-2")
        #expect(last["headline"] as? String == "Summer")
    }

    @Test func senderWithoutIdentityIsRefusedAndOrgsStayApart() async throws {
        await #expect(throws: ContactsFailure.missingIdentity) {
            _ = try await resolve(phone: "not a phone", userID: nil)
        }
        let a = try await resolve(phone: "+447700900009")
        let b = try await resolve(phone: "+447700900009", org: "org-b")
        #expect(a.contact.id != b.contact.id)
        #expect(b.created)
    }

    @Test func aBatchAppliesInOrderAndRefusesABadItemAlone() async throws {
        let items: [(orgID: String, sender: InboundSender, message: InboundFacts)] = [
            (org, InboundSender(phone: "+447700900010", whatsappUserID: nil, username: nil, profileName: "Ana"),
             InboundFacts(messageID: "wamid.b1", at: 1, text: "hi", referral: nil)),
            (org, InboundSender(phone: "no phone", whatsappUserID: nil, username: nil, profileName: nil),
             InboundFacts(messageID: "wamid.b2", at: 2, text: "hi", referral: nil)),
            (org, InboundSender(phone: "+447700900010", whatsappUserID: nil, username: nil, profileName: nil),
             InboundFacts(messageID: "wamid.b3", at: 3, text: "STOP", referral: nil)),
        ]
        let results = try await store.resolveInbound(items)
        #expect(results.count == 3)
        let first = try results[0].get()
        #expect(first.created && first.consentChange == "opted_in")
        #expect(throws: ContactsFailure.missingIdentity) { try results[1].get() }
        let third = try results[2].get()
        #expect(third.contact.id == first.contact.id)  // created earlier in the same transaction
        #expect(!third.contact.optedIn && third.consentChange == "opted_out")
    }
}
