public import ContactsKit
public import GRPCCore
public import ServiceKit
import SwiftProtobuf
import SwitchboardProtos

/// The contacts service, in domain types. Every failure is a `ServiceFailure` with a stable reason.
public struct ContactsClient<Transport: ClientTransport>: Sendable {
    let client: Switchboard_Contacts_V1_ContactsService.Client<Transport>
    let caller: RPCCaller

    public init(_ grpc: GRPCClient<Transport>, caller: RPCCaller) {
        client = .init(wrapping: grpc)
        self.caller = caller
    }

    public func create(
        orgID: String, input: ContactInput, upsert: Bool, actor: Actor, consentSource: String = "api"
    ) async throws(ServiceFailure) -> (contact: Contact, created: Bool) {
        let request = Switchboard_Contacts_V1_CreateContactRequest.with {
            $0.orgID = orgID
            $0.contact = .init(input)
            $0.upsert = upsert
            $0.actor = .init(actor)
            $0.consentSource = consentSource
        }
        let response = try await caller.call("CreateContact", idempotent: false) { metadata, options in
            try await client.createContact(request, metadata: metadata, options: options)
        }
        return (Contact(response.contact), response.created)
    }

    public func get(orgID: String, id: String) async throws(ServiceFailure) -> Contact {
        let request = Switchboard_Contacts_V1_GetContactRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        return Contact(
            try await caller.call("GetContact", idempotent: true) { metadata, options in
                try await client.getContact(request, metadata: metadata, options: options)
            })
    }

    /// Point reads of several contacts (of any orgs) in one call; nil where there is no such contact.
    public func batchGet(_ keys: [(orgID: String, id: String)]) async throws(ServiceFailure) -> [Contact?] {
        let request = Switchboard_Contacts_V1_BatchGetContactsRequest.with {
            $0.items = keys.map { key in
                .with {
                    $0.orgID = key.orgID
                    $0.id = key.id
                }
            }
        }
        let response = try await caller.call("BatchGetContacts", idempotent: true) { metadata, options in
            try await client.batchGetContacts(request, metadata: metadata, options: options)
        }
        guard response.results.count == keys.count else {
            throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
        }
        return response.results.map { $0.found ? Contact($0.contact) : nil }
    }

    public func list(orgID: String, query: ContactQuery) async throws(ServiceFailure) -> Page<Contact> {
        let request = Switchboard_Contacts_V1_ListContactsRequest.with {
            $0.orgID = orgID
            $0.query = query.text ?? ""
            $0.tags = query.tags
            if let optedIn = query.optedIn { $0.optedIn = optedIn }
            $0.page.cursor = query.cursor ?? ""
            $0.page.limit = Int32(query.limit)
        }
        let response = try await caller.call("ListContacts", idempotent: true) { metadata, options in
            try await client.listContacts(request, metadata: metadata, options: options)
        }
        return Page(items: response.contacts.map(Contact.init), nextCursor: response.page.nextCursor.nonEmptyValue)
    }

    public func update(
        orgID: String, id: String, patch: ContactInput, actor: Actor, consentSource: String = "api"
    ) async throws(ServiceFailure) -> Contact {
        let request = Switchboard_Contacts_V1_UpdateContactRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.patch = .init(patch)
            $0.actor = .init(actor)
            $0.consentSource = consentSource
        }
        return Contact(
            try await caller.call("UpdateContact", idempotent: false) { metadata, options in
                try await client.updateContact(request, metadata: metadata, options: options)
            })
    }

    public func delete(orgID: String, id: String, actor: Actor) async throws(ServiceFailure) {
        let request = Switchboard_Contacts_V1_DeleteContactRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.actor = .init(actor)
        }
        _ = try await caller.call("DeleteContact", idempotent: false) { metadata, options in
            try await client.deleteContact(request, metadata: metadata, options: options)
        }
    }

    public func modifyTags(
        orgID: String, contactID: String, tags: [String], adding: Bool, actor: Actor
    ) async throws(ServiceFailure) -> Contact {
        let request = Switchboard_Contacts_V1_ModifyTagsRequest.with {
            $0.orgID = orgID
            $0.contactID = contactID
            $0.tags = tags
            $0.actor = .init(actor)
        }
        return Contact(
            try await caller.call(adding ? "AddTags" : "RemoveTags", idempotent: true) { metadata, options in
                adding
                    ? try await client.addTags(request, metadata: metadata, options: options)
                    : try await client.removeTags(request, metadata: metadata, options: options)
            })
    }

    public func tagCounts(orgID: String) async throws(ServiceFailure) -> [(tag: String, count: Int64)] {
        let request = Switchboard_Contacts_V1_ListTagsRequest.with { $0.orgID = orgID }
        let response = try await caller.call("ListTags", idempotent: true) { metadata, options in
            try await client.listTags(request, metadata: metadata, options: options)
        }
        return response.tags.map { (tag: $0.tag, count: $0.count) }
    }

    public func setConsent(
        orgID: String, contactID: String, optedIn: Bool, source: String, note: String?, actor: Actor,
        messageID: String? = nil
    ) async throws(ServiceFailure) -> Contact {
        let request = Switchboard_Contacts_V1_SetConsentRequest.with {
            $0.orgID = orgID
            $0.contactID = contactID
            $0.optedIn = optedIn
            $0.source = source
            $0.proof.note = note ?? ""
            $0.proof.messageID = messageID ?? ""
            $0.proof.actor = .init(actor)
            $0.actor = .init(actor)
        }
        return Contact(
            try await caller.call("SetConsent", idempotent: false) { metadata, options in
                try await client.setConsent(request, metadata: metadata, options: options)
            })
    }

    public func consentLedger(orgID: String, contactID: String) async throws(ServiceFailure) -> [ConsentEntry] {
        let request = Switchboard_Contacts_V1_ListConsentRequest.with {
            $0.orgID = orgID
            $0.contactID = contactID
        }
        let response = try await caller.call("ListConsent", idempotent: true) { metadata, options in
            try await client.listConsent(request, metadata: metadata, options: options)
        }
        return response.entries.map(ConsentEntry.init)
    }

    public func audit(orgID: String, contactID: String, cursor: String?, limit: Int) async throws(ServiceFailure)
        -> Page<AuditEntry>
    {
        let request = Switchboard_Contacts_V1_ListAuditRequest.with {
            $0.orgID = orgID
            $0.contactID = contactID
            $0.page.cursor = cursor ?? ""
            $0.page.limit = Int32(limit)
        }
        let response = try await caller.call("ListAudit", idempotent: true) { metadata, options in
            try await client.listAudit(request, metadata: metadata, options: options)
        }
        return Page(items: response.entries.map(AuditEntry.init), nextCursor: response.page.nextCursor.nonEmptyValue)
    }
}

