/// Who wrote an inbound message, as the provider names them: WhatsApp sends the phone (`from`, `contacts[].wa_id`)
/// or, when the user hides the number, only a business-scoped user id (`from_user_id`, `contacts[].user_id`) and
/// `profile.username`. The messaging parsers produce it, the contacts service resolves it to a contact.
public struct InboundSender: Sendable, Equatable {
    /// `+<digits>`; nil when the user hid their number.
    public var phone: String?
    /// The business-scoped user id (`US.…`) WhatsApp sends next to, or instead of, the phone.
    public var whatsappUserID: String?
    /// `profile.username` (e.g. `@ana`), when the user set one.
    public var username: String?
    /// `profile.name` on WhatsApp, `ProfileName` on WhatsApp-via-Twilio: fills an empty contact name.
    public var profileName: String?

    public init(phone: String?, whatsappUserID: String?, username: String?, profileName: String?) {
        self.phone = phone
        self.whatsappUserID = whatsappUserID
        self.username = username
        self.profileName = profileName
    }
}
