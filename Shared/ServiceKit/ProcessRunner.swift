import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

/// The common entry point of a service executable: logging bootstrap, signal handling, ordered services.
public enum ProcessRunner {
    /// Bootstraps swift-log once per process (executables only, never libraries or tests).
    public static func bootstrapLogging(level: String) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = Logger.Level(rawValue: level.lowercased()) ?? .info
            return handler
        }
    }

    /// Runs the services in order until SIGTERM/SIGINT, then shuts them down in reverse order.
    public static func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
    }
}
