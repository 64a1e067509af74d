import HTTPTypes

/// The headers of the console's answers (CONSOLE.md §4.6, ASVS 3.4): every HTML page gets the strict
/// Content-Security-Policy with Trusted Types (no inline script or style, `innerHTML` refused by the browser),
/// is never stored, and may not be framed; assets are revalidated on each use (ETag) and never sniffed.
struct ConsoleHeaders: Sendable {
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
        "media-src 'self' blob:", "connect-src 'self'", "font-src 'self'", "manifest-src 'self'", "object-src 'none'",
        "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ].joined(separator: "; ")

    static let permissionsPolicy = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"

    /// HSTS only when the console is served over TLS (ASVS 3.4.1): over plain http a browser ignores it anyway.
    let https: Bool

    init(publicURL: String) {
        https = publicURL.lowercased().hasPrefix("https://")
    }

    // Names HTTPTypes does not predefine (kept here so they cannot clash with another file's extension).
    static let permissionsPolicyName = HTTPField.Name("Permissions-Policy")!
    static let openerPolicyName = HTTPField.Name("Cross-Origin-Opener-Policy")!
    static let frameOptionsName = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicyName = HTTPField.Name("Referrer-Policy")!

    func page(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        headers[.cacheControl] = "no-store"
        headers[Self.openerPolicyName] = "same-origin"
        headers[Self.permissionsPolicyName] = Self.permissionsPolicy
        headers[Self.frameOptionsName] = "DENY"
        common(&headers)
    }

    func asset(_ headers: inout HTTPFields) {
        headers[.cacheControl] = "no-cache"
        common(&headers)
    }

    private func common(_ headers: inout HTTPFields) {
        headers[.xContentTypeOptions] = "nosniff"
        headers[Self.referrerPolicyName] = "no-referrer"
        headers[.crossOriginResourcePolicy] = "same-origin"
        if https { headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
    }
}
