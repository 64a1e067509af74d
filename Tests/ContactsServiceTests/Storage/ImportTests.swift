import ContactsKit
import Foundation
import Logging
import ServiceKit
import Testing

@testable import ContactsService

/// Upload → preview → confirm → batches, with the real CSV reader on a temporary file.
@Suite("CSV import")
final class ImportTests {
    let store = try! ContactsStore.inMemory()
    let directory = NSTemporaryDirectory() + "switchboard-import-\(UUID().uuidString)"
    let org = "org-a"

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func upload(_ text: String) async throws -> ImportJob {
        let files = try ImportFiles(directory: directory)
        let id = Identifier.make()
        let path = files.path(for: id)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let scan = try ImportFiles.preview(path: path)
        let job = ImportJob(
            id: id, orgID: org, status: .uploaded, fileName: "t.csv", filePath: path, sizeBytes: Int64(text.utf8.count),
            totalRows: scan.rows, processedRows: 0, created: 0, updated: 0, unchanged: 0, failed: 0,
            preview: scan.preview, mapping: [], actor: Actor(kind: "api_key", id: "k", name: "admin"), resumeOffset: 0,
            createdAt: Millis.now(), startedAt: nil, finishedAt: nil, error: nil)
        try await store.insertJob(job)
        return job
    }

    func run(_ job: ImportJob, mapping: [ImportColumn] = []) async throws -> ImportJob {
        _ = try await store.confirmImport(orgID: org, id: job.id, mapping: mapping)
        let worker = ImportWorker(store: store, logger: Logger(label: "test"))
        await worker.drain()
        return try await store.importJob(orgID: org, id: job.id)
    }

    @Test func theProductSampleWorksAsIs() async throws {
        let job = try await upload(
            "phone,name,email,tags,optedIn\r\n+919876543210,John Doe,john@example.com,\"vip,retail\",true\r\n"
                + "+12125551234,Jane Smith,,lead,false\r\n")
        #expect(job.totalRows == 2)
        #expect(job.preview.headers == ["phone", "name", "email", "tags", "optedIn"])
        #expect(job.preview.suggestedMapping.map(\.field) == ["phone", "name", "email", "tags", "optedIn"])
        let done = try await run(job)
        #expect(done.status == .completed)
        #expect((done.created, done.updated, done.unchanged, done.failed) == (2, 0, 0, 0))
        let john = try await store.contacts(orgID: org, query: ContactQuery(text: "john")).items[0]
        #expect(john.tags == ["retail", "vip"])
        #expect(john.optedIn && john.optInSource == "csv_import")
        #expect(john.optInProof?.importJobID == job.id)
        let jane = try await store.contacts(orgID: org, query: ContactQuery(text: "jane")).items[0]
        #expect(!jane.optedIn && jane.email == nil)

        // The creation by the import is in the contact's audit trail, with the job's actor, and outlives deletion.
        let trail = try await store.audit(orgID: org, contactID: john.id, cursor: nil, limit: 50).items
        #expect(trail.map(\.action) == ["imported"])
        #expect(trail[0].actor == Actor(kind: "api_key", id: "k", name: "admin"))
        #expect(trail[0].changesJSON.contains(job.id) && trail[0].at == john.createdAt)
        _ = try await store.addTags(orgID: org, contactID: john.id, tags: ["later"], actor: .system)
        let firstPage = try await store.audit(orgID: org, contactID: john.id, cursor: nil, limit: 1)
        #expect(firstPage.items.map(\.action) == ["tags_added"] && firstPage.nextCursor != nil)
        let secondPage = try await store.audit(orgID: org, contactID: john.id, cursor: firstPage.nextCursor, limit: 1)
        #expect(secondPage.items.map(\.action) == ["imported"] && secondPage.nextCursor == nil)
        try await store.delete(orgID: org, id: john.id, actor: .system)
        let afterDelete = try await store.audit(orgID: org, contactID: john.id, cursor: nil, limit: 50).items
        #expect(afterDelete.map(\.action) == ["deleted", "tags_added", "imported"])
    }

