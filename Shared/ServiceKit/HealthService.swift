public import GRPCCore
import Synchronization
import SwiftProtobuf
public import SwitchboardProtos

/// `grpc.health.v1.Health` for one process: SERVING while it runs, NOT_SERVING once it starts draining.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol, Sendable {
    public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private struct State {
        var status: Status = .serving
        var shuttingDown = false
        var watchers: [Int: AsyncStream<Status>.Continuation] = [:]
        var nextWatcher = 0
    }

    private let serviceName: String
    private let state = Mutex(State())

    /// - Parameter serviceName: the fully qualified service name also answered besides "" (the whole server).
    public init(serviceName: String) {
        self.serviceName = serviceName
    }

    public var status: Status { state.withLock { $0.status } }

    public func set(_ status: Status) {
        let watchers = state.withLock { state in
            state.status = status
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// Tells every watcher NOT_SERVING and ends their streams, so open `Watch` calls do not hold up a drain.
    public func beginShutdown() {
        let watchers = state.withLock { state in
            state.status = .notServing
            state.shuttingDown = true
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers {
            watcher.yield(.notServing)
            watcher.finish()
        }
    }

    private func status(for service: String) -> Status? {
        guard service.isEmpty || service == serviceName else { return nil }
        return status
    }

    public func check(
        request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard let status = status(for: request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \(request.service)")
        }
        return .with { $0.status = status }
    }

    public func list(
        request: Grpc_Health_V1_HealthListRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthListResponse {
        let response = Grpc_Health_V1_HealthCheckResponse.with { $0.status = status }
        return .with { $0.statuses = ["": response, serviceName: response] }
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        guard status(for: request.service) != nil else {
            try await response.write(.with { $0.status = .serviceUnknown })
            return
        }
        let (stream, continuation) = AsyncStream<Status>.makeStream()
        let id = state.withLock { state -> Int? in
            continuation.yield(state.status)
            if state.shuttingDown {
                continuation.finish()
                return nil
            }
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = continuation
            return id
        }
        defer { if let id { _ = state.withLock { $0.watchers.removeValue(forKey: id) } } }
        for await status in stream {
            try await response.write(.with { $0.status = status })
        }
    }
}
