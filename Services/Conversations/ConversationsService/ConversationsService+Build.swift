public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the conversations process. It owns `conversations.db` and serves health; its RPCs arrive with later issues.
public func makeConversationsServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    try makeHealthOnlyServices(.conversations, config: config, logger: logger)
}
