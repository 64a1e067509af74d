import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceKit
import SwitchboardClient
import Testing

@testable import EdgeService

/// The console's pages and assets through edge's whole router (no service is called for them).
@Suite("Console pages")
struct ConsoleRoutesTests {
    static let appPaths = [
        "/", "/signin", "/accept-invite", "/chat", "/chat/01a24000-0000-7000-8000-000000000000", "/contacts",
        "/contacts/x/timeline", "/settings", "/settings/agents", "/analytics", "/analytics/csat",
    ]

    func withConsole(
        files: ConsoleFiles = .bundled, publicURL: String = "http://127.0.0.1:8080",
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let connections = try ServiceConnections(config: ConfigReader([:]))
        let router = buildEdgeRouter(
            connections: connections, store: try EdgeStore(DatabaseQueue()), token: "t",
            operatorKeyHash: EdgeStore.hash("op"), prometheus: nil, logger: Logger(label: "test"),
            publicURL: publicURL, console: files)
        try await Application(router: router, services: [connections]).test(.router) { try await body($0) }
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    static func errorCode(_ response: TestResponse) throws -> String? {
        let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    @Test func everyAppPathLoadsTheAppWithTheStrictHeaders() async throws {
        try await withConsole { client in
            for path in Self.appPaths {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
                    let csp = try #require(response.headers[.contentSecurityPolicy])
                    for directive in [
                        "default-src 'none'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                        "base-uri 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'",
                        "trusted-types 'none'", "connect-src 'self'",
                    ] {
                        #expect(csp.contains(directive), "\(path): \(directive)")
                    }
                    #expect(!csp.contains("unsafe"), "\(path)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                    #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                    #expect(response.headers[.cacheControl] == "no-store")
                    #expect(response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] == "same-origin")
                    #expect(response.headers[HTTPField.Name("Permissions-Policy")!]?.contains("camera=()") == true)
                    #expect(response.headers[.strictTransportSecurity] == nil, "no HSTS over plain http")
                    #expect(response.headers[.eTag] == nil)
                    #expect(Self.text(response).contains(#"<script type="module" src="/assets/js/main.js"></script>"#))
                }
            }
        }
    }

    @Test func aMethodThatWouldChangeSomethingIs405WithAllow() async throws {
        try await withConsole { client in
            for path in Self.appPaths + ["/assets/js/main.js", "/favicon.ico"] {
                for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
                    try await client.execute(uri: path, method: method, body: ByteBuffer(string: "{}")) { response in
                        #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                        #expect(response.headers[.allow] == "GET, HEAD", "\(method) \(path)")
                        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                        let code = try Self.errorCode(response)
                        #expect(code == "method_not_allowed", "\(method) \(path)")
                    }
                }
            }
        }
    }

    @Test func overTLSThePagesAskForHSTS() async throws {
        try await withConsole(publicURL: "https://console.example.com") { client in
            try await client.execute(uri: "/chat", method: .get) { response in
                #expect(response.headers[.strictTransportSecurity] == "max-age=31536000; includeSubDomains")
            }
        }
    }

    @Test func assetsCarryAnETagAndAnswer304() async throws {
        try await withConsole { client in
            let eTag = try await client.execute(uri: "/assets/js/main.js", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(response.headers[.cacheControl] == "no-cache")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(Self.text(response).contains("import"))
                return try #require(response.headers[.eTag])
            }
            #expect(eTag.hasPrefix("\"") && eTag.hasSuffix("\"") && eTag.count == 34)
            for match in [eTag, "W/\(eTag)", "\"other\", \(eTag)", "*"] {
                try await client.execute(uri: "/assets/js/main.js", method: .get, headers: [.ifNoneMatch: match]) {
                    response in
                    #expect(response.status == .notModified, "\(match)")
                    #expect(response.body.readableBytes == 0)
                    #expect(response.headers[.eTag] == eTag)
                }
            }
            try await client.execute(uri: "/assets/js/main.js", method: .get, headers: [.ifNoneMatch: "\"stale\""]) {
                response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/assets/css/base.css", method: .get) { response in
                #expect(response.headers[.contentType] == "text/css; charset=utf-8")
                #expect(response.headers[.eTag] != nil && response.headers[.eTag] != eTag)
            }
            try await client.execute(uri: "/favicon.ico", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/x-icon")
                #expect(response.body.readableBytes > 0)
            }
            try await client.execute(uri: "/assets/js/main.js", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
                #expect(Int(response.headers[.contentLength] ?? "") ?? 0 > 0)
            }
        }
    }

