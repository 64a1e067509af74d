import Foundation
import ContactsService
import Logging
import ServiceKit

FilePermissions.restrictNewFiles()
ProcessRunner.runTasksOnEventLoops()
let config = ConfigReader()
ProcessRunner.bootstrapLogging(level: config.string("SWITCHBOARD_LOG_LEVEL", default: "info"))
let logger = Logger(label: "switchboard.contacts")
do {
    try await ProcessRunner.run(try makeContactsServices(config: config, logger: logger), logger: logger)
} catch {
    logger.critical("contacts stopped: \(error)")
    exit(ProcessRunner.exitCode(for: error))
}
