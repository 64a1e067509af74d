import Crypto
import Foundation

/// The HMAC algorithm a Twilio signature uses: SHA-1 with the auth token (`X-Twilio-Signature`), or SHA-256 with a
/// shared key when `X-Twilio-Webhooks-Signature-Settings` says `algorithm=HMAC_SHA256`.
enum TwilioSignatureAlgorithm: Sendable, Equatable {
    case hmacSHA1
    case hmacSHA256
}

/// Checks that a webhook came from the provider: Meta's `X-Hub-Signature-256` and Twilio's `X-Twilio-Signature`.
///
/// Every comparison is constant-time. An empty secret never verifies anything: it means the channel is not set up.
enum WebhookSignature {
    /// `X-Hub-Signature-256: sha256=<hex>` over the exact bytes, HMAC-SHA256 with the app secret, constant-time
    /// compare (hex case-insensitive).
    static func verifyMeta(body: Data, header: String?, appSecret: String) -> Bool {
        guard !appSecret.isEmpty, let header = header?.trimmingCharacters(in: .whitespaces) else { return false }
        let prefix = "sha256="
        guard header.count == prefix.count + 64, header.lowercased().hasPrefix(prefix),
            let mac = bytes(hex: header.dropFirst(prefix.count))
        else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key(appSecret))
    }

    static func metaSignature(body: Data, appSecret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key(appSecret))
        let digits = Array("0123456789abcdef".utf8)
        let hex = mac.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }
        return "sha256=" + String(decoding: hex, as: UTF8.self)
    }

    /// Twilio: base64(HMAC-SHA1(authToken, url + concatenation of name+value for params sorted by name (then
    /// value))), constant-time. Accept the URL as given, and also with the default port added (https :443 /
    /// http :80) or its port removed — Twilio signs either form, and its own validators accept both.
    static func verifyTwilio(
        url: String,
        parameters: [(name: String, value: String)],
        signature: String?,
        authToken: String,
        algorithm: TwilioSignatureAlgorithm = .hmacSHA1
    ) -> Bool {
        guard !authToken.isEmpty, let signature, let mac = Data(base64Encoded: signature) else { return false }
        let key = key(authToken)
        var valid = false
        for candidate in TwilioSignedURL.variants(of: url) {
            let message = Data(signedText(url: candidate, parameters: parameters).utf8)
            let matches =
                switch algorithm {
                case .hmacSHA1: HMAC<Insecure.SHA1>.isValidAuthenticationCode(mac, authenticating: message, using: key)
                case .hmacSHA256: HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: key)
                }
            valid = valid || matches
        }
        return valid
    }

    /// Twilio's JSON-bodied webhooks: the URL carries `bodySHA256=<hex SHA-256 of the body>` and the signature
    /// covers the URL alone.
    static func verifyTwilioJSON(url: String, body: Data, signature: String?, authToken: String) -> Bool {
        let query = URLComponents(string: url)?.queryItems ?? []
        guard let claimed = query.first(where: { $0.name == "bodySHA256" })?.value,
            let claimedHash = bytes(hex: claimed[...]), Data(SHA256.hash(data: body)) == claimedHash
        else { return false }
        return verifyTwilio(url: url, parameters: [], signature: signature, authToken: authToken)
    }

    static func twilioSignature(
        url: String,
        parameters: [(name: String, value: String)],
        authToken: String,
        algorithm: TwilioSignatureAlgorithm = .hmacSHA1
    ) -> String {
        let message = Data(signedText(url: url, parameters: parameters).utf8)
        let key = key(authToken)
        return switch algorithm {
        case .hmacSHA1: Data(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key)).base64EncodedString()
        case .hmacSHA256: Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
        }
    }

    /// The URL followed by name+value of every parameter, sorted by name then value in byte order, exact duplicate
    /// pairs once (as Twilio's reference validator does).
    static func signedText(url: String, parameters: [(name: String, value: String)]) -> String {
        let sorted = parameters.sorted { left, right in
            left.name == right.name
                ? left.value.utf8.lexicographicallyPrecedes(right.value.utf8)
                : left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }
        var text = url
        var previous: (name: String, value: String)?
        for parameter in sorted where previous.map({ $0 != parameter }) ?? true {
            text += parameter.name + parameter.value
            previous = parameter
        }
        return text
    }

    private static func key(_ secret: String) -> SymmetricKey {
        SymmetricKey(data: Data(secret.utf8))
    }

    /// Hex digits (either case) to bytes; nil for anything else.
    private static func bytes(hex: Substring) -> Data? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes = Data(capacity: digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = digits[index].hexDigitValue, let low = digits[index + 1].hexDigitValue else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}

extension UInt8 {
    /// The value of an ASCII hex digit (either case); nil for any other byte.
    var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
