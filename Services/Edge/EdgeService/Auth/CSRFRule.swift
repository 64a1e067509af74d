import ContactsKit
public import HTTPTypes

/// Which cookie-carrying requests may change state. A browser tells where a request comes from (`Sec-Fetch-Site`,
/// else `Origin`), and a cross-site form cannot send JSON or a custom header without CORS, which edge never grants:
/// so a request is let through when it is same-origin **and** carries JSON or `X-Switchboard-Console: 1`.
/// GET, HEAD and OPTIONS change nothing and pass.
public enum CSRFRule {
    public static let consoleHeader = HTTPField.Name("X-Switchboard-Console")!
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let origin = HTTPField.Name("Origin")!

    /// What a refused request is told.
    enum Refusal: String, Sendable, Equatable {
        case crossOrigin = "the request does not come from this site (Sec-Fetch-Site or Origin)"
        case notJSON = "a state-changing request must send JSON or the header X-Switchboard-Console: 1"
    }

    /// Why the request is refused, or nil when it may go on. `publicOrigin` is `scheme://host[:port]` in lower case.
    static func refusal(
        method: HTTPRequest.Method, secFetchSite: String?, origin: String?, contentType: String?, console: String?,
        publicOrigin: String
    ) -> Refusal? {
        if method == .get || method == .head || method == .options { return nil }
        let sameOrigin: Bool
        if let site = secFetchSite {
            sameOrigin = site.trimmed.lowercased() == "same-origin"
        } else {
            sameOrigin = origin.map { $0.trimmed.lowercased() == publicOrigin } ?? false
        }
        guard sameOrigin else { return .crossOrigin }
        let mediaType = contentType?.split(separator: ";").first.map { $0.trimmed.lowercased() }
        guard mediaType == "application/json" || console?.trimmed == "1" else { return .notJSON }
        return nil
    }

    /// The refusal for `request`.
    static func refusal(_ request: HTTPRequest, publicOrigin: String) -> Refusal? {
        refusal(
            method: request.method, secFetchSite: request.headerFields[secFetchSite], origin: request.headerFields[origin],
            contentType: request.headerFields[.contentType], console: request.headerFields[consoleHeader],
            publicOrigin: publicOrigin)
    }
}
