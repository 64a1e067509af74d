public import ContactsKit
import Foundation
import GRDB
import ServiceKit

/// A caller's fields after validation. The outer optional is "present", the inner one "cleared".
struct ValidatedContactFields: Sendable {
    var phone: String??
    var name: String??
    var email: String??
    var tags: [String]?
    var optedIn: Bool?
    var attributes: String?
    var waUserID: String??
    var waUsername: String??

    init(_ input: ContactInput) throws(ServiceFailure) {
        phone = try input.phone.map { value throws(ServiceFailure) in try ContactRules.phone(value) }
        name = try input.name.map { value throws(ServiceFailure) in try ContactRules.name(value) }
        email = try input.email.map { value throws(ServiceFailure) in try ContactRules.email(value) }
        tags = try input.tags.map { value throws(ServiceFailure) in try ContactRules.tags(value) }
        optedIn = input.optedIn
        if let raw = input.attributesJSON {
            attributes = ContactRules.json(try ContactRules.attributes(raw))
        }
        waUserID = try input.whatsappUserID.map { value throws(ServiceFailure) in
            try ContactRules.userID(value, field: "whatsappUserId")
        }
        waUsername = try input.whatsappUsername.map { value throws(ServiceFailure) in
            try ContactRules.userID(value, field: "whatsappUsername")
        }
    }
}

extension ContactsStore {
    /// Creates a contact, or with `upsert` updates the one holding the same phone or WhatsApp user id.
    public func create(
        orgID: String, input: ContactInput, upsert: Bool, actor: Actor, consentSource: String
    ) async throws -> (contact: Contact, created: Bool) {
        let fields = try ValidatedContactFields(input)
        let actorJSON = JSONCoding.encode(actor)
        return try await writer.write { db in
            let now = Millis.now()
            var existing: ContactRecord?
            var matchedField = "phone"
            if let phone = fields.phone ?? nil { existing = try ContactRecord.find(db, orgID: orgID, phone: phone) }
            if existing == nil, let waUserID = fields.waUserID ?? nil {
                existing = try ContactRecord.find(db, orgID: orgID, waUserID: waUserID)
                matchedField = "whatsappUserId"
            }
            if let existing {
                guard upsert else { throw ContactsFailure.exists(existing.id, field: matchedField) }
                let contact = try Self.apply(
                    db, fields, to: existing, mergeTags: true, actor: actor, actorJSON: actorJSON,
                    consentSource: consentSource, now: now)
                return (contact, false)
            }
            guard (fields.phone ?? nil) != nil || (fields.waUserID ?? nil) != nil else {
                throw ContactsFailure.missingIdentity
            }
            var record = ContactRecord(id: Identifier.make(), orgID: orgID, now: now)
            record.phone = fields.phone ?? nil
            record.waUserID = fields.waUserID ?? nil
            record.waUsername = fields.waUsername ?? nil
            record.name = fields.name ?? nil
            record.email = fields.email ?? nil
            record.attributes = fields.attributes ?? "{}"
            try record.insert(db)
            let tags = fields.tags ?? []
            try record.addTags(db, tags)
            var changes: [String: Any] = [:]
            for (key, value) in [
                ("phone", record.phone), ("name", record.name), ("email", record.email),
                ("whatsappUserId", record.waUserID), ("whatsappUsername", record.waUsername),
            ] {
                if let value { changes[key] = value }
            }
            if !tags.isEmpty { changes["tags"] = tags }
            try record.appendAudit(
                db, action: "created", actor: actorJSON, changes: ContactRules.json(changes), now: now)
            if fields.optedIn == true {
                try Self.changeConsent(
                    db, &record, optedIn: true, source: consentSource, proof: ConsentProof(at: now, actor: actor),
                    actorJSON: actorJSON, now: now)
                try record.update(db)
            }
            return (record.contact(tags: tags), true)
        }
    }

