import Foundation
import Testing

@testable import MessagingService

/// Twilio's published signature vectors, and the signatures `index.json` computed for every form fixture.
@Suite("Twilio webhook signature")
struct TwilioSignatureTests {
    /// One `vectors.json` entry, its params as ordered pairs (nil for a JSON body, kept in `jsonBody`).
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var token: String
        var url: String
        var params: [Pair]
        var jsonBody: String?
        var signature: String
        var valid: Bool
        var exactURLSignature: String?
        var sha256 = false

        var testDescription: String { name }
    }

    struct Pair: Sendable, Equatable {
        var name: String
        var value: String
    }

    static func vectors() throws -> [Vector] {
        let root = try #require(WebhookFixtures.json("twilio/vectors.json") as? [String: Any])
        let published = try #require(root["vectors"] as? [[String: Any]])
        let extra = try #require(root["computed_extra_vectors"] as? [[String: Any]])
        let mixedCase = try #require(root["csharp_mixed_case_vectors_informational"] as? [[String: Any]])
        var vectors: [Vector] = []
        for entry in published + extra {
            var params: [Pair] = []
            if let object = entry["params"] as? [String: String] {
                params = object.map { Pair(name: $0.key, value: $0.value) }
            } else if let pairs = entry["params"] as? [[String]] {
                params = pairs.map { Pair(name: $0[0], value: $0[1]) }
            }
            vectors.append(
                Vector(
                    name: try #require(entry["name"] as? String),
                    token: try #require((entry["auth_token"] ?? entry["secret"]) as? String),
                    url: try #require(entry["url"] as? String), params: params,
                    jsonBody: entry["kind"] as? String == "json_body" ? entry["params"] as? String : nil,
                    signature: try #require(entry["signature"] as? String),
                    valid: try #require(entry["expect_valid"] as? Bool),
                    exactURLSignature: entry["compute_signature_exact_url"] as? String,
                    sha256: entry["algorithm"] as? String == "HMAC_SHA256"))
        }
        let basic = try #require(vectors.first).params
        for entry in mixedCase {
            let url = try #require(entry["url"] as? String)
            let signature = try #require(entry["twilio_python_compute_exact_url"] as? String)
            vectors.append(
                Vector(
                    name: "mixed case " + url, token: "12345", url: url, params: basic, signature: signature,
                    valid: true, exactURLSignature: signature))
        }
        return vectors
    }

    static func verify(_ vector: Vector, url: String? = nil, params: [Pair]? = nil, signature: String? = nil) -> Bool {
        let url = url ?? vector.url
        let signature = signature ?? vector.signature
        if let body = vector.jsonBody {
            return WebhookSignature.verifyTwilioJSON(
                url: url, body: Data(body.utf8), signature: signature, authToken: vector.token)
        }
        return WebhookSignature.verifyTwilio(
            url: url, parameters: (params ?? vector.params).map { ($0.name, $0.value) }, signature: signature,
            authToken: vector.token, algorithm: vector.sha256 ? .hmacSHA256 : .hmacSHA1)
    }

    @Test func readsEveryVector() throws {
        #expect(try Self.vectors().count == 22)
    }

    @Test(arguments: try vectors())
    func publishedVectorVerifiesAsTwilioSays(_ vector: Vector) throws {
        #expect(Self.verify(vector) == vector.valid)
        guard vector.valid else { return }
        // One changed character anywhere breaks it.
        var signature = Array(vector.signature)
        signature[0] = signature[0] == "A" ? "B" : "A"
        #expect(!Self.verify(vector, signature: String(signature)))
        #expect(!Self.verify(vector, url: vector.url.replacingOccurrences(of: "myapp.php", with: "myapp.phq")))
        if var params = Optional(vector.params), !params.isEmpty {
            params[0].value += "x"
            #expect(!Self.verify(vector, params: params))
        }
        #expect(
            !WebhookSignature.verifyTwilio(url: vector.url, parameters: [], signature: nil, authToken: vector.token))
    }

    @Test(arguments: try vectors().filter { $0.exactURLSignature != nil })
    func computesTheSignatureOfTheURLAsGiven(_ vector: Vector) throws {
        let computed = WebhookSignature.twilioSignature(
            url: vector.url, parameters: vector.params.map { ($0.name, $0.value) }, authToken: vector.token)
        #expect(computed == vector.exactURLSignature)
    }

    @Test(arguments: [
        ("https://example.test/hook?a=1", "https://example.test:443/hook?a=1"),
        ("https://example.test:443/hook?a=1", "https://example.test/hook?a=1"),
        ("http://example.test/hook", "http://example.test:80/hook"),
        ("https://u:p@example.test/hook", "https://u:p@example.test:443/hook"),
        ("https://[::1]/hook", "https://[::1]:443/hook"),
    ])
    func acceptsTheURLWithOrWithoutItsDefaultPort(received: String, signed: String) {
        let params = [(name: "Body", value: "hi"), (name: "From", value: "+1555")]
        let signature = WebhookSignature.twilioSignature(url: signed, parameters: params, authToken: "token")
        #expect(
            WebhookSignature.verifyTwilio(url: received, parameters: params, signature: signature, authToken: "token"))
        #expect(!WebhookSignature.verifyTwilio(url: received, parameters: params, signature: signature, authToken: "t"))
        // Another host or path is never accepted.
        let elsewhere = received.replacingOccurrences(of: "/hook", with: "/other")
        #expect(
            !WebhookSignature.verifyTwilio(url: elsewhere, parameters: params, signature: signature, authToken: "token")
        )
    }

    @Test func aWrongDefaultPortIsNotAccepted() {
        let params = [(name: "Body", value: "hi")]
        let signature = WebhookSignature.twilioSignature(
            url: "https://example.test:80/hook", parameters: params, authToken: "token")
        #expect(
            !WebhookSignature.verifyTwilio(
                url: "https://example.test/hook", parameters: params, signature: signature, authToken: "token"))
    }
}
