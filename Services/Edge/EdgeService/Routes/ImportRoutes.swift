import ContactsKit
import Foundation
import Hummingbird
import HTTPTypes
import SwitchboardClient
import NIOCore
import ServiceKit
import Synchronization

/// `/api/whatsapp-api/contacts/imports…`: sample → upload (spooled, then streamed) → preview → confirm → status →
/// errors; and delete.
struct ImportRoutes {
    let deps: EdgeDependencies
    let uploads: ImportUploads

    static let sample = """
        phone,name,email,tags,optedIn
        +919876543210,John Doe,john@example.com,"vip,retail",true
        +12125551234,Jane Smith,,lead,false

        """

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(.get, "\(p)/contacts/imports/sample", "importSample", "The sample CSV file", tag: "Import",
                      response: "csv"), on: group, prefix: p, sampleFile)
        registry.add(
            RouteSpec(
                .post, "\(p)/contacts/imports", "uploadImport",
                "Upload a CSV file (≤ 100 MB, ≤ 1,000,000 rows, ≤ 500 columns, header ≤ 64 KiB, cells ≤ 32 KiB); "
                    + "answers the job with its preview. At most 2 uploads in flight per key and 4 per org "
                    + "(429 too_many_uploads with Retry-After)", tag: "Import",
                body: .csv, query: [("fileName", "a name to show for the file", false)], status: 201,
                response: "ImportJob", errors: [400, 413, 429]), on: group, prefix: p, upload)
        registry.add(
            RouteSpec(.get, "\(p)/contacts/imports", "listImports",
                      "Import jobs, newest first, as summaries (no preview or mapping: GET one job for those)",
                      tag: "Import", query: [("cursor", "", false), ("limit", "1–200", false)],
                      response: "ImportJobList", errors: [400]), on: group, prefix: p, list)
        registry.add(
            RouteSpec(
                .delete, "\(p)/contacts/imports/{id}", "deleteImport",
                "Delete an import job that is uploaded, completed or failed, with its stored file and error report "
                    + "(the contacts it imported stay); 409 import_in_progress while queued or processing",
                tag: "Import", status: 204, errors: [404, 409]), on: group, prefix: p, delete)
        registry.add(
            RouteSpec(.get, "\(p)/contacts/imports/{id}", "getImport", "An import job with progress and counts",
                      tag: "Import", response: "ImportJob", errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(
                .post, "\(p)/contacts/imports/{id}/confirm", "confirmImport",
                "Start the import with a column mapping (default: the suggested one)", tag: "Import",
                body: .json("ConfirmImportInput"), status: 202, response: "ImportJob", errors: [400, 404, 409]),
            on: group, prefix: p, confirm)
        registry.add(
            RouteSpec(
                .get, "\(p)/contacts/imports/{id}/errors", "importErrors",
                "Rows that failed (row, column, value, reason, message) as CSV, or JSON with ?format=json",
                tag: "Import", query: [("format", "json for JSON; anything else (or none) CSV", false)], response: "csv|ImportErrorList",
                errors: [404]),
            on: group, prefix: p, errors)
    }

    @Sendable func sampleFile(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        _ = try context.requireCaller()
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8",
                .contentDisposition: "attachment; filename=\"contacts-sample.csv\"",
            ], body: .init(byteBuffer: ByteBuffer(string: Self.sample)))
    }

    @Sendable func upload(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        if let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/json") {
            throw APIError(
                .badRequest, "invalid_content_type", "send the CSV file itself as the body (Content-Type: text/csv)")
        }
        if let refusal = uploads.claim(keyID: caller.keyID, orgID: caller.orgID) {
            return Self.tooManyUploads(refusal, limit: refusal == .key ? uploads.perKey : uploads.perOrg)
        }
        defer { uploads.release(keyID: caller.keyID, orgID: caller.orgID) }
        // The whole body is on disk before the RPC starts: a slow client holds a file, not a contacts stream.
        let file = try SpooledUpload(directory: uploads.directory)
        var size: Int64 = 0
        do {
            for try await buffer in request.body {
                size += Int64(buffer.readableBytes)
                guard size <= ImportLimits.maxBytes else {
                    throw APIError(.contentTooLarge, "payload_too_large", "an import file may be at most 100 MB")
                }
                try file.write(buffer)
            }
        } catch let error as APIError {
            throw error
        } catch {
            // The client went away mid-body: nothing to answer it, and nothing went wrong on our side.
            throw APIError(.badRequest, "incomplete_upload", "the upload ended before the whole file arrived")
        }
        let job = try await deps.contacts.uploadImport(
            orgID: caller.orgID, fileName: request.query("fileName") ?? "contacts.csv", actor: caller.actor,
            chunks: file.chunks)
        return .json(Render.importJob(job), status: .created)
    }

    static func tooManyUploads(_ refusal: ImportUploads.Refusal, limit: Int) -> Response {
        let whom = refusal == .key ? "this API key" : "this organisation"
        var response = APIError(
            .tooManyRequests, "too_many_uploads",
            "\(whom) already has \(limit) import upload(s) in progress: retry when one has finished",
            details: [("limit", .int(Int64(limit))), ("scope", .string(refusal.rawValue))]
        ).response(requestID: nil)
        response.headers[.retryAfter] = "5"
        return response
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let page = try await deps.contacts.importJobs(
            orgID: caller.orgID, cursor: request.query("cursor"), limit: try request.pageLimit())
        return .json(Render.list(page, Render.importSummary))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await deps.contacts.deleteImport(orgID: caller.orgID, id: try context.id(notFound: "import"))
        return .noContent()
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let job = try await deps.contacts.importJob(orgID: caller.orgID, id: try context.id(notFound: "import"))
        return .json(Render.importJob(job))
    }

    @Sendable func confirm(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "import")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["mapping"])
        var columns: [ImportColumn] = []
        if let mapping = try body.object("mapping"), case .object(let pairs) = mapping, !pairs.isEmpty {
            let job = try await deps.contacts.importJob(orgID: caller.orgID, id: id)
            for (header, value) in pairs {
                guard let index = job.preview.headers.firstIndex(of: header) else {
                    throw APIError(
                        .badRequest, "invalid_mapping", "the file has no column '\(header)'", field: "mapping")
                }
                let field: String
                switch value {
                case .string(let text): field = text
                case .null: field = "ignore"
                default:
                    throw APIError(.badRequest, "invalid_field", "mapping values must be field names", field: "mapping")
                }
                columns.append(ImportColumn(index: index, header: header, field: field))
            }
        }
        let job = try await deps.contacts.confirmImport(orgID: caller.orgID, id: id, mapping: columns, actor: caller.actor)
        return .json(Render.importJob(job), status: .accepted)
    }

    @Sendable func errors(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.id(notFound: "import")
        let contacts = deps.contacts
        let first = try await contacts.importErrors(orgID: caller.orgID, id: id, cursor: nil, limit: 1000)
        if request.query("format") == "json" {
            var all = first.items
            var cursor = first.nextCursor
            while let next = cursor, all.count < 100_000 {
                let page = try await contacts.importErrors(orgID: caller.orgID, id: id, cursor: next, limit: 5000)
                all += page.items
                cursor = page.nextCursor
            }
            return .json(.object([("data", .array(all.map(Self.render)))]))
        }
        let orgID = caller.orgID
        let requestID = ServiceKit.RequestContext.requestID
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8",
                .contentDisposition: "attachment; filename=\"import-\(id)-errors.csv\"",
            ],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: CSVWriter.row(["row", "column", "value", "reason", "message"])))
                try await writer.write(ByteBuffer(string: Self.csv(first.items)))
                var cursor = first.nextCursor
                while let next = cursor {
                    let page = try await ServiceKit.RequestContext.$requestID.withValue(requestID) {
                        try await contacts.importErrors(orgID: orgID, id: id, cursor: next, limit: 5000)
                    }
                    try await writer.write(ByteBuffer(string: Self.csv(page.items)))
                    cursor = page.nextCursor
                }
                try await writer.finish(nil)
            })
    }

    static func csv(_ errors: [ImportRowError]) -> String {
        errors.map { error in
            CSVWriter.row(
                [String(error.row), error.column, error.value, error.reason, error.message].map(CSVWriter.neutralized))
        }.joined()
    }

    static func render(_ error: ImportRowError) -> JSONValue {
        .object([
            ("row", .int(error.row)), ("column", .string(error.column)), ("value", .string(error.value)),
            ("reason", .string(error.reason)), ("message", .string(error.message)),
        ])
    }
}
