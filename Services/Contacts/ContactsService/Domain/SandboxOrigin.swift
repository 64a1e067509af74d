/// Messages simulated through the sandbox (`POST /sandbox/inbound`) carry ids that start with `sandbox.` (messaging
/// prefixes every one, ids the client chose included), so consent they cause can say where it came from.
enum SandboxOrigin {
    static let messageIDPrefix = "sandbox."
    static let proofNote = "sandbox: a simulated message (POST /sandbox/inbound), not one the customer sent"

    /// The note a consent proof carries for the message `id`: the sandbox one, or nil for a provider's message.
    static func proofNote(messageID id: String?) -> String? {
        guard let id, id.hasPrefix(messageIDPrefix) else { return nil }
        return proofNote
    }
}
