import ContactsKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import ServiceKit

/// `/api/auth/…`: agents sign in with their email and password and get the session cookie (docs/rest-api.md,
/// "Authentication for people"). Sign-in and invite acceptance need no session; every other route here needs one.
struct AuthRoutes {
    let deps: EdgeDependencies
    let auth: PeopleAuth
    static let prefix = "/api/auth"

    func register(
        open: RouterGroup<EdgeRequestContext>, signedIn: RouterGroup<EdgeRequestContext>, registry: RouteRegistry
    ) {
        let p = Self.prefix
        registry.add(
            RouteSpec(.post, "\(p)/login", "login", "Sign in with email and password: the session cookie",
                      tag: "Authentication", auth: .none, body: .json("LoginInput"), response: "Session",
                      errors: [401, 403, 409, 429]), on: open, prefix: p, login)
        registry.add(
            RouteSpec(.post, "\(p)/invite/accept", "acceptInvite",
                      "Set the password with an invitation or reset token; signs in", tag: "Authentication",
                      auth: .none, body: .json("InviteAcceptInput"), response: "Session", errors: [403, 429]),
            on: open, prefix: p, accept)
        registry.add(
            RouteSpec(.get, "\(p)/session", "getSession", "Who is signed in", tag: "Authentication", auth: .session,
                      response: "Session"), on: signedIn, prefix: p, session)
        registry.add(
            RouteSpec(.post, "\(p)/logout", "logout", "Sign out: ends this session and its event streams",
                      tag: "Authentication", auth: .session, status: 204, errors: [403]), on: signedIn, prefix: p, logout)
        registry.add(
            RouteSpec(.post, "\(p)/password", "changePassword",
                      "Change my password (needs the current one); ends my other sessions unless told not to",
                      tag: "Authentication", auth: .session, body: .json("PasswordChangeInput"), status: 204,
                      errors: [403]), on: signedIn, prefix: p, changePassword)
        registry.add(
            RouteSpec(.get, "\(p)/sessions", "listSessions", "My live sessions, oldest first", tag: "Authentication",
                      auth: .session, response: "SessionList"), on: signedIn, prefix: p, listSessions)
        registry.add(
            RouteSpec(.delete, "\(p)/sessions", "endOtherSessions", "End every session of mine but this one",
                      tag: "Authentication", auth: .session, status: 204, errors: [403]),
            on: signedIn, prefix: p, endOtherSessions)
        registry.add(
            RouteSpec(.delete, "\(p)/sessions/{id}", "endSession", "End one of my sessions", tag: "Authentication",
                      auth: .session, status: 204, errors: [403, 404]), on: signedIn, prefix: p, endSession)
    }

    static let failures = Counter(label: "switchboard_login_failures_total", dimensions: [("reason", "invalid_credentials")])
    static let throttled = Counter(label: "switchboard_login_failures_total", dimensions: [("reason", "throttled")])

    // MARK: sign-in

