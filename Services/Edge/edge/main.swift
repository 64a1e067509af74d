import EdgeService
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceKit

ProcessRunner.runTasksOnEventLoops()
let config = ConfigReader()
ProcessRunner.bootstrapLogging(level: config.string("SWITCHBOARD_LOG_LEVEL", default: "info"))
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
let logger = Logger(label: "switchboard.edge")
do {
    let app = try await buildEdgeApplication(config: config, logger: logger, prometheus: registry)
    try await app.runService()
} catch {
    logger.critical("edge stopped: \(error)")
    exit(1)
}
