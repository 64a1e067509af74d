import ContactsKit
import Foundation
public import Hummingbird
import ServiceKit
import Synchronization

/// Resolves `Authorization: Bearer <key>` to a caller, with a short-lived cache of key lookups.
public final class APIKeyAuthenticator: Sendable {
    let store: EdgeStore
    private let cache = Mutex<[String: (info: APIKeyInfo, expires: Millis)]>([:])
    private let touched = Mutex<[String: Millis]>([:])
    static let cacheTTL: Millis = 30_000
    static let touchInterval: Millis = 60_000

    public init(store: EdgeStore) { self.store = store }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmed
        return token.isEmpty || token.count > 200 ? nil : token
    }

    func authenticate(_ secret: String) async throws -> APIKeyInfo? {
        let now = Millis.now()
        let hash = EdgeStore.hash(secret)
        if let hit = cache.withLock({ $0[hash] }), hit.expires > now {
            await touch(hit.info, now: now)
            return hit.info
        }
        guard let info = try await store.key(secret: secret) else { return nil }
        cache.withLock { $0[hash] = (info, now + Self.cacheTTL) }
        await touch(info, now: now)
        return info
    }

    /// Records last use at most once a minute per key.
    private func touch(_ info: APIKeyInfo, now: Millis) async {
        let due = touched.withLock { touched in
            if let last = touched[info.id], now - last < Self.touchInterval { return false }
            touched[info.id] = now
            return true
        }
        if due { try? await store.touchKey(id: info.id, at: now) }
    }

    /// Forgets every cached lookup (after a key is revoked).
    func invalidate() {
        cache.withLock { $0.removeAll() }
    }
}

/// Requires an API key or the session cookie on every route of the group it is added to. `Authorization: Bearer`
/// wins when both are present; a cookie request that changes state must pass `CSRFRule` (403 `csrf_refused`).
/// An address that failed authentication too often is refused (429) before its key is looked up; a key (or a
/// session) over its request rate is refused with 429 `rate_limited`.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = EdgeRequestContext
    let authenticator: APIKeyAuthenticator
    let limiter: RequestLimiter
    let people: PeopleAuth
    let store: EdgeStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let address = context.clientAddress
        if let wait = limiter.authBlocked(address) { throw APIError.authThrottled(retryAfter: wait) }
        // A browser's EventSource cannot set headers: the event stream also takes the key as `access_token`.
        let secret =
            APIKeyAuthenticator.bearer(request)
            ?? (request.uri.path.hasSuffix("/events/stream") ? request.query("access_token") : nil)
        if secret == nil, let signedIn = try await people.signedIn(request, store: store) {
            let caller = PeopleAuth.caller(signedIn)
            if let wait = limiter.take(keyID: caller.keyID) { throw APIError.rateLimited(retryAfter: wait) }
            var context = context
            context.caller = caller
            context.signedIn = signedIn
            return try await next(request, context)
        }
        guard let secret, secret.count <= 200, let info = try await authenticator.authenticate(secret) else {
            limiter.authFailed(address)
            throw APIError.unauthorized
        }
        if let wait = limiter.take(keyID: info.id) { throw APIError.rateLimited(retryAfter: wait) }
        var context = context
        context.caller = Caller(
            orgID: info.orgID, keyID: info.id, keyName: info.name, role: info.role, agentID: info.agentID)
        return try await next(request, context)
    }
}

/// Requires the operator key (`SWITCHBOARD_OPERATOR_KEY`, or the one generated on first start).
struct OperatorMiddleware: RouterMiddleware {
    typealias Context = EdgeRequestContext
    let operatorKeyHash: String
    let limiter: RequestLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let address = context.clientAddress
        if let wait = limiter.authBlocked(address) { throw APIError.authThrottled(retryAfter: wait) }
        guard let secret = APIKeyAuthenticator.bearer(request),
            constantTimeEqual(EdgeStore.hash(secret), operatorKeyHash)
        else {
            limiter.authFailed(address)
            throw APIError(.unauthorized, "unauthorized", "the operator key is required: Authorization: Bearer <key>")
        }
        return try await next(request, context)
    }
}
