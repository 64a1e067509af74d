import ContactsKit
import Foundation
import GRDB
public import Hummingbird
public import Logging
public import Prometheus
public import ServiceKit
import Synchronization
public import SwitchboardClient

/// Composition root of edge: edge.db, first-start bootstrap, the service clients and the router.
///
/// Environment: SWITCHBOARD_HTTP_HOST (127.0.0.1), SWITCHBOARD_HTTP_PORT (8080), SWITCHBOARD_OPERATOR_KEY
/// (generated and printed once when unset), SWITCHBOARD_BOOTSTRAP_API_KEY (the demo org's admin key; both must pass
/// `ConfiguredKeyStrength`), the request limits (`RequestLimits`) and HTTP deadlines (`HTTPDeadlines`),
/// SWITCHBOARD_CONSOLE_DIR (serve the console from that folder instead of the built-in files), plus the
/// services' SWITCHBOARD_<NAME>_HOST/PORT and the common settings (`CommonConfig`).
public func buildEdgeApplication(
    config: ConfigReader, logger: Logger, prometheus: PrometheusCollectorRegistry? = nil
) async throws -> some ApplicationProtocol {
    for variable in ["SWITCHBOARD_OPERATOR_KEY", "SWITCHBOARD_BOOTSTRAP_API_KEY"] {
        try ConfiguredKeyStrength.require(config.optionalString(variable), variable: variable)
    }
    let limits = try RequestLimits(config: config)
    let deadlines = try HTTPDeadlines(config: config)
    let common = try CommonConfig(config)
    let host = config.string("SWITCHBOARD_HTTP_HOST", default: "127.0.0.1")
    let port = try config.port("SWITCHBOARD_HTTP_PORT", default: 8080)
    var publicURL = config.string("SWITCHBOARD_PUBLIC_URL", default: "http://\(host):\(port)")
    while publicURL.hasSuffix("/") { publicURL.removeLast() }
    let people = try PeopleAuth(publicURL: publicURL, config: config)
    let store = try EdgeStore(
        SQLiteDatabase.openPool(path: try common.databasePath("edge"), migrator: DatabaseMigrator()))
    let operatorKeyHash = try await EdgeBootstrap(
        store: store, config: config, logger: logger, people: people, publicURL: publicURL
    ).run()
    let connections = try ServiceConnections(config: config)
    let uploads = try ImportUploads.make(config: config, dataDirectory: common.dataDirectory)
    let console = try ConsoleFiles.make(config: config)
    let events = EventHub(
        conversations: ConversationsClient(connections.conversations, caller: RPCCaller(token: common.internalToken)),
        idSecret: try await store.eventStreamIDSecret(), limits: try EventStreamLimits(config: config), logger: logger)
    let router = buildEdgeRouter(
        connections: connections, store: store, token: common.internalToken, operatorKeyHash: operatorKeyHash,
        prometheus: prometheus, logger: logger, publicURL: publicURL, limits: limits, uploads: uploads, events: events,
        people: people, console: console)
    return Application(
        router: router,
        server: deadlines.server,
        configuration: .init(
            address: .hostname(host, port: port),
            serverName: "switchboard-edge"),
        services: [connections, events],
        logger: logger)
}

