public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the analytics process. It owns `analytics.db` and serves health; its RPCs arrive with later issues.
public func makeAnalyticsServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    try makeHealthOnlyServices(.analytics, config: config, logger: logger)
}
