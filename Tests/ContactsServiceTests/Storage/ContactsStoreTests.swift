import ContactsKit
import Foundation
import ServiceKit
import Testing

@testable import ContactsService

/// The store on an in-memory database with the real migrations.
@Suite("Contacts store")
struct ContactsStoreTests {
    let store = try! ContactsStore.inMemory()
    let org = "org-a"
    let actor = Actor(kind: "api_key", id: "key-1", name: "admin")

    func create(_ input: ContactInput, upsert: Bool = false, org: String? = nil) async throws -> (Contact, Bool) {
        let result = try await store.create(
            orgID: org ?? self.org, input: input, upsert: upsert, actor: actor, consentSource: "api")
        return (result.contact, result.created)
    }

    @Test func createsWithNormalisedPhoneTagsAndOptIn() async throws {
        let (contact, created) = try await create(
            ContactInput(phone: "0091 98765-43210", name: " John Doe ", tags: [" VIP ", "vip", "Retail"], optedIn: true))
        #expect(created)
        #expect(contact.phone == "+919876543210")
        #expect(contact.name == "John Doe")
        #expect(contact.tags == ["retail", "vip"])
        #expect(contact.optedIn)
        #expect(contact.optInSource == "api")
        #expect(contact.optInProof?.actor == actor)
        let ledger = try await store.consentLedger(orgID: org, contactID: contact.id)
        #expect(ledger.map(\.source) == ["api"])
    }

