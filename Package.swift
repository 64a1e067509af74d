// swift-tools-version:6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let grpcCore = Target.Dependency.product(name: "GRPCCore", package: "grpc-swift-2")
let grpcNIO = Target.Dependency.product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")
let grpcProtobuf = Target.Dependency.product(name: "GRPCProtobuf", package: "grpc-swift-protobuf")
let grpcInProcess = Target.Dependency.product(name: "GRPCInProcessTransport", package: "grpc-swift-2")
let protobuf = Target.Dependency.product(name: "SwiftProtobuf", package: "swift-protobuf")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let grdbSQLite = Target.Dependency.product(name: "GRDBSQLite", package: "GRDB.swift")
let unixSignals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let hummingbirdTesting = Target.Dependency.product(name: "HummingbirdTesting", package: "hummingbird")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let cryptoExtras = Target.Dependency.product(name: "_CryptoExtras", package: "swift-crypto")
let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")

let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
        .executable(name: "edge", targets: ["edge"]),
        .executable(name: "contacts-service", targets: ["contacts-service"]),
        .executable(name: "conversations-service", targets: ["conversations-service"]),
        .executable(name: "messaging-service", targets: ["messaging-service"]),
        .executable(name: "analytics-service", targets: ["analytics-service"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Generated protobuf messages and gRPC stubs for every contract in Protos/ (committed, never edited).
        .target(
            name: "SwitchboardProtos",
            dependencies: [grpcCore, grpcProtobuf, protobuf],
            path: "Shared/SwitchboardProtos"
        ),
        // What every service process shares: config, the gRPC server as a Service, health, auth token, IDs, errors.
        .target(
            name: "ServiceKit",
            dependencies: [
                "SwitchboardProtos", grpcCore, grpcNIO, grpcProtobuf, protobuf, lifecycle, unixSignals, logging, metrics, grdb, nioCore, nioPosix,
            ],
            path: "Shared/ServiceKit",
            swiftSettings: upcoming
        ),
        // The contacts domain vocabulary (contacts, consent, rules, imports) shared by the service and its client.
        .target(
            name: "ContactsKit",
            dependencies: ["ServiceKit", "SwitchboardProtos", protobuf],
            path: "Shared/ContactsKit",
            swiftSettings: upcoming
        ),
        // The messaging vocabulary (channels and their settings) shared by the service and its client.
        .target(
            name: "MessagingKit",
            dependencies: ["ServiceKit", "SwitchboardProtos", protobuf],
            path: "Shared/MessagingKit",
            swiftSettings: upcoming
        ),
        // The conversations vocabulary (conversations, messages, inbox filters) shared by the service and its client.
        .target(
            name: "ConversationsKit",
            dependencies: ["ServiceKit", "SwitchboardProtos", protobuf],
            path: "Shared/ConversationsKit",
            swiftSettings: upcoming
        ),
        // Typed clients for the services: domain types in, domain types out, a typed error.
        .target(
            name: "SwitchboardClient",
            dependencies: [
                "ServiceKit", "ContactsKit", "ConversationsKit", "MessagingKit", "SwitchboardProtos", grpcCore, grpcNIO, grpcProtobuf, protobuf, logging,
                metrics,
            ],
            path: "Shared/SwitchboardClient",
            swiftSettings: upcoming
        ),

        // Contacts: identities, consent ledger, tags, auto-tag rules, CSV import, audit.
        .target(
            name: "ContactsService",
            dependencies: [
                "ContactsKit", "ServiceKit", "SwitchboardProtos", grpcCore, grdb, grdbSQLite, lifecycle, logging, protobuf,
            ],
            path: "Services/Contacts/ContactsService",
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "contacts-service",
            dependencies: ["ContactsService", "ServiceKit", lifecycle, logging],
            path: "Services/Contacts/contacts-service",
            swiftSettings: upcoming
        ),
        // Conversations: the inbox, messages and their delivery status (quick replies and CSAT arrive later).
        .target(
            name: "ConversationsService",
            dependencies: [
                "ConversationsKit", "ContactsKit", "ServiceKit", "SwitchboardProtos", grpcCore, grdb, lifecycle, logging,
                protobuf,
            ],
            path: "Services/Conversations/ConversationsService",
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "conversations-service",
            dependencies: ["ConversationsService", "ServiceKit", lifecycle, logging],
            path: "Services/Conversations/conversations-service",
            swiftSettings: upcoming
        ),
        // Messaging: channels, the webhook journal and its processor (the outbox arrives later).
        .target(
            name: "MessagingService",
            dependencies: [
                "MessagingKit", "ContactsKit", "ConversationsKit", "ServiceKit", "SwitchboardClient", "SwitchboardProtos", grpcCore, grdb,
                lifecycle, logging, protobuf, crypto, httpClient, nioCore, nioHTTP1,
            ],
            path: "Services/Messaging/MessagingService",
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "messaging-service",
            dependencies: ["MessagingService", "ServiceKit", lifecycle, logging],
            path: "Services/Messaging/messaging-service",
            swiftSettings: upcoming
        ),
        // Analytics: follows every service's event log (deduplicated by event id) into the contact timeline and the
        // aggregates of the reports.
        .target(
            name: "AnalyticsService",
            dependencies: [
                "ServiceKit", "SwitchboardProtos", "SwitchboardClient", grdb, grpcCore, lifecycle, logging,
            ],
            path: "Services/Analytics/AnalyticsService",
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "analytics-service",
            dependencies: ["AnalyticsService", "ServiceKit", lifecycle, logging],
            path: "Services/Analytics/analytics-service",
            swiftSettings: upcoming
        ),
        // Edge: the public REST API, auth, orgs and API keys, metrics; translates HTTP to RPC.
        .target(
            name: "EdgeService",
            dependencies: [
                "ServiceKit", "SwitchboardClient", "ContactsKit", "ConversationsKit", "MessagingKit", grdb, hummingbird,
                lifecycle, logging, metrics, prometheus, crypto, cryptoExtras, nioPosix,
            ],
            path: "Services/Edge/EdgeService",
            // The agent console's HTML, CSS and JavaScript (served as they are: no build step) and the list of
            // common passwords refused at sign-up.
            resources: [.copy("Console/static"), .copy("Auth/common-passwords.txt")],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "edge",
            dependencies: ["EdgeService", "ServiceKit", lifecycle, logging, metrics, prometheus],
            path: "Services/Edge/edge",
            swiftSettings: upcoming
        ),
        // The launcher: starts edge and the four services as separate processes and supervises them.
        .executableTarget(
            name: "switchboard",
            dependencies: [],
            path: "Services/Launcher/switchboard",
            swiftSettings: upcoming
        ),

        .testTarget(
            name: "ServiceKitTests",
            dependencies: ["ServiceKit", "SwitchboardProtos", grpcCore, grdb],
            path: "Tests/ServiceKitTests",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ContactsServiceTests",
            dependencies: ["ContactsService", "ContactsKit", "ServiceKit", "SwitchboardClient", grpcCore, grpcInProcess, grdb],
            path: "Tests/ContactsServiceTests",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "EdgeServiceTests",
            dependencies: [
                "EdgeService", "ContactsService", "ServiceKit", "SwitchboardClient", grpcCore, grpcInProcess,
                hummingbird, hummingbirdTesting,
            ],
            path: "Tests/EdgeServiceTests",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "MessagingServiceTests",
            dependencies: [
                "MessagingService", "MessagingKit", "ContactsKit", "ConversationsKit", "ServiceKit", "SwitchboardProtos",
                grpcCore, grdb, logging,
            ],
            path: "Tests/MessagingServiceTests",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "AnalyticsServiceTests",
            dependencies: ["AnalyticsService", "ServiceKit", "SwitchboardProtos", grdb],
            path: "Tests/AnalyticsServiceTests",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ConversationsServiceTests",
            dependencies: ["ConversationsService", "ConversationsKit", "ContactsKit", "ServiceKit", grpcCore, grdb],
            path: "Tests/ConversationsServiceTests",
            swiftSettings: upcoming
        ),
    ]
)
