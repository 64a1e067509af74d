import GRPCCore
public import ContactsKit
import Foundation
import GRDB
public import ServiceKit

/// One inbound message, as far as the contact is concerned.
public struct InboundFacts: Sendable {
    public var messageID: String
    public var at: Millis
    public var text: String?
    /// The referral's fields in camelCase (`sourceUrl`, `sourceId`, …); nil when the message came from no ad.
    public var referral: [String: String]?
    /// Whether `text` was typed (a consent keyword can only be typed) or tapped.
    public var textOrigin: InboundTextOrigin

    public init(
        messageID: String, at: Millis, text: String?, referral: [String: String]?, textOrigin: InboundTextOrigin = .typed
    ) {
        self.messageID = messageID
        self.at = at
        self.text = text
        self.referral = referral
        self.textOrigin = textOrigin
    }
}

public struct InboundResolution: Sendable {
    public var contact: Contact
    public var created: Bool
    public var mergedContactIDs: [String]
    public var consentChange: String
    public var tagsAdded: [String]
}

/// One inbound message's sender and facts, validated.
struct InboundItem: Sendable {
    var orgID: String
    var phone: String?
    var waUserID: String?
    var username: String?
    var profileName: String?
    var message: InboundFacts

    init(orgID: String, sender: InboundSender, message: InboundFacts) throws(ServiceFailure) {
        self.orgID = orgID
        phone = (try? ContactRules.phone(sender.phone ?? "")) ?? nil
        waUserID = (try? ContactRules.userID(sender.whatsappUserID ?? "", field: "whatsappUserId")) ?? nil
        username = (try? ContactRules.userID(sender.username ?? "", field: "whatsappUsername")) ?? nil
        profileName = (try? ContactRules.name(String((sender.profileName ?? "").prefix(ContactRules.maxNameLength))))
            ?? nil
        guard phone != nil || waUserID != nil else { throw ContactsFailure.missingIdentity }
        guard !message.messageID.isEmpty else {
            throw ServiceFailure.invalid("missing_message_id", "message_id is required", field: "message_id")
        }
        self.message = message
    }
}

extension ContactsStore {
    /// Finds or creates the sender and applies what the message means for the contact, in one transaction.
    /// Idempotent per message id: a redelivered message answers the contact as it is now and changes nothing.
    public func resolveInbound(orgID: String, sender: InboundSender, message: InboundFacts) async throws
        -> InboundResolution
    {
        let results = try await resolveInbound([(orgID, sender, message)])
        return try results[0].get()
    }

    /// Many inbound messages, in order, in one transaction (the journal processor's batches). An item that cannot
    /// be resolved (no usable identity) fails alone.
    public func resolveInbound(_ items: [(orgID: String, sender: InboundSender, message: InboundFacts)]) async throws
        -> [Result<InboundResolution, ServiceFailure>]
    {
        let prepared = items.map { item in
            Result { () throws(ServiceFailure) in try InboundItem(orgID: item.orgID, sender: item.sender, message: item.message) }
        }
        var rules: [String: [AutoTagRule]] = [:]
        for orgID in Set(items.map(\.orgID)) { rules[orgID] = try await self.rules(orgID: orgID).filter(\.enabled) }
        let orgRules = rules
        return try await writer.write { db in
            try prepared.map { item in
                switch item {
                case .failure(let failure): return .failure(failure)
                case .success(let item):
                    // A savepoint per message: one that cannot be applied is rolled back alone.
                    var resolution: InboundResolution?
                    do {
                        try db.inSavepoint {
                            resolution = try Self.resolve(db, item, rules: orgRules[item.orgID] ?? [])
                            return .commit
                        }
                    } catch let failure as ServiceFailure {
                        return .failure(failure)
                    } catch {
                        return .failure(ServiceFailure(.internalError, "internal_error", "\(error)"))
                    }
                    guard let resolution else { return .failure(ServiceFailure(.internalError, "internal_error", "no result")) }
                    return .success(resolution)
                }
            }
        }
    }