/// The router with every route, given running service connections (tests pass their own).
public func buildEdgeRouter(
    connections: ServiceConnections, store: EdgeStore, token: String, operatorKeyHash: String,
    prometheus: PrometheusCollectorRegistry?, logger: Logger, publicURL: String = "http://127.0.0.1:8080",
    limits: RequestLimits = .unlimited, uploads: ImportUploads = ImportUploads(), events: EventHub? = nil,
    people: PeopleAuth? = nil, console: ConsoleFiles = .bundled
) -> Router<EdgeRequestContext> {
    // Router tests get the cheapest scrypt the configuration allows.
    let people = people ?? PeopleAuth(
        hasher: PasswordHasher(logN: PasswordHasher.minimumLogN), throttle: LoginThrottleSettings(),
        settings: SessionSettings(publicURL: publicURL))
    let caller = RPCCaller(token: token)
    // Without a running hub (router tests) event streams open but carry no events.
    let events = events ?? EventHub(
        conversations: ConversationsClient(connections.conversations, caller: caller),
        idSecret: EventStreamIDs.newSecret(), limits: EventStreamLimits(), logger: logger)
    let contacts = ContactsClient(connections.contacts, caller: caller)
    let messaging = MessagingClient(connections.messaging, caller: caller)
    let deps = EdgeDependencies(
        contacts: contacts, contactReader: ContactReader(client: contacts), messaging: messaging,
        webhooks: Batcher(maxWeight: WebhookRoutes.maxBatchBytes, weight: WebhookRoutes.weight) { webhooks throws(ServiceFailure) in
            try await messaging.ingestWebhooks(webhooks)
        },
        conversations: ConversationsClient(connections.conversations, caller: caller), events: events,
        analytics: AnalyticsClient(connections.analytics, caller: caller), store: store,
        authenticator: APIKeyAuthenticator(store: store),
        health: connections.all.map { ($0.0, HealthClient($0.1)) }, publicURL: publicURL, logger: logger)
    let router = Router(context: EdgeRequestContext.self)
    let methods = RouteMethods()
    let limiter = RequestLimiter(limits)
    router.add(middleware: ErrorAndRequestIDMiddleware(logger: logger, methods: methods))
    router.add(middleware: MetricsMiddleware())
    let registry = RouteRegistry()
    let document = OpenAPIText()
    SystemRoutes(deps: deps, prometheus: prometheus, openAPI: { document.text }).register(on: router, registry: registry)
    WebhookRoutes(deps: deps).register(on: router, registry: registry)
    // The console's pages and assets: no API key (the app signs in itself), not in the OpenAPI document.
    ConsoleRoutes(files: console, headers: ConsoleHeaders(publicURL: publicURL)).register(on: router)
    let auth = AuthRoutes(deps: deps, auth: people)
    auth.register(
        open: router.group(RouterPath(stringLiteral: AuthRoutes.prefix)),
        signedIn: router.group(RouterPath(stringLiteral: AuthRoutes.prefix))
            .add(middleware: SessionMiddleware(auth: people, store: store, limiter: limiter)),
        registry: registry)
    let api = router.group(RouterPath(stringLiteral: ContactsRoutes.prefix))
        .add(
            middleware: APIKeyMiddleware(
                authenticator: deps.authenticator, limiter: limiter, people: people, store: store))
    ContactsRoutes(deps: deps).register(on: api, registry: registry)
    ImportRoutes(deps: deps, uploads: uploads).register(on: api, registry: registry)
    RulesRoutes(deps: deps).register(on: api, registry: registry)
    AccountRoutes(deps: deps).register(on: api, registry: registry)
    AgentsRoutes(deps: deps).register(on: api, registry: registry)
    ChannelsRoutes(deps: deps).register(on: api, registry: registry)
    ConversationsRoutes(deps: deps).register(on: api, registry: registry)
    SendRoutes(deps: deps).register(on: api, registry: registry)
    QuickRepliesRoutes(deps: deps).register(on: api, registry: registry)
    TemplatesRoutes(deps: deps).register(on: api, registry: registry)
    AnalyticsRoutes(deps: deps).register(on: api, registry: registry)
    EventStreamRoutes(deps: deps).register(on: api, registry: registry)
    let admin = router.group(RouterPath(stringLiteral: AdminRoutes.prefix))
        .add(middleware: OperatorMiddleware(operatorKeyHash: operatorKeyHash, limiter: limiter))
    AdminRoutes(deps: deps).register(on: admin, registry: registry)
    AdminNumbersRoutes(deps: deps).register(on: admin, registry: registry)
    document.set(OpenAPIDocument.build(registry.specs).serialized)
    methods.set(registry.specs)
    return router
}

/// The OpenAPI text, set once every route is registered.
final class OpenAPIText: Sendable {
    private let value = Mutex("")
    var text: String { value.withLock { $0 } }
    func set(_ text: String) { value.withLock { $0 = text } }
}

