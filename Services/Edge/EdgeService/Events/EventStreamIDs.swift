import Crypto
import Foundation

/// The `id:` of an event on `GET /events/stream`: an opaque cursor, not the conversations log sequence (whose gaps
/// would show other organisations' volume). The sequence is sealed with AES-GCM under a key edge keeps in edge.db,
/// with the organisation as authenticated data, so an id only opens for the organisation it was sent to. The nonce
/// is derived from the key, the organisation and the sequence: one event has the same id on every stream of its
/// organisation, and a browser's `Last-Event-ID` is that id sent back. base64url without padding, 48 characters.
struct EventStreamIDs: Sendable {
    // SymmetricKey is not Sendable: the derived keys are kept as bytes.
    private let sealingBytes: Data
    private let nonceBytes: Data
    private var sealing: SymmetricKey { SymmetricKey(data: sealingBytes) }
    private var nonces: SymmetricKey { SymmetricKey(data: nonceBytes) }
    static let length = 48

    /// - Parameter secret: at least 32 bytes; the sealing and nonce keys are derived from it.
    init(secret: Data) {
        let root = SymmetricKey(data: secret)
        func derive(_ label: String) -> Data {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: root, info: Data(label.utf8), outputByteCount: 32)
                .withUnsafeBytes { Data($0) }
        }
        sealingBytes = derive("switchboard event stream id: seal")
        nonceBytes = derive("switchboard event stream id: nonce")
    }

    /// A fresh random secret (edge stores it on first start).
    static func newSecret() -> Data {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    func id(sequence: Int64, orgID: String) -> String {
        var plain = Data(count: 8)
        plain.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(bitPattern: sequence).bigEndian, as: UInt64.self) }
        let mac = HMAC<SHA256>.authenticationCode(for: plain + Data(orgID.utf8), using: nonces)
        // swift-crypto's nonce init only fails on a wrong length; 12 bytes of a 32-byte MAC always fit.
        let nonce = try! AES.GCM.Nonce(data: Data(mac).prefix(12))
        let box = try! AES.GCM.seal(plain, using: sealing, nonce: nonce, authenticating: Data(orgID.utf8))
        return Self.base64url(box.combined!)
    }

    /// The sequence an id of this organisation stands for; nil for anything else (malformed, forged, another org's).
    func sequence(id raw: String, orgID: String) -> Int64? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        guard text.utf8.count == Self.length, let bytes = Self.decode(text),
            let box = try? AES.GCM.SealedBox(combined: bytes),
            let plain = try? AES.GCM.open(box, using: sealing, authenticating: Data(orgID.utf8)), plain.count == 8
        else { return nil }
        let value = plain.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let sequence = Int64(bitPattern: value)
        return sequence >= 0 ? sequence : nil
    }

    static func base64url(_ data: Data) -> String {
        var text = data.base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func decode(_ text: String) -> Data? {
        guard text.utf8.allSatisfy({ $0.isBase64URL }) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.utf8.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }
}

extension UInt8 {
    fileprivate var isBase64URL: Bool {
        (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) || (self >= 0x30 && self <= 0x39)
            || self == 0x2D || self == 0x5F
    }
}

extension EdgeStore {
    /// The secret behind event stream ids, made on first start (setting `event_stream_id_secret`, base64).
    func eventStreamIDSecret() async throws -> Data {
        if let stored = try await setting("event_stream_id_secret"), let data = Data(base64Encoded: stored),
            data.count >= 32
        {
            return data
        }
        let secret = EventStreamIDs.newSecret()
        try await setSetting("event_stream_id_secret", secret.base64EncodedString())
        return secret
    }
}
