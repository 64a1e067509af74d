public import ContactsKit
import Foundation
import GRPCCore
import GRDB
import ServiceKit

extension ContactsStore {
    private static let jobColumns = """
        id, org_id, status, file_name, file_path, size_bytes, total_rows, processed_rows, created, updated, unchanged,
        failed, preview, mapping, actor, resume_offset, created_at, started_at, finished_at, error
        """

    /// The list's columns: a summary without the preview and the mapping, so a page stays small.
    private static let summaryColumns = jobColumns.replacingOccurrences(
        of: "preview, mapping,", with: "'' AS preview, '[]' AS mapping,")

    private static func job(_ row: Row) -> ImportJob {
        ImportJob(
            id: row[0], orgID: row[1], status: ImportStatus(rawValue: row[2]) ?? .failed, fileName: row[3],
            filePath: row[4], sizeBytes: row[5], totalRows: row[6], processedRows: row[7], created: row[8],
            updated: row[9], unchanged: row[10], failed: row[11],
            preview: JSONCoding.decode(ImportPreview.self, row[12]) ?? ImportPreview(headers: [], rows: [], suggestedMapping: []),
            mapping: JSONCoding.decode([ImportColumn].self, row[13]) ?? [],
            actor: JSONCoding.decode(Actor.self, row[14]) ?? .system, resumeOffset: row[15], createdAt: row[16],
            startedAt: row[17], finishedAt: row[18], error: row[19])
    }

    static func findJob(_ db: Database, orgID: String, id: String) throws -> ImportJob {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(jobColumns) FROM import_job WHERE id = ? AND org_id = ?", arguments: [id, orgID])
        else { throw ContactsFailure.importNotFound }
        return job(row)
    }

