import Foundation
public import Logging
public import ServiceKit
public import ServiceLifecycle

/// Composition root of the contacts process: the store, the import worker and the gRPC server.
///
/// Environment: SWITCHBOARD_IMPORT_UPLOAD_TTL_SECONDS (86400): how long an upload may wait for its confirm
/// before it is deleted with its file.
public func makeContactsServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    let store = try ContactsStore.open(path: try common.databasePath("contacts"))
    let files = try ImportFiles(directory: (common.dataDirectory as NSString).appendingPathComponent("imports"))
    let ttl = try config.int("SWITCHBOARD_IMPORT_UPLOAD_TTL_SECONDS", default: 24 * 3600)
    let worker = ImportWorker(store: store, logger: logger, uploadTTL: .seconds(max(ttl, 1)))
    let api = ContactsAPI(store: store, files: files, worker: worker)
    let server = GRPCServerService(
        name: "contacts", host: common.bindHost, port: try ServiceName.contacts.port(config),
        token: common.internalToken, services: [api],
        health: HealthService(serviceName: "switchboard.contacts.v1.ContactsService"), logger: logger)
    return [worker, server]
}
