import ContactsKit
import Foundation
import GRPCCore
import GRPCInProcessTransport
import ServiceKit
import Synchronization
import SwitchboardClient
import Testing

@testable import ContactsService

/// Fails the first `failures` RPCs with UNAVAILABLE, as a restarting service would, and counts attempts.
final class FlakyInterceptor: ServerInterceptor {
    let remaining: Mutex<Int>
    let attempts = Mutex(0)

    init(failures: Int) { remaining = Mutex(failures) }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        attempts.withLock { $0 += 1 }
        let fail = remaining.withLock { remaining in
            defer { remaining -= 1 }
            return remaining > 0
        }
        if fail { throw RPCError(code: .unavailable, message: "restarting") }
        return try await next(request, context)
    }
}

@Suite("Client retries")
struct RetryTests {
    func withFlakyContacts(
        failures: Int, _ body: @Sendable (ContactsClient<InProcessTransport.Client>, FlakyInterceptor) async throws -> Void
    ) async throws {
        let store = try ContactsStore.inMemory()
        let directory = NSTemporaryDirectory() + "switchboard-retry-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try ImportFiles(directory: directory)
        let flaky = FlakyInterceptor(failures: failures)
        let transport = InProcessTransport()
        let server = GRPCServer(
            transport: transport.server, services: [ContactsAPI(store: store, files: files, worker: nil)],
            interceptors: [flaky, InternalTokenInterceptor(token: "t")])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            try await withGRPCClient(transport: transport.client) { grpc in
                try await body(ContactsClient(grpc, caller: RPCCaller(token: "t", maxRetries: 3)), flaky)
            }
            server.beginGracefulShutdown()
        }
    }

    @Test func idempotentReadsAreRetriedOnUnavailable() async throws {
        try await withFlakyContacts(failures: 2) { client, flaky in
            let page = try await client.list(orgID: "o", query: ContactQuery())
            #expect(page.items.isEmpty)
            #expect(flaky.attempts.withLock { $0 } == 3)
        }
    }

    @Test func retriesStopAfterTheLimitWithATypedError() async throws {
        try await withFlakyContacts(failures: 10) { client, flaky in
            do {
                _ = try await client.get(orgID: "o", id: "x")
                Issue.record("expected a failure")
            } catch let error as ServiceFailure {
                #expect(error.code == .unavailable && error.reason == "service_unavailable")
            }
            #expect(flaky.attempts.withLock { $0 } == 4)
        }
    }

    @Test func writesAreNeverRetried() async throws {
        try await withFlakyContacts(failures: 1) { client, flaky in
            do {
                _ = try await client.create(
                    orgID: "o", input: ContactInput(phone: "+15550001111"), upsert: false, actor: .system)
                Issue.record("expected a failure")
            } catch let error as ServiceFailure {
                #expect(error.code == .unavailable)
            }
            #expect(flaky.attempts.withLock { $0 } == 1)
            #expect(try await client.list(orgID: "o", query: ContactQuery()).items.isEmpty)
        }
    }
}
