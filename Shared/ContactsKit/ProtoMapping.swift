public import ServiceKit
import SwiftProtobuf
public import SwitchboardProtos

// Protobuf ⇄ domain mapping for the contacts contract, shared by the service and its client.

extension Actor {
    public init(_ proto: Switchboard_Common_V1_Actor) {
        self.init(kind: proto.kind.isEmpty ? "system" : proto.kind, id: proto.id, name: proto.name)
    }
}

extension Switchboard_Common_V1_Actor {
    public init(_ actor: Actor) {
        self.init()
        kind = actor.kind
        id = actor.id
        name = actor.name
    }
}

extension ConsentProof {
    public init(_ proto: Switchboard_Contacts_V1_ConsentProof) {
        self.init(
            at: proto.hasAt ? proto.at.millis : 0, actor: proto.hasActor ? Actor(proto.actor) : nil,
            importJobID: proto.importJobID.isEmpty ? nil : proto.importJobID,
            messageID: proto.messageID.isEmpty ? nil : proto.messageID, note: proto.note.isEmpty ? nil : proto.note)
    }
}

extension Switchboard_Contacts_V1_ConsentProof {
    public init(_ proof: ConsentProof) {
        self.init()
        at = .init(millis: proof.at)
        if let actor = proof.actor { self.actor = .init(actor) }
        importJobID = proof.importJobID ?? ""
        messageID = proof.messageID ?? ""
        note = proof.note ?? ""
    }
}

extension ContactInput {
    public init(_ proto: Switchboard_Contacts_V1_ContactInput) {
        self.init(
            phone: proto.hasPhone ? proto.phone : nil, name: proto.hasName ? proto.name : nil,
            email: proto.hasEmail ? proto.email : nil, tags: proto.tagsPresent ? proto.tags : nil,
            optedIn: proto.hasOptedIn ? proto.optedIn : nil,
            attributesJSON: proto.hasAttributesJson ? proto.attributesJson : nil,
            whatsappUserID: proto.hasWhatsappUserID ? proto.whatsappUserID : nil,
            whatsappUsername: proto.hasWhatsappUsername ? proto.whatsappUsername : nil)
    }
}

extension Switchboard_Contacts_V1_Contact {
    public init(_ contact: Contact) {
        self.init()
        id = contact.id
        orgID = contact.orgID
        phone = contact.phone ?? ""
        whatsappUserID = contact.whatsappUserID ?? ""
        whatsappUsername = contact.whatsappUsername ?? ""
        name = contact.name ?? ""
        email = contact.email ?? ""
        tags = contact.tags
        attributesJson = contact.attributesJSON
        optedIn = contact.optedIn
        optInSource = contact.optInSource ?? ""
        if let proof = contact.optInProof { optInProof = .init(proof) }
        createdAt = .init(millis: contact.createdAt)
        updatedAt = .init(millis: contact.updatedAt)
    }
}

extension Switchboard_Contacts_V1_ConsentEntry {
    public init(_ entry: ConsentEntry) {
        self.init()
        id = entry.id
        optedIn = entry.optedIn
        source = entry.source
        proof = .init(entry.proof)
        recordedAt = .init(millis: entry.recordedAt)
    }
}

extension Switchboard_Contacts_V1_AuditEntry {
    public init(_ entry: AuditEntry) {
        self.init()
        id = entry.id
        contactID = entry.contactID
        action = entry.action
        actor = .init(entry.actor)
        at = .init(millis: entry.at)
        changesJson = entry.changesJSON
    }
}

extension AutoTagRuleInput {
    public init(_ proto: Switchboard_Contacts_V1_AutoTagRuleInput) {
        self.init(
            matchType: proto.hasMatchType ? proto.matchType : nil, keyword: proto.hasKeyword ? proto.keyword : nil,
            tag: proto.hasTag ? proto.tag : nil, enabled: proto.hasEnabled ? proto.enabled : nil)
    }
}

extension Switchboard_Contacts_V1_AutoTagRule {
    public init(_ rule: AutoTagRule) {
        self.init()
        id = rule.id
        orgID = rule.orgID
        matchType = rule.matchType
        keyword = rule.keyword
        tag = rule.tag
        enabled = rule.enabled
        createdAt = .init(millis: rule.createdAt)
        updatedAt = .init(millis: rule.updatedAt)
    }
}

extension Switchboard_Contacts_V1_ImportColumn {
    public init(_ column: ImportColumn) {
        self.init()
        index = Int32(column.index)
        header = column.header
        field = column.field
    }
}

