import GRDB
public import Logging
public import ServiceKit
public import ServiceLifecycle
import SwitchboardClient

/// Composition root of the analytics process: analytics.db, the followers of the three event logs, the gRPC server.
public func makeAnalyticsServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    let store = try AnalyticsStore.open(path: try common.databasePath("analytics"))
    let connections = try ServiceConnections(config: config)
    let caller = RPCCaller(token: common.internalToken)
    let contacts = ContactsClient(connections.contacts, caller: caller)
    let conversations = ConversationsClient(connections.conversations, caller: caller)
    let messaging = MessagingClient(connections.messaging, caller: caller)
    let batch = Int32(try config.int("SWITCHBOARD_ANALYTICS_BATCH", default: 2000))
    let followers = [
        EventFollower(
            source: "contacts", logger: logger,
            subscribe: { after, handle in try await contacts.subscribe(after: after, maxBatch: batch, handle) },
            cursor: { try await store.cursor(source: "contacts") },
            apply: { try await store.apply(source: "contacts", $0) }),
        EventFollower(
            source: "conversations", logger: logger,
            subscribe: { after, handle in try await conversations.subscribe(after: after, maxBatch: batch, handle) },
            cursor: { try await store.cursor(source: "conversations") },
            apply: { try await store.apply(source: "conversations", $0) }),
        EventFollower(
            source: "messaging", logger: logger,
            subscribe: { after, handle in try await messaging.subscribe(after: after, maxBatch: batch, handle) },
            cursor: { try await store.cursor(source: "messaging") },
            apply: { try await store.apply(source: "messaging", $0) }),
    ]
    let server = GRPCServerService(
        name: "analytics", host: common.bindHost, port: try ServiceName.analytics.port(config),
        token: common.internalToken, services: [AnalyticsAPI(store: store)],
        health: HealthService(serviceName: "switchboard.analytics.v1.AnalyticsService"), logger: logger)
    return [connections, server, Followers(followers: followers)]
}

/// Runs the event followers until shutdown.
struct Followers: Service {
    let followers: [EventFollower]

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for follower in followers { group.addTask { await follower.run() } }
            }
        }
    }
}
