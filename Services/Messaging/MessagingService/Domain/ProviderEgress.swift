import Foundation
public import ServiceKit
import Synchronization

/// Where provider calls may go, an operator decision: the provider origins a channel's base URL may name
/// (SWITCHBOARD_PROVIDER_URL_ALLOWLIST) and whether they may reach private, loopback or link-local addresses
/// (SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS). Checked when a channel is saved and again, on the resolved
/// addresses, before every provider request, so an old row or a changed DNS answer cannot get around it.
public struct ProviderEgress: Sendable {
    /// One allowed origin: scheme and host, and the port when the entry names one (else any port).
    struct Origin: Sendable, Equatable {
        var scheme: String
        var host: String
        var port: Int?
    }

    static let defaultAllowList = "https://graph.facebook.com,https://api.twilio.com"

    /// Nil: any host (`*`); the private-address rule still applies.
    let origins: [Origin]?
    let allowPrivate: Bool
    /// What each host resolved to lately: a send does not pay a DNS lookup each (1,000 sends/s on one number).
    private let resolved = ResolutionCache()

    init(origins: [Origin]?, allowPrivate: Bool) {
        self.origins = origins
        self.allowPrivate = allowPrivate
    }

    /// Any host, private targets included: for tests that point channels at fakes.
    public static let unrestricted = ProviderEgress(origins: nil, allowPrivate: true)

    /// SWITCHBOARD_PROVIDER_URL_ALLOWLIST (comma-separated `scheme://host[:port]` or `*`; default the real
    /// providers over https) and SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS (`false`).
    public init(config: ConfigReader) throws(ConfigError) {
        let list = config.string("SWITCHBOARD_PROVIDER_URL_ALLOWLIST", default: Self.defaultAllowList)
        let entries = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if entries.contains("*") {
            origins = nil
        } else {
            origins = try entries.map { entry throws(ConfigError) in
                guard let origin = Self.origin(of: entry) else {
                    throw ConfigError(
                        key: "SWITCHBOARD_PROVIDER_URL_ALLOWLIST", value: entry, expected: "scheme://host[:port] or *")
                }
                return origin
            }
        }
        let flag = config.string("SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS", default: "false").lowercased()
        guard ["true", "false", "1", "0"].contains(flag) else {
            throw ConfigError(key: "SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS", value: flag, expected: "true or false")
        }
        allowPrivate = flag == "true" || flag == "1"
    }

    static func origin(of text: String) -> Origin? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            var host = url.host?.lowercased(), !host.isEmpty, url.user == nil, url.password == nil
        else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return Origin(scheme: scheme, host: host, port: url.port)
    }

    /// Why `url` may not be used as a provider URL (nil when it may), without resolving names.
    func refusal(of url: String) -> String? {
        guard let target = Self.origin(of: url) else { return "must be an http(s) URL with a host and no credentials" }
        if let origins, !origins.contains(where: {
            $0.scheme == target.scheme && $0.host == target.host && ($0.port == nil || $0.port == target.port)
        }) {
            return "\(target.scheme)://\(target.host) is not an allowed provider origin "
                + "(SWITCHBOARD_PROVIDER_URL_ALLOWLIST)"
        }
        if !allowPrivate, PrivateAddress.isPrivate(literal: target.host) == true || target.host == "localhost" {
            return "\(target.host) is a private, loopback or link-local address "
                + "(SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS)"
        }
        return nil
    }

    /// `refusal(of:)` plus the addresses the host resolves to (resolved off the event loops). A name that does
    /// not resolve is not refused here: the provider call then fails as a network error.
    func refusalResolving(_ url: String) async -> String? {
        if let refusal = refusal(of: url) { return refusal }
        guard !allowPrivate, let host = Self.origin(of: url)?.host, PrivateAddress.isPrivate(literal: host) == nil
        else { return nil }
        if let verdict = resolved.verdict(for: host) { return verdict.refusal }
        let addresses = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: try? PrivateAddress.resolve(host)) }
        }
        var refusal: String?
        if let blocked = addresses?.first(where: \.isPrivate) {
            refusal = "\(host) resolves to \(blocked.address), a private, loopback or link-local address "
                + "(SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS)"
        }
        if addresses != nil { resolved.remember(host, refusal: refusal) }
        return refusal
    }
}

/// Recent resolution verdicts per host, kept `ttl` (a DNS answer's usual lifetime is longer; a changed answer is
/// seen within it).
final class ResolutionCache: Sendable {
    struct Verdict: Sendable {
        var refusal: String?
        var until: ContinuousClock.Instant
    }

    static let ttl: Duration = .seconds(30)
    private let verdicts = Mutex<[String: Verdict]>([:])

    func verdict(for host: String) -> Verdict? {
        let now = ContinuousClock.now
        return verdicts.withLock { verdicts in
            guard let verdict = verdicts[host], verdict.until > now else { return nil }
            return verdict
        }
    }

    func remember(_ host: String, refusal: String?) {
        let verdict = Verdict(refusal: refusal, until: .now + Self.ttl)
        verdicts.withLock { verdicts in
            if verdicts.count > 1_000 { verdicts.removeAll() }
            verdicts[host] = verdict
        }
    }
}