extension Switchboard_Contacts_V1_ImportJob {
    public init(_ job: ImportJob) {
        self.init()
        id = job.id
        orgID = job.orgID
        status = job.status.rawValue
        fileName = job.fileName
        sizeBytes = job.sizeBytes
        totalRows = job.totalRows
        processedRows = job.processedRows
        created = job.created
        updated = job.updated
        unchanged = job.unchanged
        failed = job.failed
        preview.headers = job.preview.headers
        preview.rows = job.preview.rows.map { cells in .with { $0.cells = cells } }
        preview.suggestedMapping = job.preview.suggestedMapping.map(Switchboard_Contacts_V1_ImportColumn.init)
        mapping = job.mapping.map(Switchboard_Contacts_V1_ImportColumn.init)
        createdAt = .init(millis: job.createdAt)
        if let startedAt = job.startedAt { self.startedAt = .init(millis: startedAt) }
        if let finishedAt = job.finishedAt { self.finishedAt = .init(millis: finishedAt) }
        error = job.error ?? ""
    }
}

// MARK: the client's direction (protobuf → domain)

extension Switchboard_Contacts_V1_ContactInput {
    public init(_ input: ContactInput) {
        self.init()
        if let phone = input.phone { self.phone = phone }
        if let name = input.name { self.name = name }
        if let email = input.email { self.email = email }
        if let tags = input.tags {
            tagsPresent = true
            self.tags = tags
        }
        if let optedIn = input.optedIn { self.optedIn = optedIn }
        if let attributes = input.attributesJSON { attributesJson = attributes }
        if let userID = input.whatsappUserID { whatsappUserID = userID }
        if let username = input.whatsappUsername { whatsappUsername = username }
    }
}

extension Contact {
    public init(_ proto: Switchboard_Contacts_V1_Contact) {
        self.init(
            id: proto.id, orgID: proto.orgID, phone: proto.phone.nonEmpty, whatsappUserID: proto.whatsappUserID.nonEmpty,
            whatsappUsername: proto.whatsappUsername.nonEmpty, name: proto.name.nonEmpty, email: proto.email.nonEmpty,
            tags: proto.tags, attributesJSON: proto.attributesJson.isEmpty ? "{}" : proto.attributesJson,
            optedIn: proto.optedIn, optInSource: proto.optInSource.nonEmpty,
            optInProof: proto.hasOptInProof ? ConsentProof(proto.optInProof) : nil, createdAt: proto.createdAt.millis,
            updatedAt: proto.updatedAt.millis)
    }
}

extension ConsentEntry {
    public init(_ proto: Switchboard_Contacts_V1_ConsentEntry) {
        self.init(
            id: proto.id, optedIn: proto.optedIn, source: proto.source, proof: ConsentProof(proto.proof),
            recordedAt: proto.recordedAt.millis)
    }
}

extension AuditEntry {
    public init(_ proto: Switchboard_Contacts_V1_AuditEntry) {
        self.init(
            id: proto.id, contactID: proto.contactID, action: proto.action, actor: Actor(proto.actor),
            at: proto.at.millis, changesJSON: proto.changesJson.isEmpty ? "{}" : proto.changesJson)
    }
}

extension AutoTagRule {
    public init(_ proto: Switchboard_Contacts_V1_AutoTagRule) {
        self.init(
            id: proto.id, orgID: proto.orgID, matchType: proto.matchType, keyword: proto.keyword, tag: proto.tag,
            enabled: proto.enabled, createdAt: proto.createdAt.millis, updatedAt: proto.updatedAt.millis)
    }
}

extension Switchboard_Contacts_V1_AutoTagRuleInput {
    public init(_ input: AutoTagRuleInput) {
        self.init()
        if let matchType = input.matchType { self.matchType = matchType }
        if let keyword = input.keyword { self.keyword = keyword }
        if let tag = input.tag { self.tag = tag }
        if let enabled = input.enabled { self.enabled = enabled }
    }
}

extension ImportColumn {
    public init(_ proto: Switchboard_Contacts_V1_ImportColumn) {
        self.init(index: Int(proto.index), header: proto.header, field: proto.field)
    }
}

extension ImportJob {
    public init(_ proto: Switchboard_Contacts_V1_ImportJob) {
        self.init(
            id: proto.id, orgID: proto.orgID, status: ImportStatus(rawValue: proto.status) ?? .failed,
            fileName: proto.fileName, filePath: "", sizeBytes: proto.sizeBytes, totalRows: proto.totalRows,
            processedRows: proto.processedRows, created: proto.created, updated: proto.updated,
            unchanged: proto.unchanged, failed: proto.failed,
            preview: ImportPreview(
                headers: proto.preview.headers, rows: proto.preview.rows.map(\.cells),
                suggestedMapping: proto.preview.suggestedMapping.map(ImportColumn.init)),
            mapping: proto.mapping.map(ImportColumn.init), actor: .system, resumeOffset: 0,
            createdAt: proto.createdAt.millis, startedAt: proto.hasStartedAt ? proto.startedAt.millis : nil,
            finishedAt: proto.hasFinishedAt ? proto.finishedAt.millis : nil, error: proto.error.nonEmpty)
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