    /// Partial update: only present fields change; tags are replaced.
    public func update(orgID: String, id: String, patch: ContactInput, actor: Actor, consentSource: String)
        async throws -> Contact
    {
        let fields = try ValidatedContactFields(patch)
        let actorJSON = JSONCoding.encode(actor)
        return try await writer.write { db in
            guard let record = try ContactRecord.find(db, orgID: orgID, id: id) else {
                throw ContactsFailure.contactNotFound
            }
            return try Self.apply(
                db, fields, to: record, mergeTags: false, actor: actor, actorJSON: actorJSON,
                consentSource: consentSource, now: Millis.now())
        }
    }

    static func apply(
        _ db: Database, _ fields: ValidatedContactFields, to original: ContactRecord, mergeTags: Bool, actor: Actor,
        actorJSON: String, consentSource: String, now: Millis
    ) throws -> Contact {
        var record = original
        var changes: [String: Any] = [:]
        func set(_ key: String, _ path: WritableKeyPath<ContactRecord, String?>, _ value: String??) {
            guard let value, record[keyPath: path] != value else { return }
            changes[key] = ["from": record[keyPath: path] as Any, "to": value as Any]
            record[keyPath: path] = value
        }
        if let phone = fields.phone ?? nil, phone != record.phone,
            let other = try ContactRecord.find(db, orgID: record.orgID, phone: phone)
        {
            throw ContactsFailure.exists(other.id, field: "phone")
        }
        if let waUserID = fields.waUserID ?? nil, waUserID != record.waUserID,
            let other = try ContactRecord.find(db, orgID: record.orgID, waUserID: waUserID)
        {
            throw ContactsFailure.exists(other.id, field: "whatsappUserId")
        }
        set("phone", \.phone, fields.phone)
        set("whatsappUserId", \.waUserID, fields.waUserID)
        set("whatsappUsername", \.waUsername, fields.waUsername)
        set("name", \.name, fields.name)
        set("email", \.email, fields.email)
        guard record.phone != nil || record.waUserID != nil else { throw ContactsFailure.missingIdentity }
        if let attributes = fields.attributes {
            var merged = (try? ContactRules.attributes(attributes, allowReserved: true)) ?? [:]
            if let ctwa = (try? ContactRules.attributes(record.attributes, allowReserved: true))?["ctwa"] {
                merged["ctwa"] = ctwa
            }
            let json = ContactRules.json(merged)
            if json != record.attributes {
                changes["attributes"] = ["from": record.attributes, "to": json]
                record.attributes = json
            }
        }
        var tags = try ContactRecord.tags(db, contactID: record.id)
        if let newTags = fields.tags {
            let target = mergeTags ? Array(Set(tags).union(newTags)).sorted() : newTags
            if target.count > tags.count { try ContactRules.tagCount(target.count) }
            let added = target.filter { !tags.contains($0) }
            let removed = tags.filter { !target.contains($0) }
            if !added.isEmpty || !removed.isEmpty {
                try record.addTags(db, added)
                try record.removeTags(db, removed)
                changes["tags"] = ["added": added, "removed": removed]
                tags = target
            }
        }
        let consentChanges = fields.optedIn.map { $0 != record.optedIn } ?? false
        if !changes.isEmpty {
            record.updatedAt = now
            try record.appendAudit(db, action: "updated", actor: actorJSON, changes: ContactRules.json(changes), now: now)
        }
        if consentChanges, let optedIn = fields.optedIn {
            try changeConsent(
                db, &record, optedIn: optedIn, source: consentSource, proof: ConsentProof(at: now, actor: actor),
                actorJSON: actorJSON, now: now)
        }
        if record != original { try record.update(db) }
        return record.contact(tags: tags)
    }

    static func changeConsent(
        _ db: Database, _ record: inout ContactRecord, optedIn: Bool, source: String, proof: ConsentProof,
        actorJSON: String, now: Millis
    ) throws {
        let before = record.optedIn
        try record.appendConsent(db, optedIn: optedIn, source: source, proof: proof, now: now)
        record.updatedAt = now
        try record.appendAudit(
            db, action: "consent_changed", actor: actorJSON,
            changes: ContactRules.json([
                "optedIn": ["from": before, "to": optedIn], "source": source,
                "proof": (try? JSONSerialization.jsonObject(with: Data(JSONCoding.encode(proof).utf8))) ?? [:],
            ]), now: now)
    }

