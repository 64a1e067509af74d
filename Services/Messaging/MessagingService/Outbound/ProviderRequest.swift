import Foundation
import MessagingKit
import ServiceKit

/// One HTTP request to a provider's send endpoint, in that provider's wire format.
struct ProviderRequest: Equatable, Sendable {
    var url: String
    var headers: [(String, String)]
    var body: Data

    static func == (a: ProviderRequest, b: ProviderRequest) -> Bool {
        a.url == b.url && a.body == b.body && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }

    /// WhatsApp Cloud API: `POST {base}/{version}/{phone-number-id}/messages`, bearer token, Meta's JSON body.
    static func whatsapp(channel: StoredChannel, to phone: String, content: OutboundContent) -> ProviderRequest {
        var base = channel.value(.graphAPIBaseURL) ?? "https://graph.facebook.com"
        while base.hasSuffix("/") { base.removeLast() }
        let version = channel.value(.graphAPIVersion) ?? "v21.0"
        let numberID = channel.value(.phoneNumberID) ?? ""
        let body = whatsappBody(to: phone, content: content)
        return ProviderRequest(
            url: "\(base)/\(version)/\(numberID)/messages",
            headers: [
                ("Authorization", "Bearer \(channel.value(.accessToken) ?? "")"), ("Content-Type", "application/json"),
            ],
            body: (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes]))
                ?? Data())
    }

    /// The JSON body Meta documents for each message type.
    static func whatsappBody(to phone: String, content: OutboundContent) -> [String: Any] {
        var body: [String: Any] = [
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": String(phone.filter { $0.isASCII && $0.isNumber }), "type": content.type,
        ]
        switch content {
        case .text(let text):
            body["text"] = ["preview_url": false, "body": text]
        case .media(let kind, let source, let caption, let filename):
            var media: [String: Any] = [:]
            switch source {
            case .link(let link): media["link"] = link
            case .id(let id): media["id"] = id
            }
            if let caption, kind != .audio { media["caption"] = caption }
            if let filename, kind == .document { media["filename"] = filename }
            body[kind.rawValue] = media
        case .template(let template):
            var components: [[String: Any]] = []
            func texts(_ values: [String]) -> [[String: Any]] { values.map { ["type": "text", "text": $0] } }
            if !template.header.isEmpty { components.append(["type": "header", "parameters": texts(template.header)]) }
            if !template.body.isEmpty { components.append(["type": "body", "parameters": texts(template.body)]) }
            for (index, parameters) in template.buttons.enumerated() where !parameters.isEmpty {
                components.append([
                    "type": "button", "sub_type": "url", "index": String(index), "parameters": texts(parameters),
                ])
            }
            var object: [String: Any] = ["name": template.name, "language": ["code": template.language]]
            if !components.isEmpty { object["components"] = components }
            body["template"] = object
        case .interactive(let interactive):
            var object: [String: Any] = ["type": interactive.kind.rawValue, "body": ["text": interactive.body]]
            if let header = interactive.header { object["header"] = ["type": "text", "text": header] }
            if let footer = interactive.footer { object["footer"] = ["text": footer] }
            switch interactive.kind {
            case .button:
                object["action"] = [
                    "buttons": interactive.buttons.map { ["type": "reply", "reply": ["id": $0.id, "title": $0.title]] }
                ]
            case .list:
                object["action"] = [
                    "button": interactive.listButton ?? "",
                    "sections": interactive.sections.map(OutboundContent.sectionJSON),
                ]
            }
            body["interactive"] = object
        }
        return body
    }

    /// Twilio: form `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with Basic auth.
    static func twilio(channel: StoredChannel, to phone: String, content: OutboundContent, statusCallback: String)
        -> ProviderRequest
    {
        var base = channel.value(.apiBaseURL) ?? "https://api.twilio.com"
        while base.hasSuffix("/") { base.removeLast() }
        let sid = channel.value(.accountSID) ?? ""
        var form: [(String, String)] = [("To", phone)]
        if let service = channel.value(.messagingServiceSID), !service.isEmpty {
            form.append(("MessagingServiceSid", service))
        } else {
            form.append(("From", channel.value(.fromNumber) ?? ""))
        }
        switch content {
        case .text(let text):
            form.append(("Body", text))
        case .media(_, .link(let link), let caption, _):
            if let caption { form.append(("Body", caption)) }
            form.append(("MediaUrl", link))
        default:
            break  // refused before it is accepted (`smsRefusal`)
        }
        form.append(("StatusCallback", statusCallback))
        let credentials = Data("\(sid):\(channel.value(.authToken) ?? "")".utf8).base64EncodedString()
        let encoded = sid.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? sid
        return ProviderRequest(
            url: "\(base)/2010-04-01/Accounts/\(encoded)/Messages.json",
            headers: [
                ("Authorization", "Basic \(credentials)"), ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body: Data(formEncode(form).utf8))
    }

    static func formEncode(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { name, value in
            let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
            return "\(encode(name))=\(encode(value))"
        }.joined(separator: "&")
    }
}

