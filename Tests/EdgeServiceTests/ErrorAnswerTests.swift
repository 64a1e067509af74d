import Foundation
import GRPCCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceKit
import Testing

@testable import EdgeService

/// What edge's error middleware answers for internal failures and for methods a path does not serve, and the
/// arithmetic of its request limits.
@Suite("Error answers and request limits")
struct ErrorAnswerTests {
    static let internalText = "RPCError(code: internal): transport failure talking to 127.0.0.1:7101 (grpc-status 13)"

    func app() -> some ApplicationProtocol {
        let router = Router(context: EdgeRequestContext.self)
        let methods = RouteMethods()
        router.add(middleware: ErrorAndRequestIDMiddleware(logger: Logger(label: "test"), methods: methods))
        router.get("/boom/rpc") { _, _ -> Response in
            throw ServiceFailure(.internalError, "internal_error", Self.internalText)
        }
        router.get("/boom/other") { _, _ -> Response in throw CancellationError() }
        router.get("/thing/{id}") { _, _ in Response(status: .ok) }
        router.post("/thing/{id}") { _, _ in Response(status: .ok) }
        methods.set([
            RouteSpec(.get, "/thing/{id}", "getThing", "", tag: "t"),
            RouteSpec(.post, "/thing/{id}", "postThing", "", tag: "t"),
        ])
        return Application(router: router)
    }

    static func error(_ response: TestResponse) throws -> [String: Any] {
        let body = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        return try #require(body?["error"] as? [String: Any])
    }

    @Test(arguments: ["/boom/rpc", "/boom/other"])
    func a500SaysNothingInternalButTheRequestID(path: String) async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .internalServerError)
                let error = try Self.error(response)
                let text = String(buffer: response.body)
                #expect(error["code"] as? String == "internal_error")
                #expect(!text.contains("RPCError") && !text.contains("127.0.0.1") && !text.contains("Cancellation"))
                let requestID = try #require(response.headers[.requestID])
                #expect((error["details"] as? [String: Any])?["requestId"] as? String == requestID)
                #expect((error["message"] as? String)?.contains(requestID) == true)
            }
        }
    }

    @Test func anUnservedMethodIs405WithAllowAndAnUnknownPathStays404() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/thing/42", method: .init("TRACE")!) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, POST")
                let code = try Self.error(response)["code"] as? String
                #expect(code == "method_not_allowed")
            }
            try await client.execute(uri: "/thing/42/more", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func aKeysBucketHoldsItsBurstThenRefillsAtItsRate() {
        let limiter = RequestLimiter(.init(perKeyRate: 2, perKeyBurst: 3, authFailures: 0, authFailureWindow: 60_000))
        let start: Millis = 1_000_000
        for _ in 0..<3 { #expect(limiter.take(keyID: "k", now: start) == nil) }
        #expect(limiter.take(keyID: "k", now: start) == 1)
        #expect(limiter.take(keyID: "other", now: start) == nil)
        #expect(limiter.take(keyID: "k", now: start + 500) == nil)  // half a second: one token at 2/s
        #expect(limiter.take(keyID: "k", now: start + 500) != nil)
    }

    @Test func anAddressIsRefusedAfterItsFailuresUntilTheWindowEnds() {
        let limiter = RequestLimiter(.init(perKeyRate: 0, perKeyBurst: 0, authFailures: 3, authFailureWindow: 60_000))
        let start: Millis = 5_000_000
        for _ in 0..<3 {
            #expect(limiter.authBlocked("10.0.0.1", now: start) == nil)
            limiter.authFailed("10.0.0.1", now: start)
        }
        #expect(limiter.authBlocked("10.0.0.1", now: start + 1_000) == 59)
        #expect(limiter.authBlocked("10.0.0.2", now: start + 1_000) == nil)
        #expect(limiter.authBlocked("10.0.0.1", now: start + 60_000) == nil)
    }

    @Test(arguments: [
        ("sb_demo_0123456789abcdef0123456789abcdef", true), ("short", false),
        (String(repeating: "a", count: 40), false), (String(repeating: "abc", count: 20), false),
        ("op_" + String(repeating: "x", count: 20) + "0123456789abcdef", false),
        ("bench-key-0123456789abcdef0123456789", true),
    ])
    func configuredKeysNeedAMinimumStrength(key: String, strong: Bool) {
        #expect((ConfiguredKeyStrength.weakness(of: key) == nil) == strong)
    }
}
