import Foundation

/// The type-specific part of a WhatsApp message: its type, preview text, keyword text and `contentJSON` fields.
struct WhatsAppContent: Sendable, Equatable {
    var type: String
    var text: String
    var keywordText: String?
    var json: ProviderJSON
    /// A button or list reply is tapped, not typed (`ParsedMessage.textOrigin`).
    var tapped: Bool { type == "button" || type == "interactive" }

    private static let mediaTypes: Set<String> = ["image", "video", "audio", "document", "sticker"]

    /// Nil for anything this parser cannot show: `unsupported`/`unknown`, a type it does not know, or a known type
    /// whose object is missing or not what the type promises. Such messages are kept as `unsupported`.
    init?(_ message: ProviderJSON) {
        guard let type = message["type"]?.text else { return nil }
        // Shared contacts travel as an array, every other type as an object named after it.
        if type == "contacts" {
            guard let cards = message["contacts"]?.items else { return nil }
            self.init(type: type, text: "", keywordText: nil, json: .fields(["contacts": .array(cards)]))
            return
        }
        guard let body = message[type], body.objectFields != nil else { return nil }
        switch type {
        case "text":
            guard let text = body["body"]?.text else { return nil }
            self.init(type: type, text: text, keywordText: text, json: .fields(["body": .string(text)]))
        case _ where Self.mediaTypes.contains(type):
            self.init(media: body, type: type)
        case "location":
            guard let latitude = body["latitude"], let longitude = body["longitude"] else { return nil }
            let name = body["name"]?.nonEmptyText
            let json = ProviderJSON.fields([
                "latitude": latitude, "longitude": longitude, "name": name.asJSON,
                "address": body["address"]?.nonEmptyText.asJSON, "url": body["url"]?.nonEmptyText.asJSON,
            ])
            self.init(type: type, text: name ?? "", keywordText: nil, json: json)
        case "button":
            let text = body["text"]?.text ?? ""
            let json = ProviderJSON.fields(["text": .string(text), "payload": body["payload"]?.text.asJSON])
            self.init(type: type, text: text, keywordText: text, json: json)
        case "interactive":
            guard let kind = body["type"]?.text, kind == "button_reply" || kind == "list_reply",
                let reply = body[kind], reply.objectFields != nil
            else { return nil }
            let title = reply["title"]?.text ?? ""
            let json = ProviderJSON.fields([
                "kind": .string(kind), "id": reply["id"]?.text.asJSON, "title": .string(title),
                "description": reply["description"]?.nonEmptyText.asJSON,
            ])
            self.init(type: type, text: title, keywordText: title, json: json)
        case "reaction":
            let emoji = body["emoji"]?.nonEmptyText
            let json = ProviderJSON.fields(["messageId": body["message_id"]?.text.asJSON, "emoji": emoji.asJSON])
            self.init(type: type, text: emoji ?? "", keywordText: nil, json: json)
        default:
            return nil
        }
    }

    private init(type: String, text: String, keywordText: String?, json: ProviderJSON) {
        self.type = type
        self.text = text
        self.keywordText = keywordText
        self.json = json
    }

    /// image, video, audio (`voice: true` makes it a voice note), document, sticker.
    private init(media: ProviderJSON, type: String) {
        let caption = media["caption"]?.nonEmptyText
        var json: [String: ProviderJSON] = [:]
        let names = [
            ("mediaId", "id"), ("mimeType", "mime_type"), ("sha256", "sha256"), ("caption", "caption"),
            ("filename", "filename"), ("url", "url"),
        ]
        for (key, field) in names {
            if let value = media[field]?.nonEmptyText { json[key] = .string(value) }
        }
        if case .bool(let animated) = media["animated"] { json["animated"] = .bool(animated) }
        let voice = type == "audio" && media["voice"]?.isTrue == true
        self.init(type: voice ? "voice" : type, text: caption ?? "", keywordText: nil, json: .object(json))
    }
}