/// What a provider's answer means for the message.
enum DeliveryOutcome: Equatable, Sendable {
    /// Accepted: the provider's message id (wamid or Twilio sid).
    case sent(providerID: String)
    /// Worth another attempt later: network errors, 429, 5xx, WhatsApp 130429 / 131056.
    case retry(code: String, text: String)
    /// Refused for good, with the provider's code and text and what it means.
    case failed(code: String, text: String, reason: String)

    /// Classifies a WhatsApp Cloud API answer.
    static func whatsapp(status: Int, body: Data) -> DeliveryOutcome {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        if (200..<300).contains(status) {
            if let messages = object?["messages"] as? [[String: Any]], let id = messages.first?["id"] as? String,
                !id.isEmpty
            {
                return .sent(providerID: id)
            }
            return .retry(code: "\(status)", text: "the answer carries no message id")
        }
        // Only Meta's documented fields (`error.code`, `error.message`, `error_data.details`), bounded: never the
        // raw body, which from a misconfigured or hostile endpoint could be anything.
        let error = object?["error"] as? [String: Any]
        let code = (error?["code"] as? Int).map(String.init) ?? "\(status)"
        var text = (error?["message"] as? String).map(bounded) ?? "HTTP \(status) from provider"
        if let details = (error?["error_data"] as? [String: Any])?["details"] as? String, !details.isEmpty {
            text = bounded(text + ": \(details)")
        }
        if status == 429 || status >= 500 || ["130429", "131056", "4", "80007", "1", "2", "131000", "131016"].contains(code) {
            return .retry(code: code, text: text)
        }
        return .failed(code: code, text: text, reason: FailureReason.whatsapp(code: code))
    }

    /// Classifies a Twilio answer.
    static func twilio(status: Int, body: Data) -> DeliveryOutcome {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        if (200..<300).contains(status) {
            if let sid = object?["sid"] as? String, !sid.isEmpty { return .sent(providerID: sid) }
            return .retry(code: "\(status)", text: "the answer carries no message sid")
        }
        // Only Twilio's documented `code` and `message`, bounded: never the raw body.
        let code = (object?["code"] as? Int).map(String.init) ?? "\(status)"
        let text = (object?["message"] as? String).map(bounded) ?? "HTTP \(status) from provider"
        if status == 429 || status >= 500 { return .retry(code: code, text: text) }
        return .failed(code: code, text: text, reason: FailureReason.twilio(code: code))
    }
}

/// A provider's error text as stored on a message: control characters dropped, at most 300 characters.
func bounded(_ text: String) -> String {
    let scalars = text.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }
    let clean = String(String.UnicodeScalarView(scalars))
    return clean.count <= 300 ? clean : String(clean.prefix(299)) + "…"
}
