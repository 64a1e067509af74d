import Crypto
import Foundation
import NIOPosix
public import ServiceKit
import Synchronization
import _CryptoExtras

/// Agents' passwords as scrypt hashes: `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>` (16-byte salt,
/// 32-byte output), so every hash carries the parameters it was made with. Hashing runs on a thread pool of its own
/// with two threads (at most two hashes at once, 128 MiB each at N = 2^17; the event loops never hash), and at most
/// `maxWaiting` more may queue behind them.
///
/// `SWITCHBOARD_PASSWORD_SCRYPT_LOG_N` (17, at least 14) sets N for new hashes; tests lower it for speed.
public final class PasswordHasher: Sendable {
    public static let defaultLogN = 17
    public static let minimumLogN = 14
    static let maximumLogN = 20
    static let blockSize = 8
    static let parallelism = 1
    static let saltBytes = 16
    static let outputBytes = 32
    static let maxWaiting = 64

    public let logN: Int
    /// A hash of a random password with the current parameters: what an unknown email is checked against, so that
    /// it costs the same time as a wrong password.
    private let dummy: String
    private let queued = Atomic<Int>(0)

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    /// Too many hashes already waiting: the caller answers 429.
    struct Busy: Error {}

    public init(logN: Int = PasswordHasher.defaultLogN) {
        self.logN = logN
        dummy = Self.hash(EdgeStore.generateKey(), logN: logN)
    }

    public convenience init(config: ConfigReader) throws(ConfigError) {
        let key = "SWITCHBOARD_PASSWORD_SCRYPT_LOG_N"
        let logN = try config.int(key, default: Self.defaultLogN)
        guard (Self.minimumLogN...Self.maximumLogN).contains(logN) else {
            throw ConfigError(
                key: key, value: String(logN), expected: "an integer from \(Self.minimumLogN) to \(Self.maximumLogN)")
        }
        self.init(logN: logN)
    }

    /// A new hash of `password` (off the event loop).
    func hash(_ password: String) async throws -> String {
        let logN = self.logN
        return try await run { Self.hash(password, logN: logN) }
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown email, no password yet) the dummy hash is
    /// checked, so the answer (false) takes as long as a wrong password.
    func verify(_ password: String, against stored: String?) async throws -> Bool {
        let target = stored ?? dummy
        let matches = try await run { Self.verify(password, against: target) }
        return stored != nil && matches
    }

    /// Whether a stored hash was made with weaker parameters than today's (rehashed at the next sign-in).
    func isOutdated(_ stored: String) -> Bool {
        guard let parsed = Self.parse(stored) else { return true }
        return parsed.logN < logN || parsed.r != Self.blockSize || parsed.p != Self.parallelism
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        guard queued.add(1, ordering: .relaxed).newValue <= Self.maxWaiting + 2 else {
            queued.subtract(1, ordering: .relaxed)
            throw Busy()
        }
        defer { queued.subtract(1, ordering: .relaxed) }
        return try await Self.pool.runIfActive(work)
    }

    // MARK: the format (synchronous, for tests)

    struct Parsed: Equatable {
        var logN: Int
        var r: Int
        var p: Int
        var salt: [UInt8]
        var hash: [UInt8]
    }

    /// The password as hashed: Unicode NFC, so that the same characters typed on different keyboards match.
    static func bytes(_ password: String) -> [UInt8] { Array(password.precomposedStringWithCanonicalMapping.utf8) }

    static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int) -> [UInt8] {
        // The parameters are ours or parsed within bounds, so scrypt cannot refuse them.
        guard
            let key = try? KDF.Scrypt.deriveKey(
                from: bytes(password), salt: salt, outputByteCount: outputBytes, rounds: 1 << logN, blockSize: r,
                parallelism: p)
        else { return [] }
        return key.withUnsafeBytes { Array($0) }
    }

    static func hash(_ password: String, logN: Int, salt: [UInt8]? = nil) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = salt ?? (0..<saltBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let derived = derive(password, salt: salt, logN: logN, r: blockSize, p: parallelism)
        return "scrypt$\(logN)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$"
            + Data(derived).base64EncodedString()
    }

    static func parse(_ stored: String) -> Parsed? {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]),
            let p = Int(parts[3]), (10...maximumLogN).contains(logN), (1...32).contains(r), (1...16).contains(p),
            let salt = Data(base64Encoded: String(parts[4])), let hash = Data(base64Encoded: String(parts[5])),
            !salt.isEmpty, hash.count == outputBytes
        else { return nil }
        return Parsed(logN: logN, r: r, p: p, salt: Array(salt), hash: Array(hash))
    }

    static func verify(_ password: String, against stored: String) -> Bool {
        guard let parsed = parse(stored) else { return false }
        let derived = derive(password, salt: parsed.salt, logN: parsed.logN, r: parsed.r, p: parsed.p)
        return constantTimeEqual(derived, parsed.hash)
    }

    /// Compares every byte whatever the first difference.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