    static func resolve(_ db: Database, _ item: InboundItem, rules: [AutoTagRule]) throws -> InboundResolution {
        let (orgID, phone, waUserID, username, profileName, message) =
            (item.orgID, item.phone, item.waUserID, item.username, item.profileName, item.message)
        let actor = Actor(kind: "system", id: "inbound", name: "inbound message")
        let actorJSON = JSONCoding.encode(actor)
        if let seen = try Row.fetchOne(
            db, sql: "SELECT contact_id, merged FROM inbound_seen WHERE org_id = ? AND message_id = ?",
            arguments: [orgID, message.messageID]),
            let record = try ContactRecord.find(db, orgID: orgID, id: seen[0])
        {
            return InboundResolution(
                contact: record.contact(tags: try ContactRecord.tags(db, contactID: record.id)), created: false,
                mergedContactIDs: JSONCoding.decode([String].self, seen[1]) ?? [], consentChange: "", tagsAdded: [])
        }
        let now = Millis.now()
        let byPhone = try phone.flatMap { try ContactRecord.find(db, orgID: orgID, phone: $0) }
        let byUserID = try waUserID.flatMap { try ContactRecord.find(db, orgID: orgID, waUserID: $0) }
        var merged: [String] = []
        var created = false
        var record: ContactRecord
        switch (byPhone, byUserID) {
        case (let found?, let other?) where found.id != other.id:
            record = try Self.merge(db, other, into: found, actorJSON: actorJSON, now: now)
            merged.append(other.id)
        case (let found?, _), (nil, let found?):
            record = found
        case (nil, nil):
            record = ContactRecord(id: Identifier.make(), orgID: orgID, now: now)
            created = true
        }
        let original = record
        if record.phone == nil, let phone { record.phone = phone }
        if record.waUserID == nil, let waUserID { record.waUserID = waUserID }
        if let username, record.waUsername != username { record.waUsername = username }
        if record.name == nil, let profileName { record.name = profileName }
        var firstTouch: [String: String]?
        if let referral = message.referral {
            let touch = AdTouch(fields: referral, at: message.at, messageID: message.messageID)
            let attributes = (try? ContactRules.attributes(record.attributes, allowReserved: true)) ?? [:]
            if (attributes["ctwa"] as? [String: Any])?["firstTouch"] == nil { firstTouch = referral }
            record.attributes = ContactRules.json(touch.applied(to: attributes))
        }
        if created {
            try record.insert(db)
            var changes: [String: Any] = ["messageId": message.messageID]
            for (key, value) in [
                ("phone", record.phone), ("name", record.name), ("whatsappUserId", record.waUserID),
                ("whatsappUsername", record.waUsername),
            ] {
                if let value { changes[key] = value }
            }
            try record.appendAudit(
                db, action: "created", actor: actorJSON, changes: ContactRules.json(changes), now: now)
        } else if record != original {
            var changes: [String: Any] = [:]
            for (key, before, after) in [
                ("phone", original.phone, record.phone), ("whatsappUserId", original.waUserID, record.waUserID),
                ("whatsappUsername", original.waUsername, record.waUsername), ("name", original.name, record.name),
            ] where before != after {
                changes[key] = ["from": before as Any, "to": after as Any]
            }
            if original.attributes != record.attributes { changes["attributes"] = ["ctwa": "referral"] }
            record.updatedAt = now
            try record.appendAudit(
                db, action: "updated", actor: actorJSON, changes: ContactRules.json(changes), now: now)
        }
        if let firstTouch {
            try ContactEvents.attributed(db, orgID: orgID, contactID: record.id, referral: firstTouch, at: now)
        }

        let proof = ConsentProof(
            at: message.at, actor: actor, messageID: message.messageID,
            note: SandboxOrigin.proofNote(messageID: message.messageID))
        var consentChange = ""
        let keyword = ConsentKeyword(text: message.text, origin: message.textOrigin)
        switch keyword {
        case .optOut?:
            if record.optedIn || record.optInSource == nil { consentChange = "opted_out" }
        case .optIn?:
            if !record.optedIn { consentChange = "opted_in" }
        case nil:
            // The first message opts in, unless the contact has opted out before.
            if !record.optedIn && record.optInSource == nil { consentChange = "opted_in" }
        }
        if !consentChange.isEmpty {
            try Self.changeConsent(
                db, &record, optedIn: consentChange == "opted_in",
                source: keyword != nil ? ConsentSource.keyword.rawValue : ConsentSource.inboundFirstMessage.rawValue,
                proof: proof, actorJSON: actorJSON, now: now)
        }

        var tags = try ContactRecord.tags(db, contactID: record.id)
        let ruleTags = message.text.map { evaluate(rules, text: $0).tags } ?? []
        let added = ruleTags.filter { !tags.contains($0) }
        if !added.isEmpty {
            try record.addTags(db, added)
            record.updatedAt = now
            try record.appendAudit(
                db, action: "tags_added", actor: actorJSON,
                changes: ContactRules.json(["tags": added, "messageId": message.messageID]), now: now)
            tags = (tags + added).sorted()
        }
        if record != original || created { try record.update(db) }
        try db.execute(
            sql: "INSERT INTO inbound_seen (org_id, message_id, contact_id, merged, at) VALUES (?, ?, ?, ?, ?)",
            arguments: [orgID, message.messageID, record.id, JSONCoding.encode(merged), now])
        return InboundResolution(
            contact: record.contact(tags: tags), created: created, mergedContactIDs: merged,
            consentChange: consentChange, tagsAdded: added)
    }

