public import GRPCCore
public import GRPCNIOTransportHTTP2
public import ServiceKit
public import ServiceLifecycle
import SwiftProtobuf
import SwitchboardProtos

/// The transport edge uses to reach the services: HTTP/2 over TCP, plaintext on loopback.
public typealias ServiceTransport = HTTP2ClientTransport.Posix

/// One long-lived gRPC client per service (HTTP/2 multiplexes every call over its connection), run as a
/// ServiceLifecycle service so connections open before traffic and close after it.
public final class ServiceConnections: Service, Sendable {
    public let contacts: GRPCClient<ServiceTransport>
    public let conversations: GRPCClient<ServiceTransport>
    public let messaging: GRPCClient<ServiceTransport>
    public let analytics: GRPCClient<ServiceTransport>

    public init(config: ConfigReader) throws {
        func client(_ service: ServiceName) throws -> GRPCClient<ServiceTransport> {
            let host = service.host(config)
            let port = try service.port(config)
            // An address connects directly; a name (e.g. a compose service) is resolved by DNS.
            let isAddress = host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
            return GRPCClient(
                transport: try .http2NIOPosix(
                    target: isAddress ? .ipv4(address: host, port: port) : .dns(host: host, port: port),
                    transportSecurity: .plaintext,
                    config: .defaults { $0.backoff.max = .seconds(2) }))
        }
        contacts = try client(.contacts)
        conversations = try client(.conversations)
        messaging = try client(.messaging)
        analytics = try client(.analytics)
    }

    public var all: [(ServiceName, GRPCClient<ServiceTransport>)] {
        [(.contacts, contacts), (.conversations, conversations), (.messaging, messaging), (.analytics, analytics)]
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for (_, client) in all { group.addTask { try await client.runConnections() } }
            }
        } onGracefulShutdown: {
            for (_, client) in self.all { client.beginGracefulShutdown() }
        }
    }
}

/// Asks a service's `grpc.health.v1.Health` whether it is serving.
public struct HealthClient<Transport: ClientTransport>: Sendable {
    private let client: Grpc_Health_V1_Health.Client<Transport>

    public init(_ grpc: GRPCClient<Transport>) {
        client = .init(wrapping: grpc)
    }

    /// "SERVING", "NOT_SERVING" or "UNAVAILABLE" (no answer within 3 s: a busy machine's service still answers).
    public func status() async -> String {
        var options = CallOptions.defaults
        options.timeout = .seconds(3)
        options.waitForReady = false
        do {
            let response = try await client.check(.init(), options: options)
            return response.status == .serving ? "SERVING" : "NOT_SERVING"
        } catch {
            return "UNAVAILABLE"
        }
    }
}