    @Test func duplicatesMergeBadRowsFailAloneAndReimportIsUnchanged() async throws {
        let csv = """
            \u{FEFF}Mobile,Full Name,E-mail,City,Notes
            +15550000001,Ann,ann@example.com,Paris,x
            +1 555 000 0001,Ann B,,Lyon,y
            not-a-phone,Bob,bob@example.com,Rome,z
            +15550000002,Cy,bad-email,Oslo,w
            +15550000003,"Dee, Jr.","dee@example.com","New
            York",v

            """
        let job = try await upload(csv)
        #expect(job.totalRows == 5)
        let mapping = [
            ImportColumn(index: 0, header: "Mobile", field: "phone"),
            ImportColumn(index: 1, header: "Full Name", field: "name"),
            ImportColumn(index: 2, header: "E-mail", field: "email"),
            ImportColumn(index: 3, header: "City", field: "attribute:city"),
            ImportColumn(index: 4, header: "Notes", field: "ignore"),
        ]
        let done = try await run(job, mapping: mapping)
        #expect((done.created, done.updated, done.unchanged, done.failed) == (2, 1, 0, 2))
        let ann = try await store.contacts(orgID: org, query: ContactQuery(text: "+15550000001")).items
        #expect(ann.count == 1)
        #expect(ann[0].name == "Ann B")
        #expect(ann[0].attributesJSON == #"{"city":"Lyon"}"#)
        let dee = try await store.contacts(orgID: org, query: ContactQuery(text: "dee")).items[0]
        #expect(dee.name == "Dee, Jr.")
        #expect(dee.attributesJSON.contains("New\\nYork"))
        let errors = try await store.importErrors(orgID: org, jobID: job.id, after: nil, limit: 100).errors
        #expect(errors.map(\.row) == [3, 4])
        #expect(errors.map(\.reason) == ["invalid_phone", "invalid_email"])
        #expect(errors.map(\.column) == ["Mobile", "E-mail"])

        let again = try await run(try await upload(csv), mapping: mapping)
        // Ann's two rows disagree, so each re-import flips her twice (2 updated); Dee is unchanged.
        #expect((again.created, again.updated, again.unchanged, again.failed) == (0, 2, 1, 2))
        await #expect(throws: ServiceFailure.self) { _ = try await store.confirmImport(orgID: org, id: job.id, mapping: []) }
    }

    @Test func aRowWithMoreTagsThanAContactMayCarryFailsAlone() async throws {
        let many = (1...51).map { "t\($0)" }.joined(separator: ",")
        let csv = "phone,tags\n+15550000101,\"\(many)\"\n+15550000102,\"a,b\"\n"
        let job = try await upload(csv)
        let mapping = [
            ImportColumn(index: 0, header: "phone", field: "phone"), ImportColumn(index: 1, header: "tags", field: "tags"),
        ]
        let done = try await run(job, mapping: mapping)
        #expect((done.created, done.failed) == (1, 1))
        let errors = try await store.importErrors(orgID: org, jobID: job.id, after: nil, limit: 10).errors
        #expect(errors.map(\.reason) == ["too_many_tags"])
    }

    @Test func anExistingContactIsOptedInByTheImportWithTheJobAsProof() async throws {
        let existing = try await store.create(
            orgID: org, input: ContactInput(phone: "+15550009999", name: "Kim"), upsert: false, actor: .system,
            consentSource: "api")
        #expect(!existing.contact.optedIn)
        let job = try await upload("phone,optedIn\n+15550009999,true\n")
        let done = try await run(job)
        #expect((done.created, done.updated) == (0, 1))
        let kim = try store.contact(orgID: org, id: existing.contact.id)
        #expect(kim.optedIn && kim.optInSource == "csv_import" && kim.optInProof?.importJobID == job.id)
        let ledger = try await store.consentLedger(orgID: org, contactID: kim.id)
        #expect(ledger.map(\.source) == ["csv_import"] && ledger[0].proof.importJobID == job.id)
    }

    @Test func mappingsAreValidated() async throws {
        let job = try await upload("a,b\n1,2\n")
        for mapping in [
            [ImportColumn(index: 0, header: "a", field: "name")],
            [ImportColumn(index: 0, header: "a", field: "phone"), ImportColumn(index: 1, header: "b", field: "phone")],
            [ImportColumn(index: 5, header: "x", field: "phone")],
            [ImportColumn(index: 0, header: "a", field: "phone"), ImportColumn(index: 1, header: "b", field: "bogus")],
        ] {
            await #expect(throws: ServiceFailure.self) { _ = try await store.confirmImport(orgID: org, id: job.id, mapping: mapping) }
        }
        #expect(try await store.importJob(orgID: org, id: job.id).status == .uploaded)
    }

