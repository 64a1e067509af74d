import Foundation
public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the conversations process: the store, its housekeeping and the gRPC server.
public func makeConversationsServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    let store = try ConversationsStore.open(path: try common.databasePath("conversations"))
    let server = GRPCServerService(
        name: "conversations", host: common.bindHost, port: try ServiceName.conversations.port(config),
        token: common.internalToken, services: [ConversationsAPI(store: store)],
        health: HealthService(serviceName: "switchboard.conversations.v1.ConversationsService"), logger: logger)
    return [server, TrashPurge(store: store, logger: logger)]
}

/// Hourly: deletes for good the conversations soft-deleted more than 30 days ago, and forgets delivery statuses
/// kept for 7 days for a message that never appeared.
struct TrashPurge: Service {
    let store: ConversationsStore
    let logger: Logger
    static let retention: Millis = 30 * 24 * 60 * 60 * 1000
    static let pendingRetention: Millis = 7 * 24 * 60 * 60 * 1000

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let purged = try await store.purgeDeleted(olderThan: Millis.now() - Self.retention)
                if purged > 0 { logger.info("purged \(purged) conversations deleted more than 30 days ago") }
                let forgotten = try await store.purgePendingDeliveries(olderThan: Millis.now() - Self.pendingRetention)
                if forgotten > 0 { logger.info("forgot \(forgotten) delivery statuses of messages never recorded") }
            } catch {
                logger.error("trash purge failed: \(error)")
            }
            try? await gracefulShutdown(orAfter: .seconds(3600))
        }
    }
}

/// Sleeps until `duration` has passed or the service group begins a graceful shutdown.
private func gracefulShutdown(orAfter duration: Duration) async throws {
    try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
}
