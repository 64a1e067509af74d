import Foundation

/// The forms of a webhook URL that Twilio may have signed: as configured, with the scheme's default port written
/// out, and with the port left out. Twilio's own validators (python, ruby, go, C#) try the same ones.
///
/// The URL is cut by hand rather than through `URLComponents`, which would re-encode or re-case parts of it and so
/// change the signed text.
enum TwilioSignedURL {
    static func variants(of url: String) -> [String] {
        var variants = [url]
        guard let parts = Parts(url) else { return variants }
        if parts.port == nil, let port = parts.defaultPort {
            variants.append(parts.with(port: port))
        }
        if parts.port != nil {
            variants.append(parts.with(port: nil))
        }
        return variants
    }

    /// `scheme://[userinfo@]host[:port]rest`.
    private struct Parts {
        var head: String  // scheme://userinfo@host
        var port: Substring?
        var rest: Substring  // path, query and fragment
        var scheme: String

        init?(_ url: String) {
            guard let schemeEnd = url.range(of: "://") else { return nil }
            scheme = url[..<schemeEnd.lowerBound].lowercased()
            let authorityStart = schemeEnd.upperBound
            let authorityEnd = url[authorityStart...].firstIndex { "/?#".contains($0) } ?? url.endIndex
            let authority = url[authorityStart..<authorityEnd]
            rest = url[authorityEnd...]
            // The host starts after the last '@' (a password may hold ':'); an IPv6 host ends at ']'.
            let hostStart = authority.lastIndex(of: "@").map(authority.index(after:)) ?? authority.startIndex
            let host = authority[hostStart...]
            let searchFrom = host.lastIndex(of: "]") ?? host.startIndex
            if let colon = host[searchFrom...].lastIndex(of: ":") {
                port = host[host.index(after: colon)...]
                head = String(url[..<colon])
            } else {
                port = nil
                head = String(url[..<authorityEnd])
            }
        }

        var defaultPort: String? {
            switch scheme {
            case "https": "443"
            case "http": "80"
            default: nil
            }
        }

        func with(port: String?) -> String {
            head + (port.map { ":" + $0 } ?? "") + rest
        }
    }
}
