import Hummingbird
import HTTPTypes
import SwitchboardClient
import NIOCore
import Prometheus
import ServiceKit

/// `/healthz`, `/metrics`, `/api/openapi.json` and `/api/ping` (no auth).
struct SystemRoutes {
    let deps: EdgeDependencies
    let prometheus: PrometheusCollectorRegistry?
    let openAPI: @Sendable () -> String

    func register(on router: Router<EdgeRequestContext>, registry: RouteRegistry) {
        registry.add(
            RouteSpec(.get, "/healthz", "health", "200 when every service is serving, else 503", tag: "System",
                      auth: .none, response: "Health", errors: [503]), on: router, health)
        registry.add(
            RouteSpec(.get, "/metrics", "metrics", "Prometheus metrics (requests and latency per route and RPC)",
                      tag: "System", auth: .none, response: "text"), on: router, metrics)
        registry.add(
            RouteSpec(.get, "/api/openapi.json", "openapi", "This document", tag: "System", auth: .none),
            on: router, document)
        registry.add(
            RouteSpec(.get, "/api/ping", "ping", "A trivial route (no auth, no RPC) for benchmarks", tag: "System",
                      auth: .none, response: "text"), on: router, ping)
    }

    @Sendable func health(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let statuses = await withTaskGroup(of: (String, String).self) { group in
            for (name, client) in deps.health { group.addTask { (name.rawValue, await client.status()) } }
            var result: [String: String] = [:]
            for await (name, status) in group { result[name] = status }
            return result
        }
        let healthy = statuses.values.allSatisfy { $0 == "SERVING" }
        return .json(
            .object([
                ("status", .string(healthy ? "ok" : "unavailable")),
                ("services", .object(statuses.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ]), status: healthy ? .ok : .serviceUnavailable)
    }

    @Sendable func metrics(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        var bytes: [UInt8] = []
        prometheus?.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    @Sendable func document(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: openAPI())))
    }

    @Sendable func ping(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "pong")))
    }
}
