import EdgeService
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceKit

FilePermissions.restrictNewFiles()
ProcessRunner.runTasksOnEventLoops()
let config = ConfigReader()
ProcessRunner.bootstrapLogging(level: config.string("SWITCHBOARD_LOG_LEVEL", default: "info"))
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
let logger = Logger(label: "switchboard.edge")
do {
    let app = try await buildEdgeApplication(config: config, logger: logger, prometheus: registry)
    // (not `app.runService()`: Hummingbird's group names the application by `"\(app)"`, every property printed)
    try await ProcessRunner.run([app], logger: logger)
} catch {
    logger.critical("edge stopped: \(error)")
    exit(ProcessRunner.exitCode(for: error))
}
