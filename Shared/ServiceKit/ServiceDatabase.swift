import GRDB
public import Logging
public import ServiceLifecycle

/// The process of a service whose RPCs are still to come: it owns `<name>.db` (created and migrated, with the
/// time it was first opened) and serves `grpc.health.v1`, so the cluster's shape is complete from day one.
public func makeHealthOnlyServices(
    _ service: ServiceName, config: ConfigReader, logger: Logger
) throws -> [any Service] {
    let common = try CommonConfig(config)
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
        try db.execute(sql: "CREATE TABLE service_info (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
    }
    let database = try SQLiteDatabase.openPool(path: try common.databasePath(service.rawValue), migrator: migrator)
    try database.write { db in
        try db.execute(
            sql: "INSERT OR IGNORE INTO service_info (key, value) VALUES ('created_at', ?)",
            arguments: [RFC3339.string(millis: Millis.now())])
    }
    let server = GRPCServerService(
        name: service.rawValue, host: common.bindHost, port: try service.port(config), token: common.internalToken,
        services: [], health: HealthService(serviceName: "switchboard.\(service.rawValue).v1"), logger: logger)
    return [server]
}
