import Foundation
public import Logging
public import ServiceKit
public import ServiceLifecycle
import SwitchboardClient

/// Composition root of the messaging process: the store, the journal (writer + processor), the gRPC server and
/// the connections to contacts and conversations the processor calls.
public func makeMessagingServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    let store = try MessagingStore.open(path: try common.databasePath("messaging"))
    let journal = JournalWriter(store: store)
    let connections = try ServiceConnections(config: config)
    let caller = RPCCaller(token: common.internalToken)
    let sink = ServiceSink(
        contacts: ContactsClient(connections.contacts, caller: caller),
        conversations: ConversationsClient(connections.conversations, caller: caller))
    let processor = JournalProcessor(store: store, writer: journal, sink: sink, logger: logger)
    let api = MessagingAPI(store: store, journal: journal)
    let server = GRPCServerService(
        name: "messaging", host: common.bindHost, port: try ServiceName.messaging.port(config),
        token: common.internalToken, services: [api],
        health: HealthService(serviceName: "switchboard.messaging.v1.MessagingService"), logger: logger)
    return [connections, server, processor]
}
