import Foundation
import GRDB
import HTTPTypes
import ServiceKit
import Testing

@testable import EdgeService

/// People and sessions, decided without a server: the password policy, the hash format, the sign-in throttle, the
/// CSRF rule, the cookie and the session store.
@Suite("People and sessions")
struct AuthTests {
    // MARK: password policy

    @Test(arguments: [
        ("short7!", "too_short"), ("", "too_short"), (String(repeating: "x", count: 129) + "y", "too_long"),
        ("password", "common"), ("PassWord1", "common"), ("iloveyou", "common"), ("QWERTY123", "common"),
        ("switchboard", "context"), ("Switchboard2024!", "context"), ("ann@example.com", "context"),
        ("ann@example.com1", "context"), ("Acme Widgets!", "context"), ("acmewidgets99", "context"),
    ])
    func refusedPasswordsSayWhy(password: String, reason: String) {
        let weakness = PasswordPolicy.weakness(of: password, email: "ann@example.com", orgName: "Acme Widgets")
        #expect(weakness?.rawValue == reason)
    }

    @Test(arguments: [
        "correct horse battery staple", "8charsOK", String(repeating: "z", count: 127) + "q", "日本語のパスワードです",
        "switchboard is my favourite app", "acme-is-where-i-work-since-2019",
    ])
    func acceptablePasswordsHaveNoCompositionRules(password: String) {
        #expect(PasswordPolicy.weakness(of: password, email: "ann@example.com", orgName: "Acme Widgets") == nil)
    }

    @Test func theCommonListHoldsTenThousandLowerCasePasswords() {
        #expect(CommonPasswords.list.count >= 9_900)
        #expect(CommonPasswords.list.contains("123456") && CommonPasswords.list.contains("dragon"))
        #expect(CommonPasswords.list.allSatisfy { $0 == $0.lowercased() && !$0.hasPrefix("#") })
    }

    @Test func lengthCountsCodePointsAfterNFC() {
        // "é" typed as e + combining accent is one code point after NFC: 7 of them is too short.
        let decomposed = String(repeating: "e\u{301}", count: 7)
        #expect(PasswordPolicy.weakness(of: decomposed, email: "a@b.co", orgName: "X") == .tooShort)
        #expect(PasswordPolicy.weakness(of: decomposed + "q", email: "a@b.co", orgName: "X") == nil)
    }

    // MARK: the hash

    @Test func aHashStoresItsParametersAndVerifiesOnlyTheRightPassword() throws {
        let stored = PasswordHasher.hash("correct horse", logN: 14)
        let parts = stored.split(separator: "$")
        #expect(parts.count == 6 && parts[0] == "scrypt" && parts[1] == "14" && parts[2] == "8" && parts[3] == "1")
        let parsed = try #require(PasswordHasher.parse(stored))
        #expect(parsed.salt.count == 16 && parsed.hash.count == 32)
        #expect(PasswordHasher.verify("correct horse", against: stored))
        #expect(!PasswordHasher.verify("correct horsE", against: stored))
        #expect(!PasswordHasher.verify("", against: stored))
        // A fresh salt each time: the same password hashes differently.
        #expect(PasswordHasher.hash("correct horse", logN: 14) != stored)
    }

    @Test func theSameCharactersInAnotherNormalFormVerify() {
        let stored = PasswordHasher.hash("caf\u{E9} au lait", logN: 14)
        #expect(PasswordHasher.verify("cafe\u{301} au lait", against: stored))
    }

