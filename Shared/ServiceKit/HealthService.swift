public import GRPCCore
import Synchronization
import SwiftProtobuf
public import SwitchboardProtos

/// `grpc.health.v1.Health` for one process: SERVING while it runs, NOT_SERVING once it starts draining.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol, Sendable {
    public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private let serviceName: String
    private let state: Mutex<(status: Status, watchers: [Int: AsyncStream<Status>.Continuation], next: Int)>

    /// - Parameter serviceName: the fully qualified service name also answered besides "" (the whole server).
    public init(serviceName: String) {
        self.serviceName = serviceName
        self.state = Mutex((.serving, [:], 0))
    }

    public var status: Status { state.withLock { $0.status } }

    public func set(_ status: Status) {
        let watchers = state.withLock { state in
            state.status = status
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.yield(status) }
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
        let id = state.withLock { state in
            let id = state.next
            state.next += 1
            state.watchers[id] = continuation
            continuation.yield(state.status)
            return id
        }
        defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        for await status in stream {
            try await response.write(.with { $0.status = status })
        }
    }
}
