import Foundation
import NIOCore
import NIOPosix
public import Logging
public import ServiceLifecycle
import UnixSignals

/// The common entry point of a service executable: logging bootstrap, signal handling, ordered services.
public enum ProcessRunner {
    /// Makes SwiftNIO's event loops Swift Concurrency's global executor, so an RPC or HTTP request does not hop
    /// between NIO's threads and the cooperative pool at every await. Call first thing in `main`.
    public static func runTasksOnEventLoops() {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// EX_CONFIG (sysexits.h): the exit status of a process stopped by a `ConfigurationProblem`.
    public static let configurationExitCode: Int32 = 78

    /// The status to exit with after `error` stopped the process.
    public static func exitCode(for error: any Error) -> Int32 {
        error is any ConfigurationProblem ? configurationExitCode : 1
    }

    /// Bootstraps swift-log once per process (executables only, never libraries or tests).
    public static func bootstrapLogging(level: String) {
        let level = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label, level: level) }
    }

    /// Runs the services in order until SIGTERM/SIGINT, then shuts them down in reverse order.
    public static func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                // Named by type: the default name is `"\(service)"`, which prints every stored property.
                services: services.map { .init(service: $0, serviceName: String(describing: type(of: $0))) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
    }
}