    @Test func aKnownVectorMatchesScrypt() {
        // RFC 7914 §12, the second vector: "password" / "NaCl", N = 1024, r = 8, p = 16, 64 bytes (first 32 here).
        let derived = PasswordHasher.derive("password", salt: Array("NaCl".utf8), logN: 10, r: 8, p: 16)
        let hex = derived.map { String(format: "%02x", $0) }.joined()
        #expect(hex == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    }

    @Test(arguments: [
        "", "scrypt", "bcrypt$17$8$1$AAAA$AAAA", "scrypt$17$8$1$$", "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "scrypt$40$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
    ])
    func aMalformedStoredHashMatchesNothing(stored: String) {
        #expect(PasswordHasher.parse(stored) == nil)
        #expect(!PasswordHasher.verify("anything", against: stored))
    }

    @Test func anUnknownEmailIsCheckedAgainstTheDummyAndFails() async throws {
        let hasher = PasswordHasher(logN: 14)
        #expect(try await hasher.verify("whatever", against: nil) == false)
        let stored = try await hasher.hash("right one here")
        #expect(try await hasher.verify("right one here", against: stored))
        #expect(!hasher.isOutdated(stored))
        #expect(PasswordHasher(logN: 15).isOutdated(stored))
    }

    @Test func theScryptCostIsConfigurableWithinBounds() throws {
        #expect(try PasswordHasher(config: ConfigReader([:])).logN == 17)
        #expect(try PasswordHasher(config: ConfigReader(["SWITCHBOARD_PASSWORD_SCRYPT_LOG_N": "14"])).logN == 14)
        #expect(throws: ConfigError.self) {
            try PasswordHasher(config: ConfigReader(["SWITCHBOARD_PASSWORD_SCRYPT_LOG_N": "13"]))
        }
    }

    // MARK: throttle

    @Test func fiveFailuresAreFreeThenEachAttemptWaitsLonger() {
        let throttle = LoginThrottle(LoginThrottleSettings())
        var now: Millis = 1_000_000
        for _ in 0..<5 {
            #expect(throttle.wait(email: "a@b.co", address: "1.2.3.4", now: now) == nil)
            throttle.failed(email: "a@b.co", address: "1.2.3.4", now: now)
        }
        #expect(throttle.wait(email: "a@b.co", address: "1.2.3.4", now: now) == 1)
        // Another email or another address is not slowed down.
        #expect(throttle.wait(email: "c@b.co", address: "1.2.3.4", now: now) == nil)
        #expect(throttle.wait(email: "a@b.co", address: "5.6.7.8", now: now) == nil)
        var waits: [Int] = []
        for _ in 0..<8 {
            let wait = throttle.wait(email: "a@b.co", address: "1.2.3.4", now: now) ?? 0
            waits.append(wait)
            now += Millis(wait) * 1000
            #expect(throttle.wait(email: "a@b.co", address: "1.2.3.4", now: now) == nil)
            throttle.failed(email: "a@b.co", address: "1.2.3.4", now: now)
        }
        #expect(waits == [1, 2, 4, 8, 16, 32, 60, 60])
        // Never a lock-out: after the window the failures are forgotten.
        now += 900_000
        #expect(throttle.wait(email: "a@b.co", address: "1.2.3.4", now: now) == nil)
    }

    @Test func aSuccessForgetsThePairsFailures() {
        let throttle = LoginThrottle(LoginThrottleSettings())
        for _ in 0..<5 { throttle.failed(email: "a@b.co", address: "ip", now: 10) }
        #expect(throttle.wait(email: "a@b.co", address: "ip", now: 10) != nil)
        throttle.succeeded(email: "a@b.co", address: "ip")
        #expect(throttle.wait(email: "a@b.co", address: "ip", now: 10) == nil)
    }

    @Test func oneAddressFailingWithManyEmailsIsCappedPerMinute() {
        var settings = LoginThrottleSettings()
        settings.perAddressPerMinute = 30
        let throttle = LoginThrottle(settings)
        for index in 0..<30 {
            #expect(throttle.wait(email: "u\(index)@b.co", address: "ip", now: 5_000) == nil)
            throttle.failed(email: "u\(index)@b.co", address: "ip", now: 5_000)
        }
        #expect(throttle.wait(email: "new@b.co", address: "ip", now: 6_000) == 59)
        #expect(throttle.wait(email: "new@b.co", address: "other", now: 6_000) == nil)
        #expect(throttle.wait(email: "new@b.co", address: "ip", now: 65_000) == nil)
        settings.perAddressPerMinute = 0
        let off = LoginThrottle(settings)
        for index in 0..<100 { off.failed(email: "u\(index)@b.co", address: "ip", now: 5_000) }
        #expect(off.wait(email: "new@b.co", address: "ip", now: 5_000) == nil)
    }

