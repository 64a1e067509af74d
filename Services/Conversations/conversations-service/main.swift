import ConversationsService
import Foundation
import Logging
import ServiceKit

FilePermissions.restrictNewFiles()
ProcessRunner.runTasksOnEventLoops()
let config = ConfigReader()
ProcessRunner.bootstrapLogging(level: config.string("SWITCHBOARD_LOG_LEVEL", default: "info"))
let logger = Logger(label: "switchboard.conversations")
do {
    try await ProcessRunner.run(try makeConversationsServices(config: config, logger: logger), logger: logger)
} catch {
    logger.critical("conversations stopped: \(error)")
    exit(ProcessRunner.exitCode(for: error))
}
