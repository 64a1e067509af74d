import Foundation
import Hummingbird
import HTTPTypes
public import ServiceKit

/// A live session with its agent and organisation, as the session cookie resolved it.
struct SignedIn: Sendable {
    var session: AgentSession
    var agent: Agent
    var org: Organization
}

/// What signing in needs: the password hasher, the failed sign-in throttle, session settings and the cookie's
/// resolution to a caller.
public struct PeopleAuth: Sendable {
    public let hasher: PasswordHasher
    let throttle: LoginThrottle
    public let settings: SessionSettings

    public init(hasher: PasswordHasher, throttle: LoginThrottleSettings, settings: SessionSettings) {
        self.hasher = hasher
        self.throttle = LoginThrottle(throttle)
        self.settings = settings
    }

    /// Reads `SWITCHBOARD_PASSWORD_SCRYPT_LOG_N`, `SWITCHBOARD_LOGIN_*` and `SWITCHBOARD_SESSION_*`.
    public init(publicURL: String, config: ConfigReader) throws(ConfigError) {
        self.init(
            hasher: try PasswordHasher(config: config), throttle: try LoginThrottleSettings(config: config),
            settings: try SessionSettings(publicURL: publicURL, config: config))
    }

    /// The session a request's cookie names, checked against the CSRF rule: nil without a session cookie;
    /// 403 `csrf_refused` for a state-changing request from elsewhere; 401 when the session has ended.
    func signedIn(_ request: Request, store: EdgeStore, now: Millis = .now()) async throws -> SignedIn? {
        guard settings.hasCookie(request.head) else { return nil }
        if let refusal = CSRFRule.refusal(request.head, publicOrigin: settings.publicOrigin) {
            throw APIError.csrfRefused(refusal)
        }
        guard let token = settings.token(in: request.head),
            let found = try await store.session(token: token, settings: settings, now: now)
        else { throw APIError.sessionEnded(settings) }
        var session = found.session
        // Written at most once a minute (as API keys are); the idle lifetime is far longer.
        if now - session.lastSeenAt >= SessionSettings.touchInterval {
            try await store.touchSession(id: session.id, at: now)
            session.lastSeenAt = now
        }
        return SignedIn(session: session, agent: found.agent, org: found.org)
    }

    static func caller(_ signedIn: SignedIn) -> Caller {
        Caller(
            orgID: signedIn.org.id, keyID: streamKey(signedIn.session.id), keyName: signedIn.agent.name,
            role: signedIn.agent.role, agentID: signedIn.agent.id, sessionID: signedIn.session.id)
    }

    /// The `keyID` of a session's caller: what its event streams are closed by.
    static func streamKey(_ sessionID: String) -> String { "session:\(sessionID)" }
}

extension APIError {
    static func csrfRefused(_ refusal: CSRFRule.Refusal) -> APIError {
        APIError(.forbidden, "csrf_refused", refusal.rawValue)
    }

    /// The cookie names no live session: 401, and the cookie is removed.
    static func sessionEnded(_ settings: SessionSettings) -> APIError {
        var error = APIError(.unauthorized, "unauthorized", "the session has ended; sign in again")
        error.headers[.setCookie] = settings.clearCookie
        return error
    }

    static let signInRequired = APIError(
        .unauthorized, "unauthorized", "sign in first: this route needs the session cookie of POST /api/auth/login")
}

/// Requires the session cookie on every route of the group (`/api/auth/…` but sign-in and invite acceptance).
struct SessionMiddleware: RouterMiddleware {
    typealias Context = EdgeRequestContext
    let auth: PeopleAuth
    let store: EdgeStore
    let limiter: RequestLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let signedIn = try await auth.signedIn(request, store: store) else { throw APIError.signInRequired }
        let caller = PeopleAuth.caller(signedIn)
        if let wait = limiter.take(keyID: caller.keyID) { throw APIError.rateLimited(retryAfter: wait) }
        var context = context
        context.caller = caller
        context.signedIn = signedIn
        var response = try await next(request, context)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
