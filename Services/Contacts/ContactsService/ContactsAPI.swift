public import ContactsKit
public import GRPCCore
import Foundation
import ServiceKit
import SwiftProtobuf
public import SwitchboardProtos

typealias Proto = Switchboard_Contacts_V1_ContactsService

/// The contacts gRPC service: maps protobuf messages to store calls and back, nothing more.
public struct ContactsAPI: Switchboard_Contacts_V1_ContactsService.SimpleServiceProtocol {
    let store: ContactsStore
    let files: ImportFiles
    let worker: ImportWorker?

    public init(store: ContactsStore, files: ImportFiles, worker: ImportWorker?) {
        self.store = store
        self.files = files
        self.worker = worker
    }

    public func createContact(
        request: Switchboard_Contacts_V1_CreateContactRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_CreateContactResponse {
        let org = try requireOrg(request.orgID)
        let result = try await store.create(
            orgID: org, input: ContactInput(request.contact), upsert: request.upsert, actor: Actor(request.actor),
            consentSource: try consentSource(request.consentSource))
        return .with {
            $0.contact = .init(result.contact)
            $0.created = result.created
        }
    }

    public func getContact(
        request: Switchboard_Contacts_V1_GetContactRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_Contact {
        .init(try store.contact(orgID: try requireOrg(request.orgID), id: request.id))
    }

    public func batchGetContacts(
        request: Switchboard_Contacts_V1_BatchGetContactsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_BatchGetContactsResponse {
        guard request.items.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 contacts per batch", field: "items")
        }
        let keys = try request.items.map { item throws(ServiceFailure) in (orgID: try requireOrg(item.orgID), id: item.id) }
        let contacts = try store.contacts(keys)
        return .with {
            $0.results = contacts.map { contact in
                .with {
                    $0.found = contact != nil
                    if let contact { $0.contact = .init(contact) }
                }
            }
        }
    }

    public func listContacts(
        request: Switchboard_Contacts_V1_ListContactsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListContactsResponse {
        let query = ContactQuery(
            text: request.query.isEmpty ? nil : request.query,
            tags: try ContactRules.tags(request.tags, field: "tag"),
            optedIn: request.hasOptedIn ? request.optedIn : nil,
            cursor: request.page.cursor.isEmpty ? nil : request.page.cursor,
            limit: try PageCursor.limit(request.page.limit))
        let page = try await store.contacts(orgID: try requireOrg(request.orgID), query: query)
        return .with {
            $0.contacts = page.items.map(Switchboard_Contacts_V1_Contact.init)
            $0.page.nextCursor = page.nextCursor ?? ""
        }
    }

    public func updateContact(
        request: Switchboard_Contacts_V1_UpdateContactRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_Contact {
        .init(
            try await store.update(
                orgID: try requireOrg(request.orgID), id: request.id, patch: ContactInput(request.patch),
                actor: Actor(request.actor), consentSource: try consentSource(request.consentSource)))
    }

    public func deleteContact(
        request: Switchboard_Contacts_V1_DeleteContactRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_DeleteContactResponse {
        try await store.delete(orgID: try requireOrg(request.orgID), id: request.id, actor: Actor(request.actor))
        return .init()
    }

    public func addTags(
        request: Switchboard_Contacts_V1_ModifyTagsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_Contact {
        .init(
            try await store.addTags(
                orgID: try requireOrg(request.orgID), contactID: request.contactID, tags: request.tags,
                actor: Actor(request.actor)))
    }

    public func removeTags(
        request: Switchboard_Contacts_V1_ModifyTagsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_Contact {
        .init(
            try await store.removeTags(
                orgID: try requireOrg(request.orgID), contactID: request.contactID, tags: request.tags,
                actor: Actor(request.actor)))
    }

    public func listTags(
        request: Switchboard_Contacts_V1_ListTagsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListTagsResponse {
        let counts = try await store.tagCounts(orgID: try requireOrg(request.orgID))
        return .with {
            $0.tags = counts.map { item in .with { $0.tag = item.tag; $0.count = item.count } }
        }
    }

    public func setConsent(
        request: Switchboard_Contacts_V1_SetConsentRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_Contact {
        let actor = Actor(request.actor)
        return .init(
            try await store.setConsent(
                orgID: try requireOrg(request.orgID), contactID: request.contactID, optedIn: request.optedIn,
                source: request.source.isEmpty ? ConsentSource.api.rawValue : request.source,
                proof: ConsentProof(request.proof), actor: actor))
    }

    public func listConsent(
        request: Switchboard_Contacts_V1_ListConsentRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListConsentResponse {
        let entries = try await store.consentLedger(orgID: try requireOrg(request.orgID), contactID: request.contactID)
        return .with { $0.entries = entries.map(Switchboard_Contacts_V1_ConsentEntry.init) }
    }

    public func createRule(
        request: Switchboard_Contacts_V1_CreateRuleRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_AutoTagRule {
        .init(try await store.createRule(orgID: try requireOrg(request.orgID), input: AutoTagRuleInput(request.rule)))
    }

    public func getRule(
        request: Switchboard_Contacts_V1_GetRuleRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_AutoTagRule {
        .init(try await store.rule(orgID: try requireOrg(request.orgID), id: request.id))
    }

    public func listRules(
        request: Switchboard_Contacts_V1_ListRulesRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListRulesResponse {
        let rules = try await store.rules(orgID: try requireOrg(request.orgID))
        return .with { $0.rules = rules.map(Switchboard_Contacts_V1_AutoTagRule.init) }
    }

    public func updateRule(
        request: Switchboard_Contacts_V1_UpdateRuleRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_AutoTagRule {
        .init(
            try await store.updateRule(
                orgID: try requireOrg(request.orgID), id: request.id, patch: AutoTagRuleInput(request.patch)))
    }

    public func deleteRule(
        request: Switchboard_Contacts_V1_DeleteRuleRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_DeleteRuleResponse {
        try await store.deleteRule(orgID: try requireOrg(request.orgID), id: request.id)
        return .init()
    }

    public func evaluateRules(
        request: Switchboard_Contacts_V1_EvaluateRulesRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_EvaluateRulesResponse {
        let rules = try await store.rules(orgID: try requireOrg(request.orgID))
        let result = evaluate(rules, text: request.text)
        return .with {
            $0.tags = result.tags
            $0.matchedRuleIds = result.ruleIDs
        }
    }

    public func resolveInbound(
        request: Switchboard_Contacts_V1_ResolveInboundRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ResolveInboundResponse {
        let item = try Self.inbound(request)
        return .init(try await store.resolveInbound(orgID: item.orgID, sender: item.sender, message: item.message))
    }

    public func resolveInboundBatch(
        request: Switchboard_Contacts_V1_ResolveInboundBatchRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ResolveInboundBatchResponse {
        guard request.items.count <= 1000 else {
            throw ServiceFailure.invalid("too_many_items", "at most 1000 messages per batch", field: "items")
        }
        let items = try request.items.map { item throws(ServiceFailure) in try Self.inbound(item) }
        let results = try await store.resolveInbound(items)
        return .with {
            $0.results = results.map { outcome in
                .with { result in
                    switch outcome {
                    case .success(let resolution): result.resolution = .init(resolution)
                    case .failure(let failure):
                        result.failed = true
                        result.error = failure.errorReason
                    }
                }
            }
        }
    }

    static func inbound(_ request: Switchboard_Contacts_V1_ResolveInboundRequest) throws(ServiceFailure)
        -> (orgID: String, sender: InboundSender, message: InboundFacts)
    {
        guard !request.orgID.isEmpty else { throw .invalid("missing_org", "org_id is required", field: "org_id") }
        guard let origin = request.textOrigin.isEmpty ? .typed : InboundTextOrigin(rawValue: request.textOrigin) else {
            throw .invalid(
                "invalid_text_origin", "text_origin is typed, tapped or opt_out_button", field: "text_origin")
        }
        return (
            request.orgID,
            InboundSender(
                phone: request.phone, whatsappUserID: request.whatsappUserID, username: request.whatsappUsername,
                profileName: request.profileName),
            InboundFacts(
                messageID: request.messageID, at: request.hasMessageAt ? request.messageAt.millis : Millis.now(),
                text: request.text.isEmpty ? nil : request.text,
                referral: request.hasReferral ? request.referral.fields : nil, textOrigin: origin)
        )
    }

    public func listAudit(
        request: Switchboard_Contacts_V1_ListAuditRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListAuditResponse {
        let page = try await store.audit(
            orgID: try requireOrg(request.orgID), contactID: request.contactID,
            cursor: request.page.cursor.isEmpty ? nil : request.page.cursor,
            limit: try PageCursor.limit(request.page.limit))
        return .with {
            $0.entries = page.items.map(Switchboard_Contacts_V1_AuditEntry.init)
            $0.page.nextCursor = page.nextCursor ?? ""
        }
    }

    public func uploadImport(
        request: RPCAsyncSequence<Switchboard_Contacts_V1_UploadImportChunk, any Error>, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ImportJob {
        let jobID = Identifier.make()
        let writer = try ImportFiles.Writer(path: files.path(for: jobID))
        var orgID = ""
        var fileName = ""
        var actor = Actor.system
        var first = true
        do {
            for try await chunk in request {
                if first {
                    orgID = try requireOrg(chunk.orgID)
                    fileName = chunk.fileName.isEmpty ? "contacts.csv" : String(chunk.fileName.prefix(200))
                    actor = Actor(chunk.actor)
                    first = false
                }
                try writer.write(Array(chunk.data))
            }
            guard !first else { throw ServiceFailure.invalid("empty_file", "no file was sent", field: "file") }
            try writer.close()
        } catch {
            writer.discard()
            throw error
        }
        let path = writer.path
        let size = writer.size
        do {
            let scan = try await Task.detached { try ImportFiles.preview(path: path) }.value
            let job = ImportJob(
                id: jobID, orgID: orgID, status: .uploaded, fileName: fileName, filePath: path, sizeBytes: size,
                totalRows: scan.rows, processedRows: 0, created: 0, updated: 0, unchanged: 0, failed: 0,
                preview: scan.preview, mapping: [], actor: actor, resumeOffset: 0, createdAt: Millis.now(),
                startedAt: nil, finishedAt: nil, error: nil)
            try await store.insertJob(job)
            return .init(job)
        } catch {
            unlink(path)
            throw error
        }
    }

    public func getImport(
        request: Switchboard_Contacts_V1_GetImportRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ImportJob {
        .init(try await store.importJob(orgID: try requireOrg(request.orgID), id: request.id))
    }

    public func listImports(
        request: Switchboard_Contacts_V1_ListImportsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListImportsResponse {
        let page = try await store.importJobs(
            orgID: try requireOrg(request.orgID), cursor: request.page.cursor.isEmpty ? nil : request.page.cursor,
            limit: try PageCursor.limit(request.page.limit))
        return .with {
            $0.jobs = page.items.map(Switchboard_Contacts_V1_ImportJob.init)
            $0.page.nextCursor = page.nextCursor ?? ""
        }
    }

    public func confirmImport(
        request: Switchboard_Contacts_V1_ConfirmImportRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ImportJob {
        let mapping = request.mapping.map { ImportColumn(index: Int($0.index), header: $0.header, field: $0.field) }
        let job = try await store.confirmImport(orgID: try requireOrg(request.orgID), id: request.id, mapping: mapping)
        worker?.notify()
        return .init(job)
    }

    public func deleteImport(
        request: Switchboard_Contacts_V1_DeleteImportRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_DeleteImportResponse {
        try await store.deleteImport(orgID: try requireOrg(request.orgID), id: request.id)
        return .init()
    }

    public func listImportErrors(
        request: Switchboard_Contacts_V1_ListImportErrorsRequest, context: ServerContext
    ) async throws -> Switchboard_Contacts_V1_ListImportErrorsResponse {
        var after: (row: Int64, column: String)?
        if !request.page.cursor.isEmpty {
            guard let parts = PageCursor.decode(request.page.cursor, count: 2), let row = Int64(parts[0]) else {
                throw ContactsFailure.invalidCursor
            }
            after = (row, parts[1])
        }
        let limit = try PageCursor.limit(request.page.limit, default: 1000, max: 5000)
        let result = try await store.importErrors(
            orgID: try requireOrg(request.orgID), jobID: request.id, after: after, limit: limit)
        return .with {
            $0.errors = result.errors.map { error in
                .with {
                    $0.row = error.row
                    $0.column = error.column
                    $0.value = error.value
                    $0.reason = error.reason
                    $0.message = error.message
                }
            }
            if result.more, let last = result.errors.last {
                $0.page.nextCursor = PageCursor.encode([String(last.row), last.column])
            }
        }
    }


    private func consentSource(_ raw: String) throws(ServiceFailure) -> String {
        if raw.isEmpty { return ConsentSource.api.rawValue }
        guard ConsentSource(rawValue: raw) != nil else {
            throw .invalid("invalid_consent_source", "unknown consent source '\(Echo.short(raw))'", field: "source")
        }
        return raw
    }

    public func subscribe(
        request: Switchboard_Common_V1_SubscribeRequest, response: RPCWriter<Switchboard_Common_V1_EventBatch>,
        context: ServerContext
    ) async throws {
        try await EventLog.serve(request, reader: store.writer, writer: response)
    }
}

extension Switchboard_Contacts_V1_Referral {
    /// The referral's non-empty fields under the names the contact's `attributes.ctwa` uses.
    var fields: [String: String] {
        let pairs = [
            ("sourceUrl", sourceURL), ("sourceId", sourceID), ("sourceType", sourceType), ("headline", headline),
            ("body", body), ("mediaType", mediaType), ("imageUrl", imageURL), ("videoUrl", videoURL),
            ("ctwaClid", ctwaClid),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.filter { !$0.1.isEmpty })
    }
}

extension Switchboard_Contacts_V1_ResolveInboundResponse {
    init(_ result: InboundResolution) {
        self.init()
        contact = .init(result.contact)
        created = result.created
        mergedContactIds = result.mergedContactIDs
        consentChange = result.consentChange
        tagsAdded = result.tagsAdded
    }
}