    @Sendable func login(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        try requireSameSite(request)
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(limit: 16 << 10), allowed: ["email", "password", "orgId"])
        let email = try Self.required(body, "email").trimmed.lowercased()
        let password = try Self.required(body, "password")
        let orgID = try body.string("orgId").flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed }
        let address = context.clientAddress
        if let wait = auth.throttle.wait(email: email, address: address) {
            Self.throttled.increment()
            throw APIError.tooManyAttempts(retryAfter: wait)
        }
        let candidates = email.isEmpty || email.count > 254
            ? [] : try await deps.store.credentials(email: email, orgID: orgID).filter { $0.passwordHash != nil }
        var matched: [Credentials] = []
        if candidates.isEmpty {
            _ = try await verify(password, against: nil)
        }
        for candidate in candidates {
            if try await verify(password, against: candidate.passwordHash) { matched.append(candidate) }
        }
        guard let first = matched.first else {
            auth.throttle.failed(email: email, address: address)
            Self.failures.increment()
            deps.logger.notice(
                "sign-in failed", metadata: ["email-sha256": "\(EdgeStore.hash(email).prefix(16))", "ip": "\(address)"])
            throw APIError.invalidCredentials
        }
        auth.throttle.succeeded(email: email, address: address)
        guard matched.count == 1 else {
            throw APIError(
                .conflict, "org_required", "this email signs in to several organisations: choose one with orgId",
                details: [
                    (
                        "orgs",
                        .array(matched.map { .object([("id", .string($0.org.id)), ("name", .string($0.org.name))]) })
                    )
                ])
        }
        if let stored = first.passwordHash, auth.hasher.isOutdated(stored) {
            let renewed = try await hash(password)
            _ = try await deps.store.setPassword(orgID: first.org.id, agentID: first.agent.id, hash: renewed)
        }
        let token = SessionToken.make()
        let session = try await deps.store.createSession(
            token: token, orgID: first.org.id, agentID: first.agent.id, ip: address,
            userAgent: Self.userAgent(request), settings: auth.settings)
        return signedIn(SignedIn(session: session, agent: first.agent, org: first.org), token: token)
    }

    @Sendable func accept(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        try requireSameSite(request)
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(limit: 16 << 10), allowed: ["token", "password"])
        let token = try Self.required(body, "token")
        let password = try Self.required(body, "password")
        guard SessionToken.isWellFormed(token), let invited = try await deps.store.invite(token: token) else {
            throw APIError.invalidToken
        }
        if let weakness = PasswordPolicy.weakness(of: password, email: invited.agent.email, orgName: invited.org.name) {
            throw APIError.weakPassword(weakness, field: "password")
        }
        let hash = try await hash(password)
        let sessionToken = SessionToken.make()
        guard
            let accepted = try await deps.store.acceptInvite(
                token: token, passwordHash: hash, sessionToken: sessionToken, ip: context.clientAddress,
                userAgent: Self.userAgent(request), settings: auth.settings)
        else { throw APIError.invalidToken }
        for id in accepted.ended { deps.events.closeStreams(ofKey: PeopleAuth.streamKey(id)) }
        return signedIn(SignedIn(session: accepted.session, agent: invited.agent, org: invited.org), token: sessionToken)
    }

    // MARK: the signed-in agent

    @Sendable func session(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        .json(render(try Self.current(context)))
    }

    @Sendable func logout(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let current = try Self.current(context)
        _ = try await deps.store.deleteSession(id: current.session.id, agentID: current.agent.id)
        deps.events.closeStreams(ofKey: PeopleAuth.streamKey(current.session.id))
        var response = Response.noContent()
        response.headers[.setCookie] = auth.settings.clearCookie
        return response
    }

    @Sendable func changePassword(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let current = try Self.current(context)
        var request = request
        let body = try JSONObject(
            body: try await request.bodyBytes(limit: 16 << 10),
            allowed: ["currentPassword", "newPassword", "endOtherSessions"])
        let currentPassword = try Self.required(body, "currentPassword")
        let newPassword = try Self.required(body, "newPassword")
        let endOthers = try body.bool("endOtherSessions") ?? true
        if let weakness = PasswordPolicy.weakness(of: newPassword, email: current.agent.email, orgName: current.org.name) {
            throw APIError.weakPassword(weakness, field: "newPassword")
        }
        let address = context.clientAddress
        if let wait = auth.throttle.wait(email: current.agent.email, address: address) {
            Self.throttled.increment()
            throw APIError.tooManyAttempts(retryAfter: wait)
        }
        let stored = try await deps.store.credentials(orgID: current.org.id, agentID: current.agent.id)?.passwordHash
        guard try await verify(currentPassword, against: stored) else {
            auth.throttle.failed(email: current.agent.email, address: address)
            Self.failures.increment()
            throw APIError.invalidCredentials
        }
        let hash = try await hash(newPassword)
        let ended = try await deps.store.setPassword(
            orgID: current.org.id, agentID: current.agent.id, hash: hash, endSessions: endOthers, keep: current.session.id)
        for id in ended { deps.events.closeStreams(ofKey: PeopleAuth.streamKey(id)) }
        return .noContent()
    }

    @Sendable func listSessions(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let current = try Self.current(context)
        let sessions = try await deps.store.sessions(agentID: current.agent.id, settings: auth.settings)
        return .json(
            .object([
                (
                    "data",
                    .array(
                        sessions.map { session in
                            .object([
                                ("id", .string(session.id)), ("createdAt", .time(session.createdAt)),
                                ("lastSeenAt", .time(session.lastSeenAt)),
                                ("expiresAt", .time(session.expiresAt(idle: auth.settings.idle))),
                                ("ip", .string(session.ip)), ("userAgent", .string(session.userAgent)),
                                ("current", .bool(session.id == current.session.id)),
                            ])
                        })
                )
            ]))
    }

    @Sendable func endSession(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let current = try Self.current(context)
        let id = try context.id(notFound: "session")
        guard try await deps.store.deleteSession(id: id, agentID: current.agent.id) else {
            throw APIError.notFound("session")
        }
        deps.events.closeStreams(ofKey: PeopleAuth.streamKey(id))
        var response = Response.noContent()
        if id == current.session.id { response.headers[.setCookie] = auth.settings.clearCookie }
        return response
    }

    @Sendable func endOtherSessions(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let current = try Self.current(context)
        let ended = try await deps.store.endSessions(agentID: current.agent.id, except: current.session.id)
        for id in ended { deps.events.closeStreams(ofKey: PeopleAuth.streamKey(id)) }
        return .noContent()
    }

    // MARK: helpers

    static func current(_ context: EdgeRequestContext) throws(APIError) -> SignedIn {
        guard let signedIn = context.signedIn else { throw APIError.signInRequired }
        return signedIn
    }

    /// Sign-in and invite acceptance set a cookie: they follow the origin rule of cookie requests.
    func requireSameSite(_ request: Request) throws(APIError) {
        if let refusal = CSRFRule.refusal(request.head, publicOrigin: auth.settings.publicOrigin) {
            throw APIError.csrfRefused(refusal)
        }
    }

    static func required(_ body: JSONObject, _ field: String) throws(APIError) -> String {
        guard let value = try body.string(field) else {
            throw APIError(.badRequest, "missing_field", "'\(field)' is required", field: field)
        }
        return value
    }

    static func userAgent(_ request: Request) -> String { String((request.headers[.userAgent] ?? "").prefix(256)) }

    func verify(_ password: String, against stored: String?) async throws -> Bool {
        do { return try await auth.hasher.verify(password, against: stored) } catch is PasswordHasher.Busy {
            throw APIError.tooManyAttempts(retryAfter: 1)
        }
    }

    func hash(_ password: String) async throws -> String {
        do { return try await auth.hasher.hash(password) } catch is PasswordHasher.Busy {
            throw APIError.tooManyAttempts(retryAfter: 1)
        }
    }

    /// 200 with the session body and the cookie that carries `token`.
    func signedIn(_ signedIn: SignedIn, token: String) -> Response {
        var response = Response.json(render(signedIn))
        response.headers[.setCookie] = auth.settings.setCookie(token)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func render(_ signedIn: SignedIn) -> JSONValue {
        .object([
            ("agent", AgentsRoutes.render(signedIn.agent)),
            (
                "org",
                .object([
                    ("id", .string(signedIn.org.id)), ("name", .string(signedIn.org.name)),
                    ("timeZone", .string(signedIn.org.timeZone)),
                ])
            ),
            ("role", .string(signedIn.agent.role)),
            (
                "session",
                .object([
                    ("id", .string(signedIn.session.id)), ("createdAt", .time(signedIn.session.createdAt)),
                    ("expiresAt", .time(signedIn.session.expiresAt(idle: auth.settings.idle))),
                ])
            ),
        ])
    }
}

extension APIError {
    static let invalidCredentials = APIError(.unauthorized, "invalid_credentials", "email or password is wrong")

    static let invalidToken = APIError(
        .badRequest, "invalid_token", "this link is unknown, already used or expired; ask an admin for a new one",
        field: "token")

    static func weakPassword(_ weakness: PasswordPolicy.Weakness, field: String) -> APIError {
        APIError(
            .badRequest, "weak_password", weakness.message, field: field,
            details: [("reason", .string(weakness.rawValue))])
    }

    static func tooManyAttempts(retryAfter: Int) -> APIError {
        var error = APIError(
            .tooManyRequests, "too_many_attempts", "too many failed sign-ins; retry after \(retryAfter) s",
            details: [("retryAfterSeconds", .int(Int64(retryAfter)))])
        error.headers[.retryAfter] = String(retryAfter)
        return error
    }
}