    // MARK: CSRF

    @Test(arguments: [
        // method, Sec-Fetch-Site, Origin, Content-Type, console header → allowed
        ("POST", "same-origin", nil, "application/json", nil, true),
        ("POST", "same-origin", nil, "application/json; charset=utf-8", nil, true),
        ("POST", "same-origin", nil, "text/plain", "1", true),
        ("DELETE", nil, "https://sb.example.com", nil, "1", true),
        ("PATCH", nil, "HTTPS://SB.EXAMPLE.COM", "application/json", nil, true),
        ("GET", "cross-site", "https://evil.test", nil, nil, true),
        ("POST", "cross-site", "https://sb.example.com", "application/json", "1", false),
        ("POST", "same-site", nil, "application/json", "1", false),
        ("POST", "none", nil, "application/json", "1", false),
        ("POST", nil, "https://evil.test", "application/json", "1", false),
        ("POST", nil, "https://sb.example.com:8443", "application/json", "1", false),
        ("POST", nil, nil, "application/json", "1", false),
        ("POST", "same-origin", nil, "text/plain", nil, false),
        ("POST", "same-origin", nil, "application/x-www-form-urlencoded", "0", false),
        ("DELETE", "same-origin", nil, nil, nil, false),
        ("PUT", "same-origin", nil, "multipart/form-data; boundary=x", nil, false),
    ] as [(String, String?, String?, String?, String?, Bool)])
    func theCSRFRule(
        method: String, site: String?, origin: String?, contentType: String?, console: String?, allowed: Bool
    ) {
        let refusal = CSRFRule.refusal(
            method: HTTPRequest.Method(method)!, secFetchSite: site, origin: origin, contentType: contentType,
            console: console, publicOrigin: SessionSettings(publicURL: "https://sb.example.com/").publicOrigin)
        #expect((refusal == nil) == allowed)
    }

    // MARK: the cookie

    @Test(arguments: [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", true), ("http://localhost:3000/", "http://localhost:3000", true),
        ("http://[::1]:8080", "http://[::1]:8080", true), ("https://sb.example.com", "https://sb.example.com", true),
        ("https://sb.example.com:443", "https://sb.example.com", true), ("http://sb.example.com", "http://sb.example.com", false),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080", false),
    ])
    func theCookieIsSecureAndHostPrefixedOverHttpsOrLoopback(url: String, origin: String, secure: Bool) {
        let settings = SessionSettings(publicURL: url)
        #expect(settings.publicOrigin == origin)
        #expect(settings.secure == secure)
        let token = SessionToken.make()
        if secure {
            #expect(settings.setCookie(token) == "__Host-sb_session=\(token); Path=/; Secure; HttpOnly; SameSite=Lax")
            #expect(settings.clearCookie == "__Host-sb_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
        } else {
            #expect(settings.setCookie(token) == "sb_session=\(token); Path=/; HttpOnly; SameSite=Lax")
        }
    }

    @Test func theTokenIsReadFromTheCookieHeaderOnlyWhenWellFormed() {
        let settings = SessionSettings(publicURL: "http://127.0.0.1:8080")
        let token = SessionToken.make()
        #expect(token.count == 43 && SessionToken.isWellFormed(token))
        func request(_ cookie: String) -> HTTPRequest {
            HTTPRequest(method: .get, scheme: "http", authority: "x", path: "/", headerFields: [.cookie: cookie])
        }
        #expect(settings.token(in: request("a=1; __Host-sb_session=\(token); b=2")) == token)
        #expect(settings.token(in: request("sb_session=\(token)")) == nil)
        #expect(settings.token(in: request("__Host-sb_session=\(token)x")) == nil)
        #expect(settings.hasCookie(request("__Host-sb_session=garbage")))
        #expect(!settings.hasCookie(request("other=1")))
    }