/// First start: the operator key and the demo organisation with its admin key, each printed once, and the demo
/// organisation's admin agent (`SWITCHBOARD_BOOTSTRAP_ADMIN_EMAIL`, admin@demo.local) with the password
/// `SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD` or, without one, a one-time sign-in link printed at each start until the
/// agent has a password.
struct EdgeBootstrap {
    let store: EdgeStore
    let config: ConfigReader
    let logger: Logger
    let people: PeopleAuth
    let publicURL: String

    /// Returns the SHA-256 hash of the operator key.
    func run() async throws -> String {
        let operatorHash: String
        if let key = config.optionalString("SWITCHBOARD_OPERATOR_KEY") {
            operatorHash = EdgeStore.hash(key)
        } else if let stored = try await store.setting("operator_key_hash") {
            operatorHash = stored
        } else {
            let key = EdgeStore.generateKey()
            operatorHash = EdgeStore.hash(key)
            try await store.setSetting("operator_key_hash", operatorHash)
            announce("Operator key (for POST /api/admin/orgs; shown once, set SWITCHBOARD_OPERATOR_KEY to choose it): \(key)")
        }
        let bootstrapKey = config.optionalString("SWITCHBOARD_BOOTSTRAP_API_KEY")
        if let demo = try await store.demoOrganization() {
            if let bootstrapKey {
                switch try await store.ensureKey(orgID: demo.id, key: bootstrapKey) {
                case .live: break
                case .revoked:
                    logger.warning(
                        "SWITCHBOARD_BOOTSTRAP_API_KEY names a revoked key: it stays revoked; unset it or choose another")
                case .otherOrganization:
                    logger.warning(
                        "SWITCHBOARD_BOOTSTRAP_API_KEY is another organisation's key: not made the demo admin key")
                }
            }
        } else {
            let created = try await store.createOrganization(
                name: "Demo", timeZone: "UTC", isDemo: true, adminKey: bootstrapKey)
            announce("Demo organisation \(created.org.id) created.")
            if bootstrapKey == nil {
                announce("Admin API key (shown once): \(created.key)")
            } else {
                announce("Admin API key: the value of SWITCHBOARD_BOOTSTRAP_API_KEY")
            }
        }
        if let demo = try await store.demoOrganization() { try await adminAgent(of: demo) }
        return operatorHash
    }

    /// The demo organisation's admin agent, with the configured password or a printed sign-in link.
    func adminAgent(of demo: Organization) async throws {
        let emailVariable = "SWITCHBOARD_BOOTSTRAP_ADMIN_EMAIL"
        let email = config.string(emailVariable, default: "admin@demo.local").trimmed.lowercased()
        guard AgentsRoutes.isEmail(email) else {
            throw ConfigError(key: emailVariable, value: email, expected: "an email address")
        }
        let password = config.optionalString("SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD")
        if let password, let weakness = PasswordPolicy.weakness(of: password, email: email, orgName: demo.name) {
            throw WeakPasswordError(variable: "SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD", weakness: weakness)
        }
        let admin = try await store.ensureAdminAgent(orgID: demo.id, email: email)
        announce("Console: \(publicURL)")
        guard !admin.hasPassword else { return }
        if let password {
            _ = try await store.setPassword(orgID: demo.id, agentID: admin.agent.id, hash: try await people.hasher.hash(password))
            announce("Console sign-in: \(email) with the password of SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD")
        } else {
            let token = SessionToken.make()
            _ = try await store.createInvite(orgID: demo.id, agentID: admin.agent.id, token: token)
            announce(
                "Console sign-in link for \(email) (one-time, 24 h; sets the password): "
                    + AgentsRoutes.inviteURL(publicURL: publicURL, token: token))
        }
    }

    private func announce(_ line: String) {
        // The launcher forwards this line by line; print flushes at each newline on a pipe only if told to.
        FileHandle.standardOutput.write(Data("switchboard: \(line)\n".utf8))
    }
}

/// A configured bootstrap password the password policy refuses; its text names the variable, never the value.
public struct WeakPasswordError: ConfigurationProblem, CustomStringConvertible {
    public var variable: String
    public var weakness: PasswordPolicy.Weakness
    public var description: String { "\(variable) is refused by the password policy: \(weakness.message)" }
}
