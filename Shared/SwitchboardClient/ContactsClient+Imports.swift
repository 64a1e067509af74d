public import ContactsKit
import GRPCCore
public import ServiceKit
import SwiftProtobuf
import SwitchboardProtos

extension ContactsClient {
    /// Streams a CSV file to the contacts service; `chunks` yields the bytes (edge reads them from its spooled copy,
    /// so the RPC is open only while the file is copied at full speed).
    public func uploadImport<Chunks: AsyncSequence & Sendable>(
        orgID: String, fileName: String, actor: Actor, chunks: Chunks
    ) async throws(ServiceFailure) -> ImportJob where Chunks.Element == [UInt8] {
        var options = caller.options
        options.timeout = .seconds(600)
        let metadata = caller.metadata
        let job = try await caller.call("UploadImport", idempotent: false) { _, _ in
            try await client.uploadImport(metadata: metadata, options: options) { writer in
                var first = true
                for try await bytes in chunks {
                    try await writer.write(
                        .with {
                            if first {
                                $0.orgID = orgID
                                $0.fileName = fileName
                                $0.actor = .init(actor)
                            }
                            $0.data = .init(bytes)
                        })
                    first = false
                }
                if first {
                    try await writer.write(.with { $0.orgID = orgID; $0.fileName = fileName; $0.actor = .init(actor) })
                }
            }
        }
        return ImportJob(job)
    }

    public func importJob(orgID: String, id: String) async throws(ServiceFailure) -> ImportJob {
        let request = Switchboard_Contacts_V1_GetImportRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        return ImportJob(
            try await caller.call("GetImport", idempotent: true) { metadata, options in
                try await client.getImport(request, metadata: metadata, options: options)
            })
    }

    public func importJobs(orgID: String, cursor: String?, limit: Int) async throws(ServiceFailure) -> Page<ImportJob> {
        let request = Switchboard_Contacts_V1_ListImportsRequest.with {
            $0.orgID = orgID
            $0.page.cursor = cursor ?? ""
            $0.page.limit = Int32(limit)
        }
        let response = try await caller.call("ListImports", idempotent: true) { metadata, options in
            try await client.listImports(request, metadata: metadata, options: options)
        }
        return Page(items: response.jobs.map(ImportJob.init), nextCursor: response.page.nextCursor.nonEmptyValue)
    }

    public func confirmImport(orgID: String, id: String, mapping: [ImportColumn], actor: Actor)
        async throws(ServiceFailure) -> ImportJob
    {
        let request = Switchboard_Contacts_V1_ConfirmImportRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.mapping = mapping.map(Switchboard_Contacts_V1_ImportColumn.init)
            $0.actor = .init(actor)
        }
        return ImportJob(
            try await caller.call("ConfirmImport", idempotent: false) { metadata, options in
                try await client.confirmImport(request, metadata: metadata, options: options)
            })
    }

    /// Deletes a job that is not queued or processing, with its file and error rows; its contacts stay.
    public func deleteImport(orgID: String, id: String) async throws(ServiceFailure) {
        let request = Switchboard_Contacts_V1_DeleteImportRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        _ = try await caller.call("DeleteImport", idempotent: true) { metadata, options in
            try await client.deleteImport(request, metadata: metadata, options: options)
        }
    }

    /// One page of an import's row errors (ordered by row, then column).
    public func importErrors(orgID: String, id: String, cursor: String?, limit: Int) async throws(ServiceFailure)
        -> Page<ImportRowError>
    {
        let request = Switchboard_Contacts_V1_ListImportErrorsRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.page.cursor = cursor ?? ""
            $0.page.limit = Int32(limit)
        }
        let response = try await caller.call("ListImportErrors", idempotent: true) { metadata, options in
            try await client.listImportErrors(request, metadata: metadata, options: options)
        }
        return Page(
            items: response.errors.map {
                ImportRowError(row: $0.row, column: $0.column, value: $0.value, reason: $0.reason, message: $0.message)
            }, nextCursor: response.page.nextCursor.nonEmptyValue)
    }
}