    /// Folds `other` into `survivor` (the same person, first known by one identity and then by the other): tags,
    /// consent ledger and attributes move over, the identities `survivor` lacks too; `other` is deleted, its audit
    /// trail kept with a `merged` entry on both.
    static func merge(_ db: Database, _ other: ContactRecord, into survivor: ContactRecord, actorJSON: String, now: Millis)
        throws -> ContactRecord
    {
        var record = survivor
        let otherTags = try ContactRecord.tags(db, contactID: other.id)
        let ownTags = try ContactRecord.tags(db, contactID: record.id)
        try db.execute(sql: "DELETE FROM contact_tag WHERE contact_id = ?", arguments: [other.id])
        try db.execute(sql: "DELETE FROM contact WHERE org_id = ? AND id = ?", arguments: [other.orgID, other.id])
        try record.addTags(db, otherTags.filter { !ownTags.contains($0) })
        try db.execute(
            sql: "UPDATE consent_entry SET contact_id = ? WHERE org_id = ? AND contact_id = ?",
            arguments: [record.id, record.orgID, other.id])
        if let latest = try Row.fetchOne(
            db,
            sql: "SELECT opted_in, source, proof FROM consent_entry WHERE org_id = ? AND contact_id = ? ORDER BY id DESC LIMIT 1",
            arguments: [record.orgID, record.id])
        {
            record.optedIn = latest[0]
            record.optInSource = latest[1]
            record.optInProof = latest[2]
        }
        if record.waUserID == nil { record.waUserID = other.waUserID }
        if record.waUsername == nil { record.waUsername = other.waUsername }
        if record.phone == nil { record.phone = other.phone }
        if record.name == nil { record.name = other.name }
        if record.email == nil { record.email = other.email }
        var attributes = (try? ContactRules.attributes(other.attributes, allowReserved: true)) ?? [:]
        let own = (try? ContactRules.attributes(record.attributes, allowReserved: true)) ?? [:]
        let theirCTWA = attributes["ctwa"] as? [String: Any]
        attributes.merge(own) { _, mine in mine }
        if var ctwa = own["ctwa"] as? [String: Any], let theirFirst = theirCTWA?["firstTouch"] {
            // The earlier first touch wins: the other contact existed first if its id sorts first.
            if other.id < record.id { ctwa["firstTouch"] = theirFirst }
            attributes["ctwa"] = ctwa
        }
        record.attributes = ContactRules.json(attributes)
        record.updatedAt = now
        try record.appendAudit(
            db, action: "merged", actor: actorJSON,
            changes: ContactRules.json(["mergedContactId": other.id, "whatsappUserId": other.waUserID as Any]), now: now)
        try other.appendAudit(
            db, action: "deleted", actor: actorJSON, changes: ContactRules.json(["mergedInto": record.id]), now: now)
        try record.update(db)
        return record
    }
}
