import ContactsKit
import Foundation
import ServiceKit

/// What a whole inbound message means for consent: STOP-family words opt the contact out, START-family words opt
/// it back in. Only the whole message counts (trimmed, case-insensitive): "please don't stop" is not a keyword.
enum ConsentKeyword: Equatable {
    case optOut, optIn

    /// What an inbound message means for consent: only what the customer typed is a keyword; a tapped reply button,
    /// list row or template button is the business's own wording (Meta's sample "Cancel" means cancel my order),
    /// except the template button the business marked as its opt-out button.
    init?(text: String?, origin: InboundTextOrigin) {
        switch origin {
        case .typed:
            guard let text, let keyword = ConsentKeyword(message: text) else { return nil }
            self = keyword
        case .tapped:
            return nil
        case .optOutButton:
            self = .optOut
        }
    }

    static let optOutWords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"]
    static let optInWords: Set<String> = ["START", "UNSTOP", "YES"]

    init?(message: String) {
        let word = message.trimmed.uppercased()
        if Self.optOutWords.contains(word) {
            self = .optOut
        } else if Self.optInWords.contains(word) {
            self = .optIn
        } else {
            return nil
        }
    }
}

/// Where an inbound message's text came from (`ResolveInboundRequest.text_origin`).
public enum InboundTextOrigin: String, Sendable, Equatable {
    case typed
    case tapped
    case optOutButton = "opt_out_button"
}

/// The facts a Click-to-WhatsApp ad `referral` carries, kept as `attributes.ctwa.firstTouch` / `.lastTouch`.
struct AdTouch: Sendable, Equatable {
    var fields: [String: String]
    var at: Millis
    var messageID: String

    /// The JSON object stored on the contact (absent fields are left out).
    var object: [String: Any] {
        var object: [String: Any] = fields
        object["at"] = RFC3339.string(millis: at)
        if !messageID.isEmpty { object["messageId"] = messageID }
        return object
    }

    /// `ctwa` after this touch: the first touch is kept, the last one replaced.
    func applied(to attributes: [String: Any]) -> [String: Any] {
        var attributes = attributes
        var ctwa = attributes["ctwa"] as? [String: Any] ?? [:]
        if ctwa["firstTouch"] == nil { ctwa["firstTouch"] = object }
        ctwa["lastTouch"] = object
        attributes["ctwa"] = ctwa
        return attributes
    }
}