extension String {
    var nonEmptyValue: String? { isEmpty ? nil : self }
}

extension ContactsClient {
    /// One inbound message to resolve (see `resolveInbound`).
    public struct InboundItem: Sendable {
        public var orgID: String
        public var sender: InboundSender
        public var messageID: String
        public var at: Millis
        public var text: String?
        public var referral: [String: String]?
        /// typed, tapped or opt_out_button (`ResolveInboundRequest.text_origin`).
        public var textOrigin: String

        public init(orgID: String, sender: InboundSender, messageID: String, at: Millis, text: String?,
                    referral: [String: String]?, textOrigin: String = "typed") {
            self.orgID = orgID
            self.sender = sender
            self.messageID = messageID
            self.at = at
            self.text = text
            self.referral = referral
            self.textOrigin = textOrigin
        }
    }

    /// Resolves many inbound messages, in order, in one call and one transaction. Each item answers its contact or
    /// the reason it was refused; a failure of the call itself (the service is down) throws.
    public func resolveInbound(_ items: [InboundItem]) async throws(ServiceFailure) -> [Result<InboundContact, ServiceFailure>] {
        let request = Switchboard_Contacts_V1_ResolveInboundBatchRequest.with {
            $0.items = items.map { item in Self.request(item) }
        }
        let response = try await caller.call("ResolveInboundBatch", idempotent: true) { metadata, options in
            try await client.resolveInboundBatch(request, metadata: metadata, options: options)
        }
        guard response.results.count == items.count else {
            throw ServiceFailure(.internalError, "internal_error", "batch answer does not match the request")
        }
        return response.results.map { result in
            if result.failed { return .failure(ServiceFailure(item: result.error)) }
            return .success(InboundContact(result.resolution))
        }
    }

    static func request(_ item: InboundItem) -> Switchboard_Contacts_V1_ResolveInboundRequest {
        .with {
            $0.orgID = item.orgID
            $0.phone = item.sender.phone ?? ""
            $0.whatsappUserID = item.sender.whatsappUserID ?? ""
            $0.whatsappUsername = item.sender.username ?? ""
            $0.profileName = item.sender.profileName ?? ""
            $0.messageID = item.messageID
            $0.messageAt = .init(millis: item.at)
            $0.text = item.text ?? ""
            $0.textOrigin = item.textOrigin == "typed" ? "" : item.textOrigin
            if let referral = item.referral {
                $0.referral = .with {
                    $0.sourceURL = referral["sourceUrl"] ?? ""
                    $0.sourceID = referral["sourceId"] ?? ""
                    $0.sourceType = referral["sourceType"] ?? ""
                    $0.headline = referral["headline"] ?? ""
                    $0.body = referral["body"] ?? ""
                    $0.mediaType = referral["mediaType"] ?? ""
                    $0.imageURL = referral["imageUrl"] ?? ""
                    $0.videoURL = referral["videoUrl"] ?? ""
                    $0.ctwaClid = referral["ctwaClid"] ?? ""
                }
            }
        }
    }
}

extension InboundContact {
    init(_ response: Switchboard_Contacts_V1_ResolveInboundResponse) {
        self.init(
            contact: Contact(response.contact), created: response.created,
            mergedContactIDs: response.mergedContactIds, consentChange: response.consentChange)
    }
}

/// The contact an inbound message belongs to, after resolution.
public struct InboundContact: Sendable {
    public var contact: Contact
    public var created: Bool
    public var mergedContactIDs: [String]
    public var consentChange: String
}