    @Test func duplicatePhoneIsRefusedOrUpserted() async throws {
        let (first, _) = try await create(ContactInput(phone: "+12125551234", name: "Jane", tags: ["lead"]))
        await #expect(throws: ContactsFailure.exists(first.id, field: "phone")) {
            _ = try await create(ContactInput(phone: "+1 212 555 1234"))
        }
        let (updated, created) = try await create(
            ContactInput(phone: "+1 (212) 555-1234", email: "jane@example.com", tags: ["vip"]), upsert: true)
        #expect(!created)
        #expect(updated.id == first.id)
        #expect(updated.name == "Jane")
        #expect(updated.email == "jane@example.com")
        #expect(updated.tags == ["lead", "vip"])
        let page = try await store.contacts(orgID: org, query: ContactQuery())
        #expect(page.items.count == 1)
    }

    @Test func aKnownWhatsAppUserIDIsAConflictOnThatField() async throws {
        let (first, _) = try await create(ContactInput(whatsappUserID: "US.13491208655302741918", whatsappUsername: "jo"))
        #expect(first.phone == nil && first.whatsappUserID == "US.13491208655302741918")
        await #expect(throws: ContactsFailure.exists(first.id, field: "whatsappUserId")) {
            _ = try await create(ContactInput(whatsappUserID: "US.13491208655302741918"))
        }
    }

    @Test func badInputChangesNothing() async throws {
        for input in [
            ContactInput(phone: "12345"), ContactInput(phone: "+1", name: "x"),
            ContactInput(phone: "+12125551234", email: "not-an-email"), ContactInput(name: "no identity"),
            ContactInput(phone: "+12125551234", attributesJSON: "[1]"),
            ContactInput(phone: "+12125551234", attributesJSON: #"{"ctwa": {}}"#),
        ] {
            await #expect(throws: ServiceFailure.self) { _ = try await create(input) }
        }
        #expect(try await store.contacts(orgID: org, query: ContactQuery()).items.isEmpty)
    }

    @Test func orgsDoNotSeeEachOther() async throws {
        let (contact, _) = try await create(ContactInput(phone: "+442079460958"))
        await #expect(throws: ContactsFailure.contactNotFound) {
            _ = try store.contact(orgID: "org-b", id: contact.id)
        }
        // The same phone is free in another org.
        let (other, created) = try await create(ContactInput(phone: "+442079460958"), org: "org-b")
        #expect(created && other.id != contact.id)
    }

    @Test func updateTagsConsentAndAuditTrail() async throws {
        let (contact, _) = try await create(ContactInput(phone: "+33612345678", name: "Amélie"))
        let updated = try await store.update(
            orgID: org, id: contact.id, patch: ContactInput(name: "", email: "a@example.fr", tags: ["fr"]), actor: actor,
            consentSource: "api")
        #expect(updated.name == nil)
        #expect(updated.email == "a@example.fr")
        #expect(updated.tags == ["fr"])
        _ = try await store.addTags(orgID: org, contactID: contact.id, tags: ["VIP"], actor: actor)
        _ = try await store.removeTags(orgID: org, contactID: contact.id, tags: ["fr"], actor: actor)
        let optedIn = try await store.setConsent(
            orgID: org, contactID: contact.id, optedIn: true, source: "agent", proof: ConsentProof(at: 0), actor: actor)
        #expect(optedIn.optedIn && optedIn.optInSource == "agent")
        let optedOut = try await store.setConsent(
            orgID: org, contactID: contact.id, optedIn: false, source: "api", proof: ConsentProof(at: 0), actor: actor)
        #expect(!optedOut.optedIn)
        try await store.delete(orgID: org, id: contact.id, actor: actor)
        let audit = try await store.audit(orgID: org, contactID: contact.id, cursor: nil, limit: 50)
        #expect(
            audit.items.map(\.action) == [
                "deleted", "consent_changed", "consent_changed", "tags_removed", "tags_added", "updated", "created",
            ])
        #expect(audit.items.allSatisfy { $0.actor == actor })
        await #expect(throws: ContactsFailure.contactNotFound) {
            _ = try await store.consentLedger(orgID: org, contactID: contact.id)
        }
    }

    @Test func listSearchesFiltersAndPagesStably() async throws {
        for index in 0..<7 {
            _ = try await create(
                ContactInput(
                    phone: "+1555000000\(index)", name: "Person \(index)", email: "p\(index)@example.com",
                    tags: index.isMultiple(of: 2) ? ["even"] : ["odd"], optedIn: index < 3))
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await store.contacts(orgID: org, query: ContactQuery(cursor: cursor, limit: 3))
            seen += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen.count == 7)
        #expect(seen == seen.sorted(by: >))
        #expect(try await store.contacts(orgID: org, query: ContactQuery(tags: ["even"])).items.count == 4)
        #expect(try await store.contacts(orgID: org, query: ContactQuery(optedIn: true)).items.count == 3)
        #expect(try await store.contacts(orgID: org, query: ContactQuery(text: "PERSON 3")).items.map(\.name) == ["Person 3"])
        #expect(try await store.contacts(orgID: org, query: ContactQuery(text: "p5@")).items.count == 1)
        #expect(try await store.contacts(orgID: org, query: ContactQuery(text: "555 000 0006")).items.count == 1)
        #expect(try await store.contacts(orgID: org, query: ContactQuery(text: "100%")).items.isEmpty)
        await #expect(throws: ContactsFailure.invalidCursor) {
            _ = try await store.contacts(orgID: org, query: ContactQuery(cursor: "garbage!"))
        }
        let counts = try await store.tagCounts(orgID: org)
        #expect(counts.map(\.tag) == ["even", "odd"])
        #expect(counts.map(\.count) == [4, 3])
    }

    @Test func rulesAreValidatedUniqueAndAllMatchingApply() async throws {
        _ = try await store.createRule(
            orgID: org, input: AutoTagRuleInput(matchType: "contains", keyword: "order", tag: "Buyer"))
        _ = try await store.createRule(orgID: org, input: AutoTagRuleInput(matchType: "exact", keyword: "PROMO", tag: "promo"))
        _ = try await store.createRule(
            orgID: org, input: AutoTagRuleInput(matchType: "startsWith", keyword: "ref", tag: "referral"))
        let disabled = try await store.createRule(
            orgID: org, input: AutoTagRuleInput(matchType: "contains", keyword: "order", tag: "never", enabled: false))
        await #expect(throws: ServiceFailure.self) {
            _ = try await store.createRule(
                orgID: org, input: AutoTagRuleInput(matchType: "contains", keyword: "ORDER", tag: "buyer"))
        }
        await #expect(throws: ServiceFailure.self) {
            _ = try await store.createRule(orgID: org, input: AutoTagRuleInput(matchType: "regex", keyword: "x", tag: "y"))
        }
        let rules = try await store.rules(orgID: org)
        #expect(evaluate(rules, text: "  REF123 about my Order  ").tags == ["buyer", "referral"])
        #expect(evaluate(rules, text: " promo ").tags == ["promo"])
        #expect(evaluate(rules, text: "promo code").tags.isEmpty)
        _ = try await store.updateRule(orgID: org, id: disabled.id, patch: AutoTagRuleInput(enabled: true))
        #expect(evaluate(try await store.rules(orgID: org), text: "order").tags == ["buyer", "never"])
        await #expect(throws: ContactsFailure.ruleNotFound) { _ = try await store.rule(orgID: "org-b", id: disabled.id) }
    }
}
