import Foundation
import HTTPTypes
public import ServiceKit

/// Session lifetimes and the session cookie (README, configuration).
///
/// - `SWITCHBOARD_SESSION_IDLE_S` (7200): a session unused this long has ended.
/// - `SWITCHBOARD_SESSION_MAX_S` (43200): a session ends this long after sign-in however much it is used.
///
/// The cookie is `__Host-sb_session=<token>; Path=/; Secure; HttpOnly; SameSite=Lax` when the public URL
/// (`SWITCHBOARD_PUBLIC_URL`) is https or names a loopback host, else `sb_session=<token>; Path=/; HttpOnly;
/// SameSite=Lax` (a browser drops a Secure cookie sent over plain http to another host).
public struct SessionSettings: Sendable {
    public var idle: Millis = 7_200_000
    public var maximum: Millis = 43_200_000
    /// `scheme://host[:port]`, lower case: what `Origin` must be on a cookie request without `Sec-Fetch-Site`.
    public var publicOrigin: String
    public var secure: Bool
    /// A session's `last_seen_at` is written at most this often.
    static let touchInterval: Millis = 60_000
    /// Invitation and reset links live this long.
    static let inviteLifetime: Millis = 86_400_000

    public init(publicURL: String, idleSeconds: Int = 7200, maximumSeconds: Int = 43200) {
        idle = Millis(idleSeconds) * 1000
        maximum = Millis(maximumSeconds) * 1000
        let url = URL(string: publicURL)
        let scheme = url?.scheme?.lowercased() ?? "http"
        let host = url?.host?.lowercased() ?? "127.0.0.1"
        var origin = "\(scheme)://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host)"
        if let port = url?.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) {
            origin += ":\(port)"
        }
        publicOrigin = origin
        secure = scheme == "https" || Self.isLoopback(host)
    }

    public init(publicURL: String, config: ConfigReader) throws(ConfigError) {
        func seconds(_ key: String, _ value: Int) throws(ConfigError) -> Int {
            let read = try config.int(key, default: value)
            guard read >= 60 else { throw ConfigError(key: key, value: String(read), expected: "at least 60 seconds") }
            return read
        }
        self.init(
            publicURL: publicURL, idleSeconds: try seconds("SWITCHBOARD_SESSION_IDLE_S", 7200),
            maximumSeconds: try seconds("SWITCHBOARD_SESSION_MAX_S", 43200))
    }

    static func isLoopback(_ host: String) -> Bool {
        let host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    public var cookieName: String { secure ? "__Host-sb_session" : "sb_session" }

    private var attributes: String { secure ? "Path=/; Secure; HttpOnly; SameSite=Lax" : "Path=/; HttpOnly; SameSite=Lax" }

    /// The `Set-Cookie` value that starts a session.
    func setCookie(_ token: String) -> String { "\(cookieName)=\(token); \(attributes)" }

    /// The `Set-Cookie` value that removes the cookie.
    var clearCookie: String { "\(cookieName)=; \(attributes); Max-Age=0" }

    /// The session token in the request's cookies, if it has the shape of one (43 base64url characters).
    func token(in request: HTTPRequest) -> String? {
        for header in request.headerFields[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == cookieName else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if SessionToken.isWellFormed(value) { return value }
            }
        }
        return nil
    }

    /// Whether the request carries a cookie of this name at all (well-formed or not).
    func hasCookie(_ request: HTTPRequest) -> Bool {
        request.headerFields[values: .cookie].contains { header in
            header.split(separator: ";").contains {
                $0.split(separator: "=", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) == cookieName
            }
        }
    }
}

/// A session or invitation token: 256 random bits as 43 base64url characters, stored only as SHA-256.
enum SessionToken {
    static func make() -> String { String(EdgeStore.generateKey().dropFirst(3)) }

    static func isWellFormed(_ value: some StringProtocol) -> Bool {
        value.utf8.count == 43
            && value.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D
                    || $0 == 0x5F
            }
    }
}
