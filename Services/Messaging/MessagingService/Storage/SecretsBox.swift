import Crypto
import Foundation
public import ServiceKit

/// Seals channel secrets (access tokens, app secrets, verify tokens, Twilio auth tokens) for messaging.db with
/// AES-GCM under a key kept outside the database; the channel id is bound in as associated data, so a sealed
/// value copied to another row does not open.
public struct SecretsBox: Sendable {
    /// The key's 32 bytes (`SymmetricKey` itself is not `Sendable`).
    private let bytes: Data
    static let prefix = "aesgcm1:"

    init(key: SymmetricKey) { bytes = key.withUnsafeBytes { Data($0) } }

    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// A box with a fresh random key (in-memory stores of the tests).
    public static func random() -> SecretsBox { SecretsBox(key: SymmetricKey(size: .bits256)) }

    static func isSealed(_ text: String) -> Bool { text.hasPrefix(prefix) }

    func seal(_ plaintext: String, channelID: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(channelID.utf8))
        guard let combined = box.combined else { throw SecretsError.unreadable(channelID: channelID) }
        return Self.prefix + combined.base64EncodedString()
    }

    func open(_ sealed: String, channelID: String) throws(SecretsError) -> String {
        guard let data = Data(base64Encoded: String(sealed.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: data),
            let plaintext = try? AES.GCM.open(box, using: key, authenticating: Data(channelID.utf8))
        else { throw .unreadable(channelID: channelID) }
        return String(decoding: plaintext, as: UTF8.self)
    }
}

/// A sealed secret that does not open: the key is not the one it was sealed with.
public enum SecretsError: ConfigurationProblem, CustomStringConvertible {
    case unreadable(channelID: String)
    case wrongKey(source: String, channels: Int)
    case badKey(String)

    public var description: String {
        switch self {
        case .unreadable(let id): "the secrets of channel \(id) do not decrypt with the configured key"
        case .wrongKey(let source, let count):
            "messaging.db holds secrets of \(count) channel(s) sealed under another key than \(source); set "
                + "SWITCHBOARD_SECRETS_KEY (or restore <data dir>/secrets.key) to the key they were sealed with"
        case .badKey(let text): text
        }
    }
}

/// The key that seals channel secrets: SWITCHBOARD_SECRETS_KEY (base64 of 32 bytes), else
/// `<data dir>/secrets.key`, else a new random key written there (mode 0600) once the database is known to
/// hold no secrets sealed under another key.
public struct SecretsKey: Sendable {
    public let box: SecretsBox
    /// Where the key came from, for messages.
    public let source: String
    /// The file to create with the new key once the database has been checked (nil when the key exists).
    let pendingFile: (path: String, contents: String)?

    public init(config: ConfigReader, dataDirectory: String) throws {
        let path = (dataDirectory as NSString).appendingPathComponent("secrets.key")
        if let text = config.optionalString("SWITCHBOARD_SECRETS_KEY") {
            box = SecretsBox(key: try Self.key(base64: text, from: "SWITCHBOARD_SECRETS_KEY"))
            source = "SWITCHBOARD_SECRETS_KEY"
            pendingFile = nil
        } else if FileManager.default.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            box = SecretsBox(key: try Self.key(base64: text, from: path))
            source = path
            pendingFile = nil
        } else {
            let key = SymmetricKey(size: .bits256)
            box = SecretsBox(key: key)
            source = "a new key (\(path) was missing)"
            pendingFile = (path, key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n")
        }
    }

    static func key(base64 text: String, from source: String) throws(SecretsError) -> SymmetricKey {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32
        else { throw .badKey("\(source) is not the base64 of 32 bytes (make one with `openssl rand -base64 32`)") }
        return SymmetricKey(data: data)
    }

    /// Writes a new key file (0600, never over an existing one).
    func persist() throws {
        guard let (path, contents) = pendingFile else { return }
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SecretsError.badKey("cannot create \(path): \(String(cString: strerror(errno)))") }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try file.write(contentsOf: Data(contents.utf8))
        try file.synchronize()
    }
}
