import ContactsKit
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceKit
import SwitchboardClient
import Testing

@testable import ContactsService
@testable import EdgeService

/// Edge's router (no sockets for HTTP) over a real contacts service on a loopback gRPC port.
@Suite("Edge router")
struct EdgeRouterTests {
    static let token = "router-test-token"

    struct Fixture: Sendable {
        let app: Application<RouterResponder<EdgeRequestContext>>
        let keyA: String
        let keyB: String
    }

    /// Starts contacts on a free port, builds edge against it, and runs `body` with the test client.
    func withEdge(_ body: @Sendable (any TestClientProtocol, Fixture) async throws -> Void) async throws {
        let store = try ContactsStore.inMemory()
        let directory = NSTemporaryDirectory() + "switchboard-edge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try ImportFiles(directory: directory)
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
            services: [ContactsAPI(store: store, files: files, worker: nil), HealthService(serviceName: "contacts")],
            interceptors: [InternalTokenInterceptor(token: Self.token)])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            guard let address = try await server.listeningAddress?.ipv4 else {
                Issue.record("no listening address")
                return
            }
            let edgeStore = try EdgeStore(DatabaseQueue())
            let orgA = try await edgeStore.createOrganization(name: "A", timeZone: "UTC")
            let orgB = try await edgeStore.createOrganization(name: "B", timeZone: "UTC")
            let connections = try ServiceConnections(
                config: ConfigReader(["SWITCHBOARD_CONTACTS_PORT": String(address.port)]))
            let router = buildEdgeRouter(
                connections: connections, store: edgeStore, token: Self.token, operatorKeyHash: EdgeStore.hash("op"),
                prometheus: nil, logger: Logger(label: "test"))
            let app = Application(router: router, services: [connections])
            let fixture = Fixture(app: app, keyA: orgA.key, keyB: orgB.key)
            try await app.test(.router) { client in try await body(client, fixture) }
            server.beginGracefulShutdown()
        }
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static func errorCode(_ response: TestResponse) throws -> String? {
        (try json(response)["error"] as? [String: Any])?["code"] as? String
    }

    func headers(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }

    @Test func authIsRequiredAndErrorsAreJSON() async throws {
        try await withEdge { client, fixture in
            try await client.execute(uri: "/api/whatsapp-api/contacts", method: .get) { response in
                #expect(response.status == .unauthorized)
                let errorCode = try Self.errorCode(response)
                #expect(errorCode == "unauthorized")
                #expect(response.headers[.requestID] != nil)
            }
            try await client.execute(
                uri: "/api/whatsapp-api/contacts", method: .get, headers: headers("sb_not-a-key")
            ) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
                let errorCode = try Self.errorCode(response)
                #expect(errorCode == "route_not_found")
            }
        }
    }

    @Test func createAsDocumentedThenConflictThenCrossOrgIs404() async throws {
        try await withEdge { client, fixture in
            let body = #"{"phone": "+919876543210", "name": "John Doe", "optedIn": true, "tags": ["customer"]}"#
            let id = try await client.execute(
                uri: "/api/whatsapp-api/contacts", method: .post, headers: headers(fixture.keyA),
                body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .created)
                let contact = try Self.json(response)
                #expect(contact["phone"] as? String == "+919876543210")
                #expect(contact["optedIn"] as? Bool == true)
                #expect(contact["optInSource"] as? String == "api")
                #expect(contact["tags"] as? [String] == ["customer"])
                return try #require(contact["id"] as? String)
            }
            try await client.execute(
                uri: "/api/whatsapp-api/contacts", method: .post, headers: headers(fixture.keyA),
                body: ByteBuffer(string: #"{"phone": "+91 98765 43210"}"#)
            ) { response in
                #expect(response.status == .conflict)
                let error = try #require(try Self.json(response)["error"] as? [String: Any])
                #expect(error["code"] as? String == "contact_exists")
                #expect((error["details"] as? [String: Any])?["contactId"] as? String == id)
            }
            for method in [HTTPRequest.Method.get, .patch, .delete] {
                try await client.execute(
                    uri: "/api/whatsapp-api/contacts/\(id)", method: method, headers: headers(fixture.keyB),
                    body: method == .patch ? ByteBuffer(string: #"{"name": "x"}"#) : nil
                ) { response in
                    #expect(response.status == .notFound)
                    let errorCode = try Self.errorCode(response)
                    #expect(errorCode == "contact_not_found")
                }
            }
            try await client.execute(
                uri: "/api/whatsapp-api/contacts/\(id)", method: .get, headers: headers(fixture.keyA)
            ) { response in
                #expect(response.status == .ok)
                let name = try Self.json(response)["name"] as? String
                #expect(name == "John Doe")
            }
        }
    }

    @Test(arguments: [
        ("{", "invalid_json", "/api/whatsapp-api/contacts"),
        ("[1]", "invalid_json", "/api/whatsapp-api/contacts"),
        (#"{"tags": "vip", "phone": "+15550001111"}"#, "invalid_field", "/api/whatsapp-api/contacts"),
        (#"{"optedIn": "yes", "phone": "+15550001111"}"#, "invalid_field", "/api/whatsapp-api/contacts"),
        (#"{"phone": 15550001111}"#, "invalid_field", "/api/whatsapp-api/contacts"),
        (#"{"phone": "+15550001111", "optIn": true}"#, "unknown_field", "/api/whatsapp-api/contacts"),
        (#"{"phone": "5550001111"}"#, "invalid_phone", "/api/whatsapp-api/contacts"),
        (#"{"phone": "+15550001111", "email": "x@"}"#, "invalid_email", "/api/whatsapp-api/contacts"),
        (#"{"name": "nobody"}"#, "missing_identity", "/api/whatsapp-api/contacts"),
        (#"{"matchType": "regex", "keyword": "a", "tag": "b"}"#, "invalid_match_type", "/api/whatsapp-api/auto-tag-rules"),
    ])
    func badBodiesAre400WithASpecificCode(body: String, code: String, path: String) async throws {
        try await withEdge { client, fixture in
            try await client.execute(uri: path, method: .post, headers: headers(fixture.keyA), body: ByteBuffer(string: body)) {
                response in
                #expect(response.status == .badRequest)
                let actual = try Self.errorCode(response)
                #expect(actual == code)
            }
            try await client.execute(uri: "/api/whatsapp-api/contacts", method: .get, headers: headers(fixture.keyA)) {
                response in
                let data = try Self.json(response)["data"] as? [Any]
                #expect(data?.isEmpty == true)
            }
        }
    }

    @Test(arguments: ["limit=abc", "limit=0", "limit=201", "optedIn=maybe", "cursor=garbage!!"])
    func badQueriesAre400(query: String) async throws {
        try await withEdge { client, fixture in
            try await client.execute(
                uri: "/api/whatsapp-api/contacts?\(query)", method: .get, headers: headers(fixture.keyA)
            ) { response in
                #expect(response.status == .badRequest)
                let errorCode = try Self.errorCode(response)
                #expect(["invalid_query", "invalid_cursor"].contains(errorCode))
            }
        }
    }

    @Test func oversizedBodiesAre413() async throws {
        try await withEdge { client, fixture in
            let big = #"{"name": ""# + String(repeating: "x", count: 1_100_000) + #""}"#
            try await client.execute(
                uri: "/api/whatsapp-api/contacts", method: .post, headers: headers(fixture.keyA),
                body: ByteBuffer(string: big)
            ) { response in
                #expect(response.status == .contentTooLarge)
                let errorCode = try Self.errorCode(response)
                #expect(errorCode == "payload_too_large")
            }
        }
    }

    @Test func healthNamesEachServiceAndFailsWhileSomeAreDown() async throws {
        try await withEdge { client, _ in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let services = try #require(try Self.json(response)["services"] as? [String: String])
                #expect(services["contacts"] == "SERVING")
                #expect(services["messaging"] == "UNAVAILABLE")
            }
        }
    }

    /// Every route the REST documentation lists must be in the OpenAPI document, with its method.
    @Test func openAPIDescribesEveryDocumentedRoute() async throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/rest-api.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        var documented: [(String, String)] = []
        var prefix = ""
        for line in text.split(separator: "\n") {
            if line.contains("prefix `") { prefix = String(line.split(separator: "`")[1]) }
            if line.hasPrefix("## Operator") { prefix = "" }
            guard line.hasPrefix("| "), let pathStart = line.firstIndex(of: "`") else { continue }
            let head = line[line.index(line.startIndex, offsetBy: 2)..<pathStart].trimmingCharacters(in: .whitespaces)
            let path = line[line.index(after: pathStart)...].prefix { $0 != "`" }.split(separator: " ")[0]
            for method in head.split(separator: "/") where ["GET", "POST", "PATCH", "DELETE", "PUT"].contains(method) {
                documented.append((String(method).lowercased(), (path.hasPrefix("/api/") || path.hasPrefix("/webhooks/") || path.hasPrefix("/healthz") || path.hasPrefix("/metrics") ? "" : prefix) + path))
            }
        }
        #expect(documented.count > 30)
        let expected = documented
        try await withEdge { client, _ in
            try await client.execute(uri: "/api/openapi.json", method: .get) { response in
                let document = try Self.json(response)
                #expect(document["openapi"] as? String == "3.1.0")
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                for (method, path) in expected {
                    #expect(paths[path]?[method] != nil, "\(method.uppercased()) \(path) is missing from the OpenAPI document")
                }
            }
        }
    }
}
