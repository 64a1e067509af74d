import ContactsKit
import Foundation
import Hummingbird
import HTTPTypes
import SwitchboardClient
import NIOCore
import ServiceKit
import Synchronization

/// `/api/whatsapp-api/contacts/imports…`: sample → upload (streamed) → preview → confirm → status → errors.
struct ImportRoutes {
    let deps: EdgeDependencies

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
                "Upload a CSV file (≤ 100 MB, ≤ 1,000,000 rows); answers the job with its preview", tag: "Import",
                body: .csv, query: [("fileName", "a name to show for the file", false)], status: 201,
                response: "ImportJob", errors: [400, 413]), on: group, prefix: p, upload)
        registry.add(
            RouteSpec(.get, "\(p)/contacts/imports", "listImports", "Import jobs, newest first", tag: "Import",
                      query: [("cursor", "", false), ("limit", "1–200", false)], response: "ImportJobList",
                      errors: [400]), on: group, prefix: p, list)
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
        let chunks = LimitedBody(body: request.body, limit: Int(ImportLimits.maxBytes))
        let fileName = request.query("fileName") ?? "contacts.csv"
        do {
            let job = try await deps.contacts.uploadImport(
                orgID: caller.orgID, fileName: fileName, actor: caller.actor, chunks: chunks)
            return .json(Render.importJob(job), status: .created)
        } catch {
            if chunks.exceeded.isSet {
                throw APIError(.contentTooLarge, "payload_too_large", "an import file may be at most 100 MB")
            }
            throw error
        }
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let page = try await deps.contacts.importJobs(
            orgID: caller.orgID, cursor: request.query("cursor"), limit: try request.pageLimit())
        return .json(Render.list(page, Render.importJob))
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

/// The request body as byte chunks, stopping (and remembering it) once more than `limit` bytes arrived.
struct LimitedBody: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let body: RequestBody
    let limit: Int
    let exceeded = Flag()

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .relaxed) }
        func set() { value.store(true, ordering: .relaxed) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        let exceeded: Flag
        var total = 0

        mutating func next() async throws -> [UInt8]? {
            guard let buffer = try await base.next() else { return nil }
            total += buffer.readableBytes
            if total > limit {
                exceeded.set()
                throw APIError(.contentTooLarge, "payload_too_large", "an import file may be at most 100 MB")
            }
            return Array(buffer.readableBytesView)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: body.makeAsyncIterator(), limit: limit, exceeded: exceeded)
    }
}
