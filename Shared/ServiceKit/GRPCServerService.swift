public import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import SwitchboardProtos
public import Logging
public import ServiceLifecycle

/// Runs a gRPC server over HTTP/2 on loopback as a ServiceLifecycle service.
///
/// On graceful shutdown (SIGTERM) health turns NOT_SERVING, the server stops accepting new RPCs and
/// drains the in-flight ones; `run()` then returns and the process exits 0.
public struct GRPCServerService: Service {
    let host: String
    let port: Int
    let services: [any RegistrableRPCService]
    let health: HealthService
    let token: String
    let logger: Logger
    let name: String

    public init(
        name: String, host: String, port: Int, token: String, services: [any RegistrableRPCService],
        health: HealthService, logger: Logger
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.token = token
        self.services = services
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: host, port: port), transportSecurity: .plaintext,
                config: .defaults { $0.rpc.maxRequestPayloadSize = 8 << 20 }),
            services: services + [health],
            interceptors: [RequestLoggingInterceptor(logger: logger), InternalTokenInterceptor(token: token)]
        )
        logger.info("\(name) serving gRPC on \(host):\(port)")
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            logger.info("\(name) draining")
            EventLog.shuttingDown.store(true, ordering: .relaxed)
            health.beginShutdown()
            server.beginGracefulShutdown()
        }
        logger.info("\(name) stopped")
    }
}