    public func delete(orgID: String, id: String, actor: Actor) async throws {
        let actorJSON = JSONCoding.encode(actor)
        try await writer.write { db in
            guard let record = try ContactRecord.find(db, orgID: orgID, id: id) else {
                throw ContactsFailure.contactNotFound
            }
            // The derived creation entry outlives the contact: write it out before the row goes.
            if let creation = try Self.importCreation(db, record) {
                try record.appendAudit(
                    db, id: creation.id, action: creation.action, actor: JSONCoding.encode(creation.actor),
                    changes: creation.changesJSON, now: creation.at)
            }
            try db.execute(sql: "DELETE FROM contact_tag WHERE contact_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM contact WHERE org_id = ? AND id = ?", arguments: [orgID, id])
            let snapshot: [String: Any] = ["phone": record.phone as Any, "name": record.name as Any]
            try record.appendAudit(
                db, action: "deleted", actor: actorJSON, changes: ContactRules.json(snapshot), now: Millis.now())
        }
    }

    public func addTags(orgID: String, contactID: String, tags raw: [String], actor: Actor) async throws -> Contact {
        try await modifyTags(orgID: orgID, contactID: contactID, tags: raw, adding: true, actor: actor)
    }

    public func removeTags(orgID: String, contactID: String, tags raw: [String], actor: Actor) async throws -> Contact {
        try await modifyTags(orgID: orgID, contactID: contactID, tags: raw, adding: false, actor: actor)
    }

    private func modifyTags(orgID: String, contactID: String, tags raw: [String], adding: Bool, actor: Actor)
        async throws -> Contact
    {
        let tags = try ContactRules.tags(raw)
        guard !tags.isEmpty else { throw ServiceFailure.invalid("invalid_tag", "give at least one tag", field: "tags") }
        let actorJSON = JSONCoding.encode(actor)
        return try await writer.write { db in
            guard var record = try ContactRecord.find(db, orgID: orgID, id: contactID) else {
                throw ContactsFailure.contactNotFound
            }
            let current = try ContactRecord.tags(db, contactID: contactID)
            let changed = adding ? tags.filter { !current.contains($0) } : tags.filter { current.contains($0) }
            if adding && !changed.isEmpty { try ContactRules.tagCount(current.count + changed.count) }
            if !changed.isEmpty {
                let now = Millis.now()
                if adding { try record.addTags(db, changed) } else { try record.removeTags(db, changed) }
                record.updatedAt = now
                try record.update(db)
                try record.appendAudit(
                    db, action: adding ? "tags_added" : "tags_removed", actor: actorJSON,
                    changes: ContactRules.json(["tags": changed]), now: now)
            }
            return record.contact(tags: try ContactRecord.tags(db, contactID: contactID))
        }
    }

    /// Appends an opt-in or opt-out to the ledger (every call appends, even when the state is unchanged).
    public func setConsent(
        orgID: String, contactID: String, optedIn: Bool, source: String, proof: ConsentProof, actor: Actor
    ) async throws -> Contact {
        guard ConsentSource(rawValue: source) != nil else {
            throw ServiceFailure.invalid(
                "invalid_consent_source",
                "source must be one of \(ConsentSource.allCases.map(\.rawValue).joined(separator: ", "))",
                field: "source")
        }
        let actorJSON = JSONCoding.encode(actor)
        return try await writer.write { db in
            guard var record = try ContactRecord.find(db, orgID: orgID, id: contactID) else {
                throw ContactsFailure.contactNotFound
            }
            let now = Millis.now()
            var proof = proof
            if proof.at == 0 { proof.at = now }
            if proof.actor == nil { proof.actor = actor }
            try Self.changeConsent(
                db, &record, optedIn: optedIn, source: source, proof: proof, actorJSON: actorJSON, now: now)
            try record.update(db)
            return record.contact(tags: try ContactRecord.tags(db, contactID: contactID))
        }
    }
}
