import Foundation
import HTTPTypes
public import ServiceKit
import Synchronization

/// How much one API key and one client address may ask of edge (README, configuration).
///
/// - `SWITCHBOARD_RATE_LIMIT_PER_KEY` (100): sustained requests per second per API key; 0 turns the limit off.
/// - `SWITCHBOARD_RATE_LIMIT_BURST` (200): requests a key may make at once before the sustained rate applies.
/// - `SWITCHBOARD_AUTH_FAILURE_LIMIT` (20): failed authentications one IP address may make per window before
///   its further attempts are refused with 429 without looking the key up; 0 turns the throttle off.
/// - `SWITCHBOARD_AUTH_FAILURE_WINDOW_S` (60): that window, in seconds.
public struct RequestLimits: Sendable {
    public var perKeyRate: Double
    public var perKeyBurst: Double
    public var authFailures: Int
    public var authFailureWindow: Millis

    public static let unlimited = RequestLimits(
        perKeyRate: 0, perKeyBurst: 0, authFailures: 0, authFailureWindow: 60_000)

    public init(perKeyRate: Double, perKeyBurst: Double, authFailures: Int, authFailureWindow: Millis) {
        self.perKeyRate = perKeyRate
        self.perKeyBurst = perKeyBurst
        self.authFailures = authFailures
        self.authFailureWindow = authFailureWindow
    }

    public init(config: ConfigReader) throws(ConfigError) {
        let rate = try config.int("SWITCHBOARD_RATE_LIMIT_PER_KEY", default: 100)
        let burst = try config.int("SWITCHBOARD_RATE_LIMIT_BURST", default: max(2 * rate, 1))
        let failures = try config.int("SWITCHBOARD_AUTH_FAILURE_LIMIT", default: 20)
        let window = try config.int("SWITCHBOARD_AUTH_FAILURE_WINDOW_S", default: 60)
        for (key, value) in [
            ("SWITCHBOARD_RATE_LIMIT_PER_KEY", rate), ("SWITCHBOARD_RATE_LIMIT_BURST", burst),
            ("SWITCHBOARD_AUTH_FAILURE_LIMIT", failures),
        ] where value < 0 {
            throw ConfigError(key: key, value: String(value), expected: "0 or a positive integer")
        }
        guard window > 0 else {
            throw ConfigError(
                key: "SWITCHBOARD_AUTH_FAILURE_WINDOW_S", value: String(window), expected: "a positive integer")
        }
        self.init(
            perKeyRate: Double(rate), perKeyBurst: Double(max(burst, 1)), authFailures: failures,
            authFailureWindow: Millis(window) * 1000)
    }
}

/// Per-key token buckets and the per-address count of failed authentications.
final class RequestLimiter: Sendable {
    let limits: RequestLimits
    private let buckets = Mutex<[String: (tokens: Double, at: Millis)]>([:])
    private let failures = Mutex<[String: (count: Int, since: Millis)]>([:])
    /// Beyond this many tracked entries, stale ones are dropped (bounded memory under address churn).
    static let pruneAbove = 50_000

    init(_ limits: RequestLimits) { self.limits = limits }

    /// Takes one request from the key's bucket; answers the seconds to wait when it is empty.
    func take(keyID: String, now: Millis = .now()) -> Int? {
        let rate = limits.perKeyRate, burst = limits.perKeyBurst
        guard rate > 0 else { return nil }
        return buckets.withLock { buckets in
            if buckets.count > Self.pruneAbove { buckets = buckets.filter { now - $0.value.at < 60_000 } }
            var bucket = buckets[keyID] ?? (burst, now)
            bucket.tokens = min(burst, bucket.tokens + Double(max(now - bucket.at, 0)) / 1000 * rate)
            bucket.at = now
            defer { buckets[keyID] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }

    /// The seconds until `address` may try to authenticate again, or nil when it may now.
    func authBlocked(_ address: String, now: Millis = .now()) -> Int? {
        let limit = limits.authFailures, window = limits.authFailureWindow
        guard limit > 0 else { return nil }
        return failures.withLock { failures in
            guard let entry = failures[address], now - entry.since < window, entry.count >= limit else { return nil }
            return max(1, Int((Double(entry.since + window - now) / 1000).rounded(.up)))
        }
    }

    /// Counts one failed authentication from `address`.
    func authFailed(_ address: String, now: Millis = .now()) {
        let window = limits.authFailureWindow
        guard limits.authFailures > 0 else { return }
        failures.withLock { failures in
            if failures.count > Self.pruneAbove { failures = failures.filter { now - $0.value.since < window } }
            if let entry = failures[address], now - entry.since < window {
                failures[address] = (entry.count + 1, entry.since)
            } else {
                failures[address] = (1, now)
            }
        }
    }
}

extension APIError {
    static func rateLimited(retryAfter: Int) -> APIError {
        var error = APIError(
            .tooManyRequests, "rate_limited", "this API key is making too many requests; retry after \(retryAfter) s",
            details: [("retryAfterSeconds", .int(Int64(retryAfter)))])
        error.headers[.retryAfter] = String(retryAfter)
        return error
    }

    static func authThrottled(retryAfter: Int) -> APIError {
        var error = APIError(
            .tooManyRequests, "too_many_auth_failures",
            "too many failed authentications from this address; retry after \(retryAfter) s",
            details: [("retryAfterSeconds", .int(Int64(retryAfter)))])
        error.headers[.retryAfter] = String(retryAfter)
        return error
    }
}
