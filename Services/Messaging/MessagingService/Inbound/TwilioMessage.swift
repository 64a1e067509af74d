import ContactsKit
import Foundation

/// Turns the fields of an inbound Twilio webhook (SMS, MMS, WhatsApp-via-Twilio) into a `ParsedMessage`.
enum TwilioMessage {
    /// Twilio sends at most 10 media per message; the cap keeps a forged `NumMedia` from costing anything.
    private static let mediaLimit = 20

    static func parse(_ form: TwilioFields, sid: String) -> ParsedMessage {
        let from = form["From"]
        let whatsapp = from.map(TwilioWebhook.isWhatsApp) == true || form["To"].map(TwilioWebhook.isWhatsApp) == true
        let body = form["Body"] ?? ""
        var message = ParsedMessage(
            providerMessageID: sid,
            type: "text",
            text: body,
            keywordText: body,
            contentJSON: ProviderJSON.fields(["body": .string(body)]).jsonText,
            sentAt: nil,
            replyToProviderID: form["OriginalRepliedMessageSid"],
            forwarded: form["Forwarded"]?.lowercased() == "true" || form["FrequentlyForwarded"]?.lowercased() == "true",
            referral: referral(form),
            sender: InboundSender(
                phone: from.map(TwilioWebhook.address) ?? form["WaId"].map { $0.whatsappPhone ?? $0 },
                whatsappUserID: nil,
                username: nil,
                profileName: form["ProfileName"]
            ),
            medium: whatsapp ? "whatsapp" : "sms"
        )
        let media = self.media(form)
        if let first = media.first {
            message.type = type(of: first)
            message.keywordText = nil
            message.contentJSON =
                ProviderJSON.fields(["media": .array(media), "caption": form["Body"].asJSON]).jsonText
        } else if let payload = form["ButtonPayload"] {
            let text = form["ButtonText"] ?? body
            message.type = "button"
            message.text = text
            message.keywordText = text
            message.textOrigin = "tapped"
            message.contentJSON = ProviderJSON.fields(["text": .string(text), "payload": .string(payload)]).jsonText
        } else if let latitude = form["Latitude"].flatMap(Double.init),
            let longitude = form["Longitude"].flatMap(Double.init)
        {
            message.type = "location"
            message.text = form["Label"] ?? ""
            message.keywordText = nil
            message.contentJSON =
                ProviderJSON.fields([
                    "latitude": .double(latitude), "longitude": .double(longitude), "name": form["Label"].asJSON,
                    "address": form["Address"].asJSON,
                ]).jsonText
        }
        return message
    }

    /// `[{"url", "contentType"}]` from `MediaUrl<n>` / `MediaContentType<n>` for n below `NumMedia`.
    private static func media(_ form: TwilioFields) -> [ProviderJSON] {
        let count = min(Int(form["NumMedia"] ?? "") ?? 0, mediaLimit)
        guard count > 0 else { return [] }
        return (0..<count).compactMap { index in
            guard let url = form["MediaUrl\(index)"] else { return nil }
            return .fields(["url": .string(url), "contentType": form["MediaContentType\(index)"].asJSON])
        }
    }

    /// image, video, audio or document, from the first medium's content type, or its URL's extension when Twilio
    /// left the content type out.
    private static func type(of medium: ProviderJSON) -> String {
        if let contentType = medium["contentType"]?.text?.lowercased() {
            for kind in ["image", "video", "audio"] where contentType.hasPrefix(kind + "/") {
                return kind
            }
            return "document"
        }
        let path = (medium["url"]?.text ?? "").split(separator: "?").first.map(String.init) ?? ""
        let fileExtension = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch fileExtension {
        case "jpg", "jpeg", "png", "gif", "webp", "bmp", "heic": return "image"
        case "mp4", "3gp", "mov", "webm", "mpeg": return "video"
        case "mp3", "ogg", "amr", "m4a", "aac", "wav", "opus": return "audio"
        default: return "document"
        }
    }

    /// Twilio's `Referral*` fields for a Click-to-WhatsApp ad.
    private static func referral(_ form: TwilioFields) -> AdReferral? {
        guard form["ReferralSourceId"] != nil || form["ReferralCtwaClid"] != nil || form["ReferralSourceUrl"] != nil
        else { return nil }
        let mediaType = form["ReferralMediaContentType"]
        let mediaURL = form["ReferralMediaUrl"]
        return AdReferral(
            sourceURL: form["ReferralSourceUrl"],
            sourceID: form["ReferralSourceId"],
            sourceType: form["ReferralSourceType"],
            headline: form["ReferralHeadline"],
            body: form["ReferralBody"],
            mediaType: mediaType,
            imageURL: mediaType?.hasPrefix("image/") == true ? mediaURL : nil,
            videoURL: mediaType?.hasPrefix("video/") == true ? mediaURL : nil,
            ctwaClid: form["ReferralCtwaClid"]
        )
    }
}
