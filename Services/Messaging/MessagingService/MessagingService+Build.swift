import Foundation
import GRDB
public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the messaging process. It owns `messaging.db` and serves health; its RPCs arrive with later issues.
public func makeMessagingServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
        try db.execute(sql: "CREATE TABLE service_info (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
    }
    let database = try SQLiteDatabase.openPool(path: try common.databasePath("messaging"), migrator: migrator)
    try database.write { db in
        try db.execute(
            sql: "INSERT OR IGNORE INTO service_info (key, value) VALUES ('created_at', ?)",
            arguments: [RFC3339.string(millis: Millis.now())])
    }
    let server = GRPCServerService(
        name: "messaging", host: common.bindHost, port: try ServiceName.messaging.port(config), token: common.internalToken,
        services: [], health: HealthService(serviceName: "switchboard.messaging.v1"), logger: logger)
    return [server]
}
