import Foundation
import MessagingKit
import ServiceKit

/// Which channel a signed WhatsApp webhook speaks for.
///
/// A signature proves only that the body was signed with one channel's app secret. So a body is accepted only when
/// every phone number it names belongs to a channel whose secret verifies it; one change for a number whose channel
/// did not sign (another tenant's, or no channel at all) refuses the whole body, and nothing is stored. Without
/// this, a tenant could sign a body with its own secret and slip a change for another tenant's number into it.
enum WebhookAuthority {
    /// The channel to journal the body under (the first verified one, in the body's order).
    static func verifiedChannel(
        body: Data, signature: String?, phoneNumberIDs: [String], candidates: [StoredChannel]
    ) throws -> StoredChannel {
        var verdicts: [String: Bool] = [:]  // per app secret: one HMAC over the body each, however many numbers
        func verifies(_ stored: StoredChannel) -> Bool {
            guard let secret = stored.secrets[.appSecret], !secret.isEmpty else { return false }
            if let known = verdicts[secret] { return known }
            let verdict = WebhookSignature.verifyMeta(body: body, header: signature, appSecret: secret)
            verdicts[secret] = verdict
            return verdict
        }
        let byNumber = Dictionary(
            candidates.compactMap { stored in stored.channel.settings[.phoneNumberID].map { ($0, stored) } },
            uniquingKeysWith: { first, _ in first })
        var first: StoredChannel?
        for id in phoneNumberIDs {
            guard let stored = byNumber[id], verifies(stored) else { throw MessagingFailure.invalidSignature }
            first = first ?? stored
        }
        guard let first else { throw MessagingFailure.invalidSignature }
        return first
    }

    /// Whether an event routed to `channel` may be taken from a body journaled under `signer`: the same channel, or
    /// one with the same app secret (the signature verified for both). Checked again when the journal is worked, so
    /// an entry journaled before this rule existed cannot cross tenants either.
    static func mayRoute(to channel: StoredChannel, signedBy signer: StoredChannel) -> Bool {
        if channel.channel.id == signer.channel.id { return true }
        guard let mine = channel.secrets[.appSecret], !mine.isEmpty, let theirs = signer.secrets[.appSecret] else {
            return false
        }
        return constantTimeEqual(mine, theirs)
    }
}
