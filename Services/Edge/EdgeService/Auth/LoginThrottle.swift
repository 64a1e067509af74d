import Foundation
public import ServiceKit
import Synchronization

/// How failed sign-ins slow down further attempts (README, configuration). Never a lock-out: every wait ends.
///
/// - `SWITCHBOARD_LOGIN_FREE_FAILURES` (5): failures of one email from one address within the window before each
///   further attempt must wait.
/// - `SWITCHBOARD_LOGIN_FAILURE_WINDOW_S` (900): that window; older failures are forgotten.
/// - `SWITCHBOARD_LOGIN_MAX_DELAY_S` (60): the longest wait. The first is 1 s, then 2, 4, … up to it.
/// - `SWITCHBOARD_LOGIN_IP_FAILURE_LIMIT` (30): failed sign-ins one address may make per minute (any emails) before
///   its further attempts are refused until the minute is over; 0 turns this off.
public struct LoginThrottleSettings: Sendable, Equatable {
    public var freeFailures = 5
    public var window: Millis = 900_000
    public var maxDelay: Millis = 60_000
    public var perAddressPerMinute = 30

    public init() {}

    public init(config: ConfigReader) throws(ConfigError) {
        func read(_ key: String, _ value: Int, minimum: Int) throws(ConfigError) -> Int {
            let read = try config.int(key, default: value)
            guard read >= minimum else {
                throw ConfigError(key: key, value: String(read), expected: "an integer of at least \(minimum)")
            }
            return read
        }
        freeFailures = try read("SWITCHBOARD_LOGIN_FREE_FAILURES", freeFailures, minimum: 1)
        window = Millis(try read("SWITCHBOARD_LOGIN_FAILURE_WINDOW_S", Int(window / 1000), minimum: 1)) * 1000
        maxDelay = Millis(try read("SWITCHBOARD_LOGIN_MAX_DELAY_S", Int(maxDelay / 1000), minimum: 1)) * 1000
        perAddressPerMinute = try read("SWITCHBOARD_LOGIN_IP_FAILURE_LIMIT", perAddressPerMinute, minimum: 0)
    }
}

/// Failed sign-ins in memory, asked before any password is hashed: per (email, address) an increasing delay after
/// `freeFailures`, per address a cap per minute. Emails are held as SHA-256 only.
final class LoginThrottle: Sendable {
    let settings: LoginThrottleSettings
    private let state = Mutex(State())
    /// Beyond this many tracked entries the stale ones are dropped (bounded memory under churn).
    static let pruneAbove = 50_000

    struct State {
        /// Failure times of one (email hash, address) within the window, oldest first (at most a few dozen kept).
        var pairs: [String: [Millis]] = [:]
        var addresses: [String: (count: Int, since: Millis)] = [:]
    }

    init(_ settings: LoginThrottleSettings) { self.settings = settings }

    static func pairKey(email: String, address: String) -> String { EdgeStore.hash(email) + "|" + address }

    /// The wait before the n-th failure beyond the free ones may be followed by another attempt: 1 s, 2 s, 4 s …
    func delay(afterFailures count: Int) -> Millis {
        let beyond = count - settings.freeFailures
        guard beyond >= 0 else { return 0 }
        return min(settings.maxDelay, 1000 << min(beyond, 20))
    }

    /// The seconds to wait before this attempt may be checked, or nil when it may be now.
    func wait(email: String, address: String, now: Millis = .now()) -> Int? {
        state.withLock { state in
            var longest: Millis = 0
            if settings.perAddressPerMinute > 0, let entry = state.addresses[address], now - entry.since < 60_000,
                entry.count >= settings.perAddressPerMinute
            {
                longest = entry.since + 60_000 - now
            }
            if let failures = state.pairs[Self.pairKey(email: email, address: address)] {
                let recent = failures.filter { now - $0 < settings.window }
                if let last = recent.last {
                    longest = max(longest, last + delay(afterFailures: recent.count) - now)
                }
            }
            return longest > 0 ? max(1, Int((Double(longest) / 1000).rounded(.up))) : nil
        }
    }

    /// Counts a failed attempt (wrong password or unknown email).
    func failed(email: String, address: String, now: Millis = .now()) {
        let window = settings.window
        state.withLock { state in
            if state.pairs.count > Self.pruneAbove {
                state.pairs = state.pairs.filter { now - ($0.value.last ?? 0) < window }
            }
            if state.addresses.count > Self.pruneAbove {
                state.addresses = state.addresses.filter { now - $0.value.since < 60_000 }
            }
            let key = Self.pairKey(email: email, address: address)
            var failures = (state.pairs[key] ?? []).filter { now - $0 < window }
            failures.append(now)
            if failures.count > 64 { failures.removeFirst(failures.count - 64) }
            state.pairs[key] = failures
            if let entry = state.addresses[address], now - entry.since < 60_000 {
                state.addresses[address] = (entry.count + 1, entry.since)
            } else {
                state.addresses[address] = (1, now)
            }
        }
    }

    /// A successful sign-in forgets the pair's failures (not the address's).
    func succeeded(email: String, address: String) {
        _ = state.withLock { $0.pairs.removeValue(forKey: Self.pairKey(email: email, address: address)) }
    }
}
