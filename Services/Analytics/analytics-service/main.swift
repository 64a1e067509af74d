import AnalyticsService
import Foundation
import Logging
import ServiceKit

FilePermissions.restrictNewFiles()
ProcessRunner.runTasksOnEventLoops()
let config = ConfigReader()
ProcessRunner.bootstrapLogging(level: config.string("SWITCHBOARD_LOG_LEVEL", default: "info"))
let logger = Logger(label: "switchboard.analytics")
do {
    try await ProcessRunner.run(try makeAnalyticsServices(config: config, logger: logger), logger: logger)
} catch {
    logger.critical("analytics stopped: \(error)")
    exit(ProcessRunner.exitCode(for: error))
}
