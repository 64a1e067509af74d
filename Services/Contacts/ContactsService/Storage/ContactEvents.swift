import ContactsKit
import Foundation
import GRDB
import ServiceKit

/// The contacts event log's payloads (docs/events.md), appended in the transaction of the change. Every audit
/// entry becomes an event, and so does every consent ledger entry.
enum ContactEvents {
    static func consent(
        _ db: Database, orgID: String, contactID: String, optedIn: Bool, source: String, proofJSON: String, at: Millis
    ) throws {
        var payload = EventPayload()
        payload.set("contactId", contactID)
        payload.set("optedIn", optedIn)
        payload.set("source", source)
        payload.set("proof", json: restProof(proofJSON))
        try EventLog.append(
            db, orgID: orgID, type: "consent.changed", subjectID: contactID, contactID: contactID, payload: payload,
            at: at)
    }

    /// The stored proof under the names the REST API shows (`timestamp`, `actor`, `importJobId`, `messageId`, `note`).
    static func restProof(_ stored: String) -> String {
        guard let proof = JSONCoding.decode(ConsentProof.self, stored) else { return stored }
        var rendered = EventPayload()
        rendered.set("timestamp", RFC3339.string(millis: proof.at))
        if let actor = proof.actor {
            var object = EventPayload()
            object.set("kind", actor.kind)
            object.set("id", actor.id)
            object.set("name", actor.name)
            rendered.set("actor", json: object.json)
        } else {
            rendered.set("actor", json: nil)
        }
        rendered.set("importJobId", proof.importJobID)
        rendered.set("messageId", proof.messageID)
        rendered.set("note", proof.note)
        return rendered.json
    }

    static func audit(
        _ db: Database, _ record: ContactRecord, action: String, actorJSON: String, changesJSON: String, at: Millis
    ) throws {
        var payload = EventPayload()
        payload.set("contactId", record.id)
        let type: String
        switch action {
        case "created":
            type = "contact.created"
            payload.set("name", record.name)
            payload.set("phone", record.phone)
            payload.set("source", actorJSON.contains("\"inbound\"") ? "inbound" : "api")
        case "updated":
            type = "contact.updated"
        case "tags_added", "tags_removed":
            type = "tags.changed"
            let object = try? JSONSerialization.jsonObject(with: Data(changesJSON.utf8)) as? [String: Any]
            let tags = object?["tags"] as? [String] ?? []
            payload.set("added", action == "tags_added" ? tags : [])
            payload.set("removed", action == "tags_removed" ? tags : [])
        case "deleted":
            type = "contact.deleted"
        case "merged":
            type = "contact.merged"
            let object = try? JSONSerialization.jsonObject(with: Data(changesJSON.utf8)) as? [String: Any]
            payload.set("mergedContactId", object?["mergedContactId"] as? String)
        case "imported":
            type = "contact.imported"
            let object = try? JSONSerialization.jsonObject(with: Data(changesJSON.utf8)) as? [String: Any]
            payload.set("importId", object?["importJobId"] as? String)
            payload.set("action", "updated")
        default:
            // consent_changed: the consent ledger's own event says it.
            return
        }
        payload.set("actor", json: actorJSON)
        payload.set("changes", json: changesJSON)
        try EventLog.append(
            db, orgID: record.orgID, type: type, subjectID: record.id, contactID: record.id, payload: payload, at: at)
    }

    /// A contact an import created (its creation is not an audit row: see `ContactRecord.createdByImport`).
    static func imported(_ db: Database, orgID: String, contactID: String, importID: String, at: Millis) throws {
        var payload = EventPayload()
        payload.set("contactId", contactID)
        payload.set("importId", importID)
        payload.set("action", "created")
        try EventLog.append(
            db, orgID: orgID, type: "contact.imported", subjectID: contactID, contactID: contactID, payload: payload,
            at: at)
    }

    /// First touch of a Click-to-WhatsApp ad: the referral's fields (`attributes.ctwa` names).
    static func attributed(_ db: Database, orgID: String, contactID: String, referral: [String: String], at: Millis)
        throws
    {
        var payload = EventPayload()
        payload.set("contactId", contactID)
        for key in ["sourceId", "sourceUrl", "sourceType", "headline", "body", "ctwaClid"] {
            payload.set(key, referral[key])
        }
        try EventLog.append(
            db, orgID: orgID, type: "contact.attributed", subjectID: contactID, contactID: contactID, payload: payload,
            at: at)
    }

    static func importFinished(_ db: Database, jobID: String, at: Millis) throws {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT org_id, status, created, updated, unchanged, failed FROM import_job WHERE id = ?",
            arguments: [jobID])
        else { return }
        var payload = EventPayload()
        payload.set("importId", jobID)
        payload.set("status", row[1] as String)
        payload.set("created", row[2] as Int64)
        payload.set("updated", row[3] as Int64)
        payload.set("unchanged", row[4] as Int64)
        payload.set("failed", row[5] as Int64)
        try EventLog.append(
            db, orgID: row[0], type: "import.finished", subjectID: jobID, contactID: nil, payload: payload, at: at)
    }
}
