public import ContactsKit
import Foundation
public import Hummingbird
import Logging
public import NIOCore

/// The authenticated caller of a request: an API key of one organisation, or an agent signed in with the session
/// cookie (then `keyID` is `session:<session id>`, so rate limits and stream caps apply per session).
public struct Caller: Sendable {
    public var orgID: String
    public var keyID: String
    public var keyName: String
    public var role: String
    /// The agent this key acts as, if any.
    public var agentID: String?
    /// The session, when the caller signed in with the session cookie.
    public var sessionID: String? = nil

    /// An agent's key acts as that agent (who resolved a conversation, whose CSAT it is); other keys as themselves.
    public var actor: Actor {
        if let agentID { return Actor(kind: "agent", id: agentID, name: keyName) }
        return Actor(kind: "api_key", id: keyID, name: keyName)
    }
    public var isAdmin: Bool { role == "admin" }
}

/// Hummingbird request context with the caller set by the auth middleware.
public struct EdgeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?
    /// The session, its agent and org, when the caller signed in with the session cookie.
    var signedIn: SignedIn?
    /// The client's socket address (nil in router tests without a socket).
    public var remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address, the key of the failed-authentication throttle ("local" without a socket).
    var clientAddress: String { remoteAddress?.ipAddress ?? "local" }

    /// JSON bodies are limited to 1 MiB (imports stream separately).
    public var maxUploadSize: Int { 1 << 20 }

    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw APIError.unauthorized }
        return caller
    }

    /// The caller, who must hold an admin key (403 `forbidden` otherwise).
    func requireAdmin() throws(APIError) -> Caller {
        let caller = try requireCaller()
        guard caller.isAdmin else { throw APIError(.forbidden, "forbidden", "only admins may do this") }
        return caller
    }
}

extension Request {
    /// The body as bytes, at most `limit` (413 `payload_too_large` beyond).
    mutating func bodyBytes(limit: Int = 1 << 20) async throws -> [UInt8] {
        do {
            let buffer = try await collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is larger than \(limit) bytes")
        }
    }

    /// Every value of a query parameter, decoded as a browser encodes forms (`+` is a space, then %XX).
    func queryValues(_ name: String) -> [String] {
        guard let query = uri.query, !query.isEmpty else { return [] }
        var values: [String] = []
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard Self.decode(parts[0]) == name else { continue }
            values.append(parts.count > 1 ? Self.decode(parts[1]) : "")
        }
        return values
    }

    static func decode(_ raw: Substring) -> String {
        let spaced = raw.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// A query parameter (its last value), or nil when absent or empty.
    func query(_ name: String) -> String? {
        guard let value = queryValues(name).last, !value.isEmpty else { return nil }
        return value
    }

    func queryBool(_ name: String) throws(APIError) -> Bool? {
        guard let raw = query(name) else { return nil }
        switch raw.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default:
            throw APIError(
                .badRequest, "invalid_query", "'\(name)' must be true or false",
                details: [("parameter", .string(name))])
        }
    }

    /// `limit` in 1...max (default 50).
    func pageLimit(default defaultLimit: Int = 50, max: Int = 200) throws(APIError) -> Int {
        guard let raw = query("limit") else { return defaultLimit }
        guard let limit = Int(raw), (1...max).contains(limit) else {
            throw APIError(
                .badRequest, "invalid_query", "'limit' must be an integer between 1 and \(max)",
                details: [("parameter", .string("limit"))])
        }
        return limit
    }
}

extension EdgeRequestContext {
    /// A path parameter that must look like one of our ids (anything else cannot exist: 404).
    func id(_ name: String = "id", notFound: String) throws(APIError) -> String {
        guard let value = parameters.get(name), !value.isEmpty, value.count <= 64 else { throw APIError.notFound(notFound) }
        return value
    }
}
