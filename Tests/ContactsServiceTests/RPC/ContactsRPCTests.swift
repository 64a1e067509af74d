import ContactsKit
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Logging
import ServiceKit
import SwitchboardClient
import Testing

@testable import ContactsService

/// The real contacts service behind the in-process transport, called through the typed client.
@Suite("Contacts over RPC")
struct ContactsRPCTests {
    static let token = "test-token"

    /// Runs `body` with a client connected to a fresh service (and its import worker).
    func withContacts(
        token: String = Self.token,
        _ body: @Sendable (ContactsClient<InProcessTransport.Client>) async throws -> Void
    ) async throws {
        let store = try ContactsStore.inMemory()
        let directory = NSTemporaryDirectory() + "switchboard-rpc-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try ImportFiles(directory: directory)
        let worker = ImportWorker(store: store, logger: Logger(label: "test"))
        let api = ContactsAPI(store: store, files: files, worker: worker)
        let transport = InProcessTransport()
        let server = GRPCServer(
            transport: transport.server, services: [api],
            interceptors: [InternalTokenInterceptor(token: Self.token)])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            group.addTask { try await worker.run() }
            try await withGRPCClient(transport: transport.client) { grpc in
                try await body(ContactsClient(grpc, caller: RPCCaller(token: token, timeout: .seconds(5))))
            }
            server.beginGracefulShutdown()
            group.cancelAll()
        }
    }

    let actor = Actor(kind: "api_key", id: "k1", name: "admin")

    @Test func createGetAndListRoundTrip() async throws {
        try await withContacts { client in
            let created = try await client.create(
                orgID: "o1", input: ContactInput(phone: "+919876543210", name: "John", tags: ["customer"], optedIn: true),
                upsert: false, actor: actor)
            #expect(created.created)
            let fetched = try await client.get(orgID: "o1", id: created.contact.id)
            #expect(fetched == created.contact)
            #expect(fetched.optInProof?.actor == actor)
            let page = try await client.list(orgID: "o1", query: ContactQuery(tags: ["customer"]))
            #expect(page.items.map(\.id) == [created.contact.id])
        }
    }

    @Test func batchReadsKeepOrderAndOrgBoundaries() async throws {
        try await withContacts { client in
            let a = try await client.create(
                orgID: "o1", input: ContactInput(phone: "+15550000001"), upsert: false, actor: actor)
            let b = try await client.create(
                orgID: "o2", input: ContactInput(phone: "+15550000002"), upsert: false, actor: actor)
            let found = try await client.batchGet([
                ("o2", b.contact.id), ("o1", a.contact.id), ("o1", b.contact.id), ("o1", "nope"),
            ])
            #expect(found.map { $0?.id } == [b.contact.id, a.contact.id, nil, nil])
        }
    }

    @Test func concurrentReadsAreFoldedAndEachGetsItsOwnAnswer() async throws {
        try await withContacts { client in
            var ids: [String] = []
            for index in 0..<40 {
                ids.append(
                    try await client.create(
                        orgID: "o1", input: ContactInput(phone: "+1555100\(String(format: "%04d", index))"),
                        upsert: false, actor: actor
                    ).contact.id)
            }
            let reader = ContactReader(client: client, maxBatch: 8)
            let expected = ids
            try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for round in 0..<5 {
                    for (index, id) in expected.enumerated() {
                        group.addTask {
                            let org = (index + round).isMultiple(of: 7) ? "other-org" : "o1"
                            do {
                                return (index, try await reader.get(orgID: org, id: id).id + "@" + org)
                            } catch let error as ServiceFailure {
                                #expect(org == "other-org" && error.reason == "contact_not_found")
                                return (index, nil)
                            }
                        }
                    }
                }
                for try await (index, answer) in group {
                    if let answer { #expect(answer == expected[index] + "@o1") }
                }
            }
        }
    }

    @Test func failuresKeepTheirReasonFieldAndDetails() async throws {
        try await withContacts { client in
            do {
                _ = try await client.create(orgID: "o1", input: ContactInput(phone: "12345"), upsert: false, actor: actor)
                Issue.record("expected invalid_phone")
            } catch let error as ServiceFailure {
                #expect(error.code == .invalidArgument)
                #expect(error.reason == "invalid_phone")
                #expect(error.field == "phone")
            }
            let first = try await client.create(
                orgID: "o1", input: ContactInput(phone: "+12125551234"), upsert: false, actor: actor)
            do {
                _ = try await client.create(orgID: "o1", input: ContactInput(phone: "+12125551234"), upsert: false, actor: actor)
                Issue.record("expected contact_exists")
            } catch let error as ServiceFailure {
                #expect(error.code == .alreadyExists)
                #expect(error.reason == "contact_exists")
                #expect(error.details["contactId"] == first.contact.id)
            }
            do {
                _ = try await client.get(orgID: "other-org", id: first.contact.id)
                Issue.record("expected not found")
            } catch let error as ServiceFailure {
                #expect(error.code == .notFound && error.reason == "contact_not_found")
            }
        }
    }

    @Test func aWrongInternalTokenIsUnauthenticated() async throws {
        try await withContacts(token: "wrong") { client in
            do {
                _ = try await client.list(orgID: "o1", query: ContactQuery())
                Issue.record("expected a refusal")
            } catch let error as ServiceFailure {
                #expect(error.reason == "internal_error")
                #expect(error.message.contains("internal token"))
            }
        }
    }

    @Test func uploadStreamsChunksAndTheWorkerImports() async throws {
        try await withContacts { client in
            var text = "phone,name,tags,optedIn\n"
            for index in 0..<500 { text += "+1777\(String(format: "%07d", index)),N\(index),\"a,b\",yes\n" }
            let bytes = Array(text.utf8)
            let chunks = stride(from: 0, to: bytes.count, by: 1000).map { Array(bytes[$0..<min($0 + 1000, bytes.count)]) }
            let job = try await client.uploadImport(
                orgID: "o1", fileName: "n.csv", actor: actor, chunks: AsyncStream { continuation in
                    for chunk in chunks { continuation.yield(chunk) }
                    continuation.finish()
                })
            #expect(job.status == .uploaded && job.totalRows == 500 && job.sizeBytes == Int64(bytes.count))
            #expect(job.preview.rows.count == 20)
            _ = try await client.confirmImport(orgID: "o1", id: job.id, mapping: [], actor: actor)
            var current = job
            for _ in 0..<100 where current.status != .completed {
                try await Task.sleep(for: .milliseconds(50))
                current = try await client.importJob(orgID: "o1", id: job.id)
            }
            #expect(current.status == .completed && current.created == 500)
            let tagged = try await client.list(orgID: "o1", query: ContactQuery(tags: ["a", "b"], optedIn: true, limit: 200))
            #expect(tagged.items.count == 200 && tagged.nextCursor != nil)
        }
    }
}

extension AsyncStream: @unchecked @retroactive Sendable where Element: Sendable {}
