import Foundation
public import Logging
public import ServiceKit
public import ServiceLifecycle
import SwitchboardClient

/// Composition root of the messaging process: the store, the journal (writer + processor), the gRPC server and
/// the connections to contacts and conversations the processor calls.
public func makeMessagingServices(config: ConfigReader, logger: Logger) throws -> [any Service] {
    let common = try CommonConfig(config)
    let store = try MessagingStore.open(
        path: try common.databasePath("messaging"),
        key: try SecretsKey(config: config, dataDirectory: common.dataDirectory), egress: try ProviderEgress(config: config))
    let journal = JournalWriter(store: store)
    let connections = try ServiceConnections(config: config)
    let caller = RPCCaller(token: common.internalToken)
    let sink = ServiceSink(
        contacts: ContactsClient(connections.contacts, caller: caller),
        conversations: ConversationsClient(connections.conversations, caller: caller))
    let processor = JournalProcessor(store: store, writer: journal, sink: sink, logger: logger)
    var settings = DeliverySettings()
    settings.inFlight = try config.int("SWITCHBOARD_SEND_INFLIGHT", default: settings.inFlight)
    settings.maxAttempts = try config.int("SWITCHBOARD_SEND_MAX_ATTEMPTS", default: settings.maxAttempts)
    settings.retryBase = Millis(try config.int("SWITCHBOARD_SEND_RETRY_BASE_MS", default: Int(settings.retryBase)))
    settings.retryMax = Millis(try config.int("SWITCHBOARD_SEND_RETRY_MAX_MS", default: Int(settings.retryMax)))
    let httpHost = config.string("SWITCHBOARD_HTTP_HOST", default: "127.0.0.1")
    let httpPort = try config.port("SWITCHBOARD_HTTP_PORT", default: 8080)
    var publicURL = config.string("SWITCHBOARD_PUBLIC_URL", default: "http://\(httpHost):\(httpPort)")
    while publicURL.hasSuffix("/") { publicURL.removeLast() }
    settings.publicURL = publicURL
    let transport = HTTPProviderTransport(inFlight: settings.inFlight)
    let worker = DeliveryWorker(
        store: store, transport: transport,
        reports: ServiceReports(contacts: sink.contacts, conversations: sink.conversations), settings: settings,
        logger: logger)
    let sender = Sender(
        store: store, contacts: ContactReader(client: sink.contacts), conversations: sink.conversations,
        wake: { channelID in worker.wake(channelID: channelID) }, logger: logger)
    let api = MessagingAPI(store: store, journal: journal, sender: sender)
    let server = GRPCServerService(
        name: "messaging", host: common.bindHost, port: try ServiceName.messaging.port(config),
        token: common.internalToken, services: [api],
        health: HealthService(serviceName: "switchboard.messaging.v1.MessagingService"), logger: logger)
    let surveyor = CsatSurveyor(store: store, sender: sender, conversations: sink.conversations, logger: logger)
    return [connections, server, processor, worker, surveyor]
}
