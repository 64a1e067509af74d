public import HTTPTypes
public import Hummingbird

/// How a route authenticates: an API key or the session cookie (`apiKey`), the session cookie only (`session`), the
/// operator key, or nothing.
public enum RouteAuth: Sendable { case apiKey, session, operatorKey, none }

/// What a route accepts as its body.
public enum RouteBody: Sendable {
    case json(String, required: Bool = true)  // a component schema name; `required: false` when an empty body is fine
    case csv
}

/// One public route: registered on the router and described in the OpenAPI document from the same value,
/// so the two cannot drift apart.
public struct RouteSpec: Sendable {
    public var method: HTTPRequest.Method
    public var path: String
    public var operationID: String
    public var summary: String
    public var tag: String
    public var auth: RouteAuth
    public var body: RouteBody?
    public var query: [(name: String, description: String, repeated: Bool)]
    public var status: Int
    /// Other success statuses answered with the same body (e.g. 200 when an upsert updated).
    public var alsoStatus: [Int]
    public var response: String?  // a component schema name, "csv", "text", "xml", "event-stream" or nil (no body)
    public var errors: [Int]

    public init(
        _ method: HTTPRequest.Method, _ path: String, _ operationID: String, _ summary: String, tag: String,
        auth: RouteAuth = .apiKey, body: RouteBody? = nil,
        query: [(name: String, description: String, repeated: Bool)] = [], status: Int = 200, alsoStatus: [Int] = [],
        response: String? = nil, errors: [Int] = []
    ) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.summary = summary
        self.tag = tag
        self.auth = auth
        self.body = body
        self.query = query
        self.status = status
        self.alsoStatus = alsoStatus
        self.response = response
        self.errors = errors
    }
}

/// Registers routes on a router group and remembers their specs for the OpenAPI document.
final class RouteRegistry: @unchecked Sendable {
    private(set) var specs: [RouteSpec] = []

    func add(
        _ spec: RouteSpec, on group: RouterGroup<EdgeRequestContext>, prefix: String,
        _ handler: @escaping @Sendable (Request, EdgeRequestContext) async throws -> Response
    ) {
        precondition(spec.path.hasPrefix(prefix), "\(spec.path) is not under \(prefix)")
        let relative = String(spec.path.dropFirst(prefix.count))
        group.on(RouterPath(stringLiteral: relative.isEmpty ? "/" : relative), method: spec.method, use: handler)
        specs.append(spec)
    }

    func add(
        _ spec: RouteSpec, on router: Router<EdgeRequestContext>,
        _ handler: @escaping @Sendable (Request, EdgeRequestContext) async throws -> Response
    ) {
        router.on(RouterPath(stringLiteral: spec.path), method: spec.method, use: handler)
        specs.append(spec)
    }
}
