import Foundation
import GRDB
public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the conversations process. It owns `conversations.db` and serves health; its RPCs arrive with later issues.
public func makeConversationsServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
        try db.execute(sql: "CREATE TABLE service_info (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
    }
    let database = try SQLiteDatabase.openPool(path: try common.databasePath("conversations"), migrator: migrator)
    try database.write { db in
        try db.execute(
            sql: "INSERT OR IGNORE INTO service_info (key, value) VALUES ('created_at', ?)",
            arguments: [RFC3339.string(millis: Millis.now())])
    }
    let server = GRPCServerService(
        name: "conversations", host: common.bindHost, port: try ServiceName.conversations.port(config), token: common.internalToken,
        services: [], health: HealthService(serviceName: "switchboard.conversations.v1"), logger: logger)
    return [server]
}