    @Test func lifetimesAreConfigurable() throws {
        let settings = try SessionSettings(
            publicURL: "http://127.0.0.1", config: ConfigReader(["SWITCHBOARD_SESSION_IDLE_S": "600"]))
        #expect(settings.idle == 600_000 && settings.maximum == 43_200_000)
        #expect(throws: ConfigError.self) {
            try SessionSettings(publicURL: "http://127.0.0.1", config: ConfigReader(["SWITCHBOARD_SESSION_MAX_S": "5"]))
        }
    }

    // MARK: the store

    @Test func aSessionEndsWhenIdleOrTooOldAndWithItsAgent() async throws {
        let store = try EdgeStore(DatabaseQueue())
        let org = try await store.createOrganization(name: "A", timeZone: "UTC").org
        let agent = try await store.createAgent(orgID: org.id, name: "Ann", email: "ann@a.co", role: "agent")
        let settings = SessionSettings(publicURL: "http://127.0.0.1", idleSeconds: 600, maximumSeconds: 3600)
        let token = SessionToken.make()
        let start: Millis = 1_000_000_000_000
        let session = try await store.createSession(
            token: token, orgID: org.id, agentID: agent.id, ip: "127.0.0.1", userAgent: "test", settings: settings,
            now: start)
        #expect(try await store.session(token: token, settings: settings, now: start + 599_000)?.agent.id == agent.id)
        #expect(try await store.session(token: token, settings: settings, now: start + 600_000) == nil)
        try await store.touchSession(id: session.id, at: start + 3_000_000)
        #expect(try await store.session(token: token, settings: settings, now: start + 3_500_000) != nil)
        #expect(try await store.session(token: token, settings: settings, now: start + 3_600_000) == nil)
        // The hash is stored, never the token.
        let stored = try await store.writer.read { db in try String.fetchAll(db, sql: "SELECT hash FROM agent_session") }
        #expect(stored == [EdgeStore.hash(token)])
        try await store.deleteAgent(orgID: org.id, id: agent.id)
        #expect(try await store.session(token: token, settings: settings, now: start + 1_000) == nil)
    }

    @Test func anInvitationIsSingleUseAndANewOneVoidsTheOld() async throws {
        let store = try EdgeStore(DatabaseQueue())
        let org = try await store.createOrganization(name: "A", timeZone: "UTC").org
        let agent = try await store.createAgent(orgID: org.id, name: "Ann", email: "ann@a.co", role: "agent")
        let settings = SessionSettings(publicURL: "http://127.0.0.1")
        let first = SessionToken.make(), second = SessionToken.make()
        #expect(try await store.createInvite(orgID: org.id, agentID: agent.id, token: first) != nil)
        #expect(try await store.createInvite(orgID: org.id, agentID: agent.id, token: second) != nil)
        #expect(try await store.invite(token: first) == nil)
        func accept(_ token: String) async throws -> Bool {
            try await store.acceptInvite(
                token: token, passwordHash: "h", sessionToken: SessionToken.make(), ip: "", userAgent: "",
                settings: settings) != nil
        }
        #expect(try await !accept(first))
        #expect(try await accept(second))
        #expect(try await !accept(second))
        #expect(try await store.createInvite(orgID: "other-org", agentID: agent.id, token: first) == nil)
        let late = SessionToken.make()
        _ = try await store.createInvite(orgID: org.id, agentID: agent.id, token: late, now: .now() - 86_400_000)
        #expect(try await store.invite(token: late) == nil)
        #expect(try await !accept(late))
    }
}
