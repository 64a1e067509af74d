public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the messaging process. It owns `messaging.db` and serves health; its RPCs arrive with later issues.
public func makeMessagingServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    try makeHealthOnlyServices(.messaging, config: config, logger: logger)
}
