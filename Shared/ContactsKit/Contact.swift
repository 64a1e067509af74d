import Foundation
public import ServiceKit

/// Who caused a change: an API key, an agent, the system (imports, inbound messages) or the operator.
public struct Actor: Sendable, Equatable, Codable {
    public var kind: String
    public var id: String
    public var name: String

    public init(kind: String, id: String = "", name: String = "") {
        self.kind = kind
        self.id = id
        self.name = name
    }

    public static let system = Actor(kind: "system", id: "", name: "system")
}

/// Evidence attached to a consent ledger entry.
public struct ConsentProof: Sendable, Equatable, Codable {
    public var at: Millis
    public var actor: Actor?
    public var importJobID: String?
    public var messageID: String?
    public var note: String?

    public init(at: Millis, actor: Actor? = nil, importJobID: String? = nil, messageID: String? = nil, note: String? = nil) {
        self.at = at
        self.actor = actor
        self.importJobID = importJobID
        self.messageID = messageID
        self.note = note
    }
}

/// Where a consent change came from.
public enum ConsentSource: String, Sendable, CaseIterable {
    case agent, api
    case csvImport = "csv_import"
    case inboundFirstMessage = "inbound_first_message"
    case keyword, provider
}

/// A person the business talks to. `optedIn`, `optInSource` and `optInProof` derive from the consent ledger.
public struct Contact: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var phone: String?
    public var whatsappUserID: String?
    public var whatsappUsername: String?
    public var name: String?
    public var email: String?
    public var tags: [String]
    public var attributesJSON: String
    public var optedIn: Bool
    public var optInSource: String?
    public var optInProof: ConsentProof?
    public var createdAt: Millis
    public var updatedAt: Millis

    public init(id: String, orgID: String, phone: String?, whatsappUserID: String?, whatsappUsername: String?, name: String?, email: String?, tags: [String], attributesJSON: String, optedIn: Bool, optInSource: String?, optInProof: ConsentProof?, createdAt: Millis, updatedAt: Millis) {
        self.id = id
        self.orgID = orgID
        self.phone = phone
        self.whatsappUserID = whatsappUserID
        self.whatsappUsername = whatsappUsername
        self.name = name
        self.email = email
        self.tags = tags
        self.attributesJSON = attributesJSON
        self.optedIn = optedIn
        self.optInSource = optInSource
        self.optInProof = optInProof
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Fields a caller sets; `nil` leaves a field unchanged, an empty string clears it.
public struct ContactInput: Sendable, Equatable {
    public var phone: String?
    public var name: String?
    public var email: String?
    public var tags: [String]?
    public var optedIn: Bool?
    public var attributesJSON: String?
    public var whatsappUserID: String?
    public var whatsappUsername: String?

    public init(
        phone: String? = nil, name: String? = nil, email: String? = nil, tags: [String]? = nil,
        optedIn: Bool? = nil, attributesJSON: String? = nil, whatsappUserID: String? = nil,
        whatsappUsername: String? = nil
    ) {
        self.phone = phone
        self.name = name
        self.email = email
        self.tags = tags
        self.optedIn = optedIn
        self.attributesJSON = attributesJSON
        self.whatsappUserID = whatsappUserID
        self.whatsappUsername = whatsappUsername
    }
}

public struct ConsentEntry: Sendable, Equatable {
    public var id: String
    public var optedIn: Bool
    public var source: String
    public var proof: ConsentProof
    public var recordedAt: Millis

    public init(id: String, optedIn: Bool, source: String, proof: ConsentProof, recordedAt: Millis) {
        self.id = id
        self.optedIn = optedIn
        self.source = source
        self.proof = proof
        self.recordedAt = recordedAt
    }
}

public struct AuditEntry: Sendable, Equatable {
    public var id: String
    public var contactID: String
    public var action: String
    public var actor: Actor
    public var at: Millis
    public var changesJSON: String

    public init(id: String, contactID: String, action: String, actor: Actor, at: Millis, changesJSON: String) {
        self.id = id
        self.contactID = contactID
        self.action = action
        self.actor = actor
        self.at = at
        self.changesJSON = changesJSON
    }
}

public struct ContactQuery: Sendable {
    public var text: String?
    public var tags: [String] = []
    public var optedIn: Bool?
    public var cursor: String?
    public var limit: Int = 50

    public init(text: String? = nil, tags: [String] = [], optedIn: Bool? = nil, cursor: String? = nil, limit: Int = 50) {
        self.text = text
        self.tags = tags
        self.optedIn = optedIn
        self.cursor = cursor
        self.limit = limit
    }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}
