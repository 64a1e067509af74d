import MessagingService
import Foundation
import Logging
import ServiceKit

FilePermissions.restrictNewFiles()
ProcessRunner.runTasksOnEventLoops()
let config = ConfigReader()
ProcessRunner.bootstrapLogging(level: config.string("SWITCHBOARD_LOG_LEVEL", default: "info"))
let logger = Logger(label: "switchboard.messaging")
do {
    try await ProcessRunner.run(try makeMessagingServices(config: config, logger: logger), logger: logger)
} catch {
    logger.critical("messaging stopped: \(error)")
    exit(ProcessRunner.exitCode(for: error))
}