    @Test func anInterruptedJobResumesAfterItsLastBatch() async throws {
        var lines = ["phone,name"]
        for index in 0..<12_000 { lines.append("+1666\(String(format: "%07d", index)),N\(index)") }
        let job = try await upload(lines.joined(separator: "\n") + "\n")
        _ = try await store.confirmImport(orgID: org, id: job.id, mapping: [])
        // Simulate a crash after the first batch: apply it by hand, leave the job "processing".
        var reader = try CSVFileReader(path: job.filePath)
        let header = try #require(try reader.next())
        try await store.markJob(job.id, status: .processing, resumeOffset: Int64(header.endOffset))
        let queued = try await store.importJob(orgID: org, id: job.id)
        let plan = try ImportPlan(mapping: queued.mapping, headers: queued.preview.headers)
        let batch = try ImportBatch.read(from: &reader, plan: plan, after: 0, size: 5_000)
        #expect(batch.rows.count == 5_000 && batch.lastRow == 5_000)
        try await store.applyImportBatch(job: queued, batch: batch)
        let worker = ImportWorker(store: store, logger: Logger(label: "test"))
        #expect(try await store.importJob(orgID: org, id: job.id).processedRows == 5_000)
        await worker.drain()
        let done = try await store.importJob(orgID: org, id: job.id)
        #expect(done.status == .completed)
        #expect(done.processedRows == 12_000)
        #expect(done.created == 12_000)
        #expect(try await store.contacts(orgID: org, query: ContactQuery(text: "+16660011999")).items.count == 1)
    }
}

@Suite("Import limits")
final class ImportLimitTests {
    let directory = NSTemporaryDirectory() + "switchboard-limits-\(UUID().uuidString)"

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    @Test func anUploadOverTheByteLimitIsRefusedAndDiscarded() throws {
        let files = try ImportFiles(directory: directory)
        let writer = try ImportFiles.Writer(path: files.path(for: "big"), maxBytes: 10)
        try writer.write(Array("phone\n".utf8))
        #expect(throws: ServiceFailure.invalid("payload_too_large", "an import file may be at most 100 MB", field: "file")) {
            try writer.write(Array("+15550001111\n".utf8))
        }
        writer.discard()
        #expect(!FileManager.default.fileExists(atPath: files.path(for: "big")))
    }

    @Test func aFileOverTheRowLimitIsRefusedAtPreview() throws {
        let files = try ImportFiles(directory: directory)
        let path = files.path(for: "rows")
        try Data("phone\n+15550000001\n+15550000002\n+15550000003\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try ImportFiles.preview(path: path, maxRows: 3).rows == 3)
        #expect(throws: ServiceFailure.self) { _ = try ImportFiles.preview(path: path, maxRows: 2) }
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(throws: ServiceFailure.self) { _ = try ImportFiles.preview(path: path) }
    }

    @Test func oversizedCellsHeadersAndColumnCountsAreRefusedAtPreviewAndPreviewCellsAreCut() throws {
        let files = try ImportFiles(directory: directory)
        let path = files.path(for: "limits")
        func reason(_ text: String) -> String? {
            try? Data(text.utf8).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ImportFiles.preview(path: path)
                return nil
            } catch let failure as ServiceFailure {
                return failure.reason
            } catch {
                return "\(error)"
            }
        }
        let big = String(repeating: "z", count: ImportLimits.maxCellBytes + 1)
        #expect(reason("phone,notes\n+15550000001,a\n+15550000002,\(big)\n") == "cell_too_large")
        let failure = ImportFiles.cellTooLarge(row: 2, field: 1, ["phone", "notes"])
        #expect(failure.details == ["row": "2", "column": "notes"])
        #expect(reason("phone,\(big)\n+15550000001\n") == "header_too_large")
        let header = (0..<40).map { "h\($0)" + String(repeating: "h", count: 2000) }.joined(separator: ",")
        #expect(reason(header + "\n+15550000001\n") == "header_too_large")
        let wide = (0...ImportLimits.maxColumns).map { "c\($0)" }.joined(separator: ",")
        #expect(reason(wide + "\n+15550000001\n") == "too_many_columns")

        let cell = String(repeating: "q", count: ImportLimits.maxCellBytes)
        try Data("phone,notes\n+15550000001,\(cell),extra\n".utf8).write(to: URL(fileURLWithPath: path))
        let scan = try ImportFiles.preview(path: path)
        #expect(scan.preview.rows == [["+15550000001", String(repeating: "q", count: ImportLimits.previewCellCharacters)]])
    }
}