    func insertJob(_ job: ImportJob) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO import_job (\(Self.jobColumns)) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                arguments: [
                    job.id, job.orgID, job.status.rawValue, job.fileName, job.filePath, job.sizeBytes, job.totalRows,
                    job.processedRows, job.created, job.updated, job.unchanged, job.failed,
                    JSONCoding.encode(job.preview), JSONCoding.encode(job.mapping), JSONCoding.encode(job.actor),
                    job.resumeOffset, job.createdAt, job.startedAt, job.finishedAt, job.error,
                ])
        }
    }

    public func importJob(orgID: String, id: String) async throws -> ImportJob {
        try await writer.read { db in try Self.findJob(db, orgID: orgID, id: id) }
    }

    /// One page of an org's jobs, newest first, as summaries (empty preview and mapping).
    public func importJobs(orgID: String, cursor: String?, limit: Int) async throws -> Page<ImportJob> {
        let after = try Self.cursorID(cursor)
        return try await writer.read { db in
            var jobs = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.summaryColumns) FROM import_job WHERE org_id = ? AND (? IS NULL OR id < ?)
                    ORDER BY id DESC LIMIT ?
                    """, arguments: [orgID, after, after, limit + 1]
            ).map(Self.job)
            var next: String?
            if jobs.count > limit {
                jobs.removeLast()
                next = jobs.last.map { PageCursor.encode([$0.id]) }
            }
            return Page(items: jobs, nextCursor: next)
        }
    }

    /// Queues an uploaded job with a mapping (the suggested one when `mapping` is empty).
    public func confirmImport(orgID: String, id: String, mapping: [ImportColumn]) async throws -> ImportJob {
        try await writer.write { db in
            let job = try Self.findJob(db, orgID: orgID, id: id)
            guard job.status == .uploaded else {
                throw ServiceFailure(
                    .failedPrecondition, "import_already_confirmed", "this import is already \(job.status.rawValue)")
            }
            let chosen = mapping.isEmpty ? job.preview.suggestedMapping : mapping
            _ = try ImportPlan(mapping: chosen, headers: job.preview.headers)
            try db.execute(
                sql: "UPDATE import_job SET status = 'queued', mapping = ? WHERE id = ?",
                arguments: [JSONCoding.encode(chosen), id])
            return try Self.findJob(db, orgID: orgID, id: id)
        }
    }

    public func importErrors(orgID: String, jobID: String, after: (row: Int64, column: String)?, limit: Int)
        async throws
        -> (errors: [ImportRowError], more: Bool)
    {
        try await writer.read { db in
            _ = try Self.findJob(db, orgID: orgID, id: jobID)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT row, column_name, value, reason, message FROM import_error
                    WHERE job_id = ? AND (row > ? OR (row = ? AND column_name > ?)) ORDER BY row, column_name LIMIT ?
                    """, arguments: [jobID, after?.row ?? 0, after?.row ?? 0, after?.column ?? "", limit + 1]
            ).map { ImportRowError(row: $0[0], column: $0[1], value: $0[2], reason: $0[3], message: $0[4]) }
            return (Array(rows.prefix(limit)), rows.count > limit)
        }
    }

    /// The oldest job that is queued or was interrupted while processing.
    func nextRunnableJob() async throws -> ImportJob? {
        try await writer.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT \(Self.jobColumns) FROM import_job WHERE status IN ('queued', 'processing')
                    ORDER BY id LIMIT 1
                    """
            ).map(Self.job)
        }
    }

    func markJob(_ id: String, status: ImportStatus, error: String? = nil, resumeOffset: Int64? = nil) async throws {
        try await writer.write { db in
            let now = Millis.now()
            switch status {
            case .processing:
                try db.execute(
                    sql: """
                        UPDATE import_job SET status = 'processing', started_at = COALESCE(started_at, ?),
                        resume_offset = MAX(resume_offset, ?) WHERE id = ?
                        """, arguments: [now, resumeOffset ?? 0, id])
            default:
                try db.execute(
                    sql: "UPDATE import_job SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                    arguments: [status.rawValue, now, error, id])
                try ContactEvents.importFinished(db, jobID: id, at: now)
            }
        }
    }

    /// Applies one batch of rows and advances the job's progress in the same transaction, so a crash
    /// resumes exactly after the last committed batch.
    func applyImportBatch(job: ImportJob, batch: ImportBatch) async throws {
        let proof = JSONCoding.encode(ConsentProof(at: Millis.now(), actor: job.actor, importJobID: job.id))
        let actorJSON = JSONCoding.encode(job.actor)
        try await writer.write { db in
            let now = Millis.now()
            var counts = (created: Int64(0), updated: Int64(0), unchanged: Int64(0), failed: Int64(0))
            let statements = try ImportStatements(db)
            let errorStatement = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO import_error (job_id, row, column_name, value, reason, message)
                    VALUES (?,?,?,?,?,?)
                    """)
            for row in batch.rows {
                if !row.errors.isEmpty {
                    counts.failed += 1
                    for error in row.errors {
                        try errorStatement.execute(arguments: [
                            job.id, error.row, error.column, error.value, error.reason, error.message,
                        ])
                    }
                    continue
                }
                switch try Self.importRow(
                    db, statements, row, orgID: job.orgID, jobID: job.id, proofJSON: proof, actorJSON: actorJSON,
                    now: now)
                {
                case .created: counts.created += 1
                case .updated: counts.updated += 1
                case .unchanged: counts.unchanged += 1
                }
            }
            try db.execute(
                sql: """
                    UPDATE import_job SET processed_rows = ?, created = created + ?, updated = updated + ?,
                    unchanged = unchanged + ?, failed = failed + ?, resume_offset = ? WHERE id = ?
                    """,
                arguments: [
                    batch.lastRow, counts.created, counts.updated, counts.unchanged, counts.failed,
                    Int64(batch.endOffset), job.id,
                ])
        }
    }

    enum RowOutcome { case created, updated, unchanged }

    private static func importRow(
        _ db: Database, _ statements: ImportStatements, _ row: ImportPlan.Row, orgID: String, jobID: String,
        proofJSON: String, actorJSON: String, now: Millis
    ) throws -> RowOutcome {
        guard let existingID = try statements.contactID(orgID: orgID, phone: row.phone, waUserID: row.waUserID),
            var record = try ContactRecord.find(db, orgID: orgID, id: existingID)
        else {
            var record = ContactRecord(id: Identifier.make(), orgID: orgID, now: now)
            record.createdByImport = jobID
            record.phone = row.phone
            record.waUserID = row.waUserID
            record.name = row.name
            record.email = row.email
            if !row.attributes.isEmpty {
                record.attributes = ContactRules.json(Dictionary(row.attributes, uniquingKeysWith: { $1 }))
            }
            if row.optedIn == true {
                record.optedIn = true
                record.optInSource = ConsentSource.csvImport.rawValue
                record.optInProof = proofJSON
                try statements.optIn(
                    id: Identifier.make(), orgID: orgID, contactID: record.id, proof: proofJSON, at: now)
            }
            try statements.insert(record)
            try statements.insertTags(row.tags, contactID: record.id, orgID: orgID)
            try ContactEvents.imported(db, orgID: orgID, contactID: record.id, importID: jobID, at: now)
            if row.optedIn == true {
                try ContactEvents.consent(
                    db, orgID: orgID, contactID: record.id, optedIn: true, source: ConsentSource.csvImport.rawValue,
                    proofJSON: proofJSON, at: now)
            }
            return .created
        }
        let original = record
        var changed: [String] = []
        if record.phone == nil, let phone = row.phone { record.phone = phone; changed.append("phone") }
        if record.waUserID == nil, let waUserID = row.waUserID,
            try ContactRecord.find(db, orgID: orgID, waUserID: waUserID) == nil
        {
            record.waUserID = waUserID
            changed.append("whatsappUserId")
        }
        if let name = row.name, name != record.name { record.name = name; changed.append("name") }
        if let email = row.email, email != record.email { record.email = email; changed.append("email") }
        if !row.attributes.isEmpty {
            var attributes = (try? ContactRules.attributes(record.attributes, allowReserved: true)) ?? [:]
            for (key, value) in row.attributes { attributes[key] = value }
            let json = ContactRules.json(attributes)
            if json != record.attributes { record.attributes = json; changed.append("attributes") }
        }
        if !row.tags.isEmpty {
            let current = try ContactRecord.tags(db, contactID: record.id)
            let added = row.tags.filter { !current.contains($0) }
            if !added.isEmpty {
                try record.addTags(db, added)
                changed.append("tags")
            }
        }
        if row.optedIn == true, !record.optedIn {
            record.optedIn = true
            record.optInSource = ConsentSource.csvImport.rawValue
            record.optInProof = proofJSON
            try statements.optIn(id: Identifier.make(), orgID: orgID, contactID: record.id, proof: proofJSON, at: now)
            try ContactEvents.consent(
                db, orgID: orgID, contactID: record.id, optedIn: true, source: ConsentSource.csvImport.rawValue,
                proofJSON: proofJSON, at: now)
            changed.append("optedIn")
        }
        guard !changed.isEmpty else { return .unchanged }
        record.updatedAt = now
        if record != original { try record.update(db) }
        try record.appendAudit(
            db, action: "imported", actor: actorJSON,
            changes: ContactRules.json(["importJobId": jobID, "fields": changed]), now: now)
        return .updated
    }
}
