import ContactsKit
import Foundation
import GRDB
import GRPCCore
public import ServiceKit

/// Removing import jobs: on request (`DeleteImport`) and when an upload was never confirmed in time.
///
/// A job goes with its error rows and its stored file; the contacts it imported stay (they remember the job's id
/// in their audit trail and consent proofs).
extension ContactsStore {
    /// Deletes one job that is uploaded, completed or failed; a queued or processing job is refused (409).
    public func deleteImport(orgID: String, id: String) async throws {
        let path = try await writer.write { db -> String in
            let job = try Self.findJob(db, orgID: orgID, id: id)
            guard job.status != .queued, job.status != .processing else {
                throw ServiceFailure(
                    .failedPrecondition, "import_in_progress",
                    "this import is \(job.status.rawValue): it can be deleted once it has completed or failed")
            }
            try Self.removeJob(db, id: id)
            return job.filePath
        }
        Self.removeFile(path)
    }

    /// Deletes the jobs still `uploaded` (never confirmed) that were created before `cutoff`; answers how many.
    @discardableResult
    public func pruneUnconfirmedImports(createdBefore cutoff: Millis) async throws -> Int {
        let paths = try await writer.write { db -> [String] in
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, file_path FROM import_job WHERE status = 'uploaded' AND created_at < ?",
                arguments: [cutoff])
            for row in rows { try Self.removeJob(db, id: row[0]) }
            return rows.map { $0[1] }
        }
        paths.forEach(Self.removeFile)
        return paths.count
    }

    private static func removeJob(_ db: Database, id: String) throws {
        try db.execute(sql: "DELETE FROM import_error WHERE job_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM import_job WHERE id = ?", arguments: [id])
    }

    /// The file may already be gone (a completed job's file is removed when it finishes).
    private static func removeFile(_ path: String) {
        guard !path.isEmpty else { return }
        unlink(path)
    }
}