    @Test(arguments: [
        "/assets/../index.html", "/assets/js/../../index.html", "/assets/%2e%2e/index.html", "/assets/..%2findex.html",
        "/assets/.secret", "/assets/js/", "/assets/js", "/assets/nope.js", "/index.html",
        "/assets/js/main.js%00.css",
    ])
    func pathsOutsideTheAssetsAreRefused(_ path: String) async throws {
        // A configured folder with a file beside it (and a hidden one inside): neither may be reached.
        let parent = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("console-\(UUID().uuidString)")
        let root = parent.appendingPathComponent("static")
        defer { try? FileManager.default.removeItem(at: parent) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("assets/js"), withIntermediateDirectories: true)
        try Data("<!doctype html>".utf8).write(to: root.appendingPathComponent("index.html"))
        try Data("secret".utf8).write(to: parent.appendingPathComponent("index.html"))
        try Data("secret".utf8).write(to: root.appendingPathComponent("assets/.secret"))
        try Data("export {};".utf8).write(to: root.appendingPathComponent("assets/js/main.js"))
        try await withConsole(files: ConsoleFiles(root: root, watched: true)) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .notFound, "\(path)")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(path)")
                let code = try Self.errorCode(response)
                #expect(code == "route_not_found", "\(path)")
                #expect(!Self.text(response).contains("secret"))
            }
        }
    }

    @Test func unknownAPIPathsKeepTheirJSON404AndTheDocumentHasNoPages() async throws {
        try await withConsole { client in
            for path in ["/api/nope", "/api/chat", "/api/whatsapp-api/no-such-route", "/chats", "/chat/a/b"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(path)")
                }
            }
            try await client.execute(uri: "/api/openapi.json", method: .get) { response in
                let document = Self.text(response)
                for page in ["\"/chat", "\"/signin", "\"/assets", "\"/favicon.ico"] {
                    #expect(!document.contains(page), "\(page) is not an API route")
                }
            }
        }
    }

    /// Every file index.html names and every relative import of every module exists: a typo fails here, not in
    /// a browser.
    @Test func everyReferencedFileIsServed() async throws {
        let root = ConsoleFiles.bundled.root
        var wanted: Set<String> = []
        let index = try String(contentsOf: root.appendingPathComponent("index.html"), encoding: .utf8)
        for match in index.matches(of: /(?:href|src)="(\/[^"]+)"/) { wanted.insert(String(match.1)) }
        let enumerator = try #require(FileManager.default.enumerator(atPath: root.path))
        for case let relative as String in enumerator where relative.hasSuffix(".js") {
            let source = try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
            let folder = URL(fileURLWithPath: "/" + relative).deletingLastPathComponent()
            for match in source.matches(of: /(?:from|import)\s*"(\.{1,2}\/[^"]+)"/) {
                wanted.insert(folder.appendingPathComponent(String(match.1)).standardizedFileURL.path)
            }
            #expect(
                source.firstMatch(of: /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(/) == nil,
                "\(relative) must build the DOM with textContent")
        }
        #expect(wanted.contains("/assets/js/main.js") && wanted.contains("/assets/js/screens/chat.js"))
        let paths = wanted.sorted()
        try await withConsole { client in
            for path in paths {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                }
            }
        }
    }

    @Test func aConfiguredFolderIsServedAsItChanges() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("console-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("assets"), withIntermediateDirectories: true)
        try Data("<p>one</p>".utf8).write(to: root.appendingPathComponent("index.html"))
        let script = root.appendingPathComponent("assets/app.js")
        try Data("let a = 1;".utf8).write(to: script)
        let files = try ConsoleFiles.make(config: ConfigReader(["SWITCHBOARD_CONSOLE_DIR": root.path]))
        try await withConsole(files: files) { client in
            let first = try await client.execute(uri: "/assets/app.js", method: .get) { response in
                #expect(Self.text(response) == "let a = 1;")
                return response.headers[.eTag]
            }
            try Data("let a = 22;".utf8).write(to: script)
            try await client.execute(uri: "/assets/app.js", method: .get, headers: [.ifNoneMatch: first ?? ""]) {
                response in
                #expect(response.status == .ok)
                #expect(Self.text(response) == "let a = 22;")
                #expect(response.headers[.eTag] != first)
            }
            try await client.execute(uri: "/chat", method: .get) { response in
                #expect(Self.text(response) == "<p>one</p>")
            }
        }
        #expect(throws: ConfigError.self) {
            try ConsoleFiles.make(config: ConfigReader(["SWITCHBOARD_CONSOLE_DIR": root.appendingPathComponent("nope").path]))
        }
    }
}
