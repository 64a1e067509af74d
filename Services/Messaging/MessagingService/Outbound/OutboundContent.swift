import Foundation
import GRPCCore
import ServiceKit

/// A message to send, as the REST API takes it (`{"type": "text", "text": "…"}`, media, template, interactive),
/// checked against WhatsApp's limits. The same parser reads the stored copy back in the delivery worker.
enum OutboundContent: Equatable, Sendable {
    case text(String)
    case media(MediaKind, MediaSource, caption: String?, filename: String?)
    case template(TemplateSend)
    case interactive(Interactive)

    enum MediaKind: String, Sendable, CaseIterable {
        case image, video, document, audio
    }

    enum MediaSource: Equatable, Sendable {
        case link(String)
        case id(String)
    }

    struct TemplateSend: Equatable, Sendable {
        var name: String
        var language: String
        var header: [String]
        var body: [String]
        var buttons: [[String]]
    }

    struct Interactive: Equatable, Sendable {
        struct Button: Equatable, Sendable {
            var id: String
            var title: String
        }
        struct Row: Equatable, Sendable {
            var id: String
            var title: String
            var description: String?
        }
        struct Section: Equatable, Sendable {
            var title: String?
            var rows: [Row]
        }
        enum Kind: String, Sendable {
            case button, list
        }
        var kind: Kind
        var header: String?
        var body: String
        var footer: String?
        var buttons: [Button]
        var listButton: String?
        var sections: [Section]
    }

    // WhatsApp Cloud API limits.
    static let textMax = 4096
    static let captionMax = 1024
    static let filenameMax = 240
    static let interactiveBodyMax = 1024
    static let headerMax = 60
    static let footerMax = 60
    static let replyButtonsMax = 3
    static let replyIDMax = 256
    static let replyTitleMax = 20
    static let listButtonMax = 20
    static let sectionsMax = 10
    static let rowsMax = 10
    static let sectionTitleMax = 24
    static let rowIDMax = 200
    static let rowTitleMax = 24
    static let rowDescriptionMax = 72

    var type: String {
        switch self {
        case .text: "text"
        case .media(let kind, _, _, _): kind.rawValue
        case .template: "template"
        case .interactive: "interactive"
        }
    }

    /// What SMS cannot carry: templates, interactive messages and media by uploaded id (MMS takes links only).
    var smsRefusal: String? {
        switch self {
        case .text: nil
        case .media(_, .link, _, _): nil
        case .media(_, .id, _, _): "SMS carries media by link only (MediaUrl), not by WhatsApp media id"
        case .template: "templates are a WhatsApp feature; SMS sends text"
        case .interactive: "interactive messages are a WhatsApp feature; SMS sends text"
        }
    }

    /// What a preview or a search shows: the text, the caption, the interactive body or the template's name.
    var previewText: String {
        switch self {
        case .text(let body): body
        case .media(_, _, let caption, let filename): caption ?? filename ?? ""
        case .template(let template): template.name
        case .interactive(let interactive): interactive.body
        }
    }

    // MARK: parsing

    static func failure(_ field: String, _ message: String, code: String = "invalid_field") -> ServiceFailure {
        .invalid(code, message, field: field)
    }

    static func parse(json: String) throws(ServiceFailure) -> OutboundContent {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw .invalid("invalid_json", "the message must be a JSON object")
        }
        return try parse(object)
    }

    static func parse(_ object: [String: Any]) throws(ServiceFailure) -> OutboundContent {
        guard let type = object["type"] as? String else {
            throw failure("type", "type is required: text, image, video, document, audio, template or interactive")
        }
        func only(_ keys: Set<String>) throws(ServiceFailure) {
            for key in object.keys.sorted() where !keys.contains(key) && key != "type" {
                throw failure(key, "unknown field '\(Echo.short(key))' for a \(type) message", code: "unknown_field")
            }
        }
        switch type {
        case "text":
            try only(["text"])
            return .text(try string(object["text"], "text", max: textMax))
        case "image", "video", "document", "audio":
            try only(["media"])
            return try media(MediaKind(rawValue: type)!, object["media"])
        case "template":
            try only(["template"])
            return .template(try template(object["template"]))
        case "interactive":
            try only(["interactive"])
            return .interactive(try interactive(object["interactive"]))
        default:
            throw failure("type", "type must be text, image, video, document, audio, template or interactive")
        }
    }

    private static func string(
        _ value: Any?, _ field: String, max: Int, code: String = "invalid_field", optional: Bool = false
    ) throws(ServiceFailure) -> String {
        guard let value, !(value is NSNull) else {
            if optional { return "" }
            throw failure(field, "\(field) is required", code: code)
        }
        guard let text = value as? String else { throw failure(field, "\(field) must be a string", code: code) }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty || optional else { throw failure(field, "\(field) must not be empty", code: code) }
        guard text.count <= max else {
            throw failure(field, "\(field) is at most \(max) characters (got \(text.count))", code: code)
        }
        return text
    }

    private static func optionalString(
        _ value: Any?, _ field: String, max: Int, code: String = "invalid_field"
    ) throws(ServiceFailure) -> String? {
        let text = try string(value, field, max: max, code: code, optional: true)
        return text.isEmpty ? nil : text
    }

    private static func object(_ value: Any?, _ field: String, keys: Set<String>, code: String = "invalid_field")
        throws(ServiceFailure) -> [String: Any]
    {
        guard let value else { throw failure(field, "\(field) is required", code: code) }
        guard let object = value as? [String: Any] else { throw failure(field, "\(field) must be an object", code: code) }
        for key in object.keys.sorted() where !keys.contains(key) {
            throw failure("\(field).\(key)", "unknown field '\(Echo.short(key))' in \(field)", code: "unknown_field")
        }
        return object
    }

    private static func media(_ kind: MediaKind, _ value: Any?) throws(ServiceFailure) -> OutboundContent {
        var keys: Set<String> = ["link", "id"]
        if kind != .audio { keys.insert("caption") }
        if kind == .document { keys.insert("filename") }
        let media = try object(value, "media", keys: keys)
        let link = try optionalString(media["link"], "media.link", max: 2048)
        let id = try optionalString(media["id"], "media.id", max: 256)
        let source: MediaSource
        switch (link, id) {
        case (let link?, nil):
            guard let url = URL(string: link), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                url.host?.isEmpty == false
            else { throw failure("media.link", "media.link must be an http(s) URL") }
            source = .link(link)
        case (nil, let id?):
            guard id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw failure("media.id", "media.id is a WhatsApp media id (letters, digits, '_' or '-')")
            }
            source = .id(id)
        default:
            throw failure("media", "media needs exactly one of link or id")
        }
        return .media(
            kind, source, caption: try optionalString(media["caption"], "media.caption", max: captionMax),
            filename: try optionalString(media["filename"], "media.filename", max: filenameMax))
    }

    private static func template(_ value: Any?) throws(ServiceFailure) -> TemplateSend {
        let template = try object(value, "template", keys: ["name", "language", "parameters"])
        let name = try string(template["name"], "template.name", max: 512)
        let language = try string(template["language"], "template.language", max: 16)
        var header: [String] = []
        var body: [String] = []
        var buttons: [[String]] = []
        if let raw = template["parameters"], !(raw is NSNull) {
            let parameters = try object(raw, "template.parameters", keys: ["header", "body", "buttons"])
            func list(_ value: Any?, _ field: String) throws(ServiceFailure) -> [String] {
                guard let value, !(value is NSNull) else { return [] }
                guard let items = value as? [Any] else { throw failure(field, "\(field) must be an array of strings") }
                var texts: [String] = []
                for (index, item) in items.enumerated() {
                    texts.append(try string(item, "\(field)[\(index)]", max: 32768))
                }
                return texts
            }
            header = try list(parameters["header"], "template.parameters.header")
            body = try list(parameters["body"], "template.parameters.body")
            if let raw = parameters["buttons"], !(raw is NSNull) {
                guard let items = raw as? [Any] else {
                    throw failure("template.parameters.buttons", "buttons must be an array with one array per button")
                }
                for (index, item) in items.enumerated() {
                    buttons.append(try list(item, "template.parameters.buttons[\(index)]"))
                }
            }
        }
        return TemplateSend(name: name, language: language, header: header, body: body, buttons: buttons)
    }

    private static func interactive(_ value: Any?) throws(ServiceFailure) -> Interactive {
        let code = "invalid_interactive"
        guard let raw = value as? [String: Any] else {
            throw failure("interactive", "interactive must be an object", code: code)
        }
        guard let kind = (raw["type"] as? String).flatMap(Interactive.Kind.init(rawValue:)) else {
            throw failure("interactive.type", "interactive.type must be button or list", code: code)
        }
        let keys: Set<String> =
            kind == .button
            ? ["type", "header", "body", "footer", "buttons"] : ["type", "header", "body", "footer", "button", "sections"]
        let object = try object(raw, "interactive", keys: keys, code: code)
        var result = Interactive(
            kind: kind, header: try optionalString(object["header"], "interactive.header", max: headerMax, code: code),
            body: try string(object["body"], "interactive.body", max: interactiveBodyMax, code: code),
            footer: try optionalString(object["footer"], "interactive.footer", max: footerMax, code: code),
            buttons: [], listButton: nil, sections: [])
        switch kind {
        case .button:
            guard let buttons = object["buttons"] as? [Any], (1...replyButtonsMax).contains(buttons.count) else {
                throw failure(
                    "interactive.buttons", "reply buttons are an array of 1 to \(replyButtonsMax) buttons", code: code)
            }
            for (index, item) in buttons.enumerated() {
                let field = "interactive.buttons[\(index)]"
                let button = try Self.object(item, field, keys: ["id", "title"], code: code)
                let id = try string(button["id"], "\(field).id", max: replyIDMax, code: code)
                let title = try string(button["title"], "\(field).title", max: replyTitleMax, code: code)
                guard !result.buttons.contains(where: { $0.id == id }) else {
                    throw failure("\(field).id", "button ids must be unique", code: code)
                }
                guard !result.buttons.contains(where: { $0.title == title }) else {
                    throw failure("\(field).title", "button titles must be unique", code: code)
                }
                result.buttons.append(.init(id: id, title: title))
            }
        case .list:
            result.listButton = try string(object["button"], "interactive.button", max: listButtonMax, code: code)
            guard let sections = object["sections"] as? [Any], (1...sectionsMax).contains(sections.count) else {
                throw failure("interactive.sections", "a list has 1 to \(sectionsMax) sections", code: code)
            }
            var ids: Set<String> = []
            var total = 0
            for (index, item) in sections.enumerated() {
                let field = "interactive.sections[\(index)]"
                let section = try Self.object(item, field, keys: ["title", "rows"], code: code)
                let title = try optionalString(section["title"], "\(field).title", max: sectionTitleMax, code: code)
                if sections.count > 1, title == nil {
                    throw failure("\(field).title", "each section needs a title when there are several", code: code)
                }
                guard let rows = section["rows"] as? [Any], !rows.isEmpty else {
                    throw failure("\(field).rows", "a section needs at least one row", code: code)
                }
                var parsed: [Interactive.Row] = []
                for (rowIndex, rowItem) in rows.enumerated() {
                    let rowField = "\(field).rows[\(rowIndex)]"
                    total += 1
                    guard total <= rowsMax else {
                        throw failure(rowField, "a list has at most \(rowsMax) rows in all", code: code)
                    }
                    let row = try Self.object(rowItem, rowField, keys: ["id", "title", "description"], code: code)
                    let id = try string(row["id"], "\(rowField).id", max: rowIDMax, code: code)
                    guard ids.insert(id).inserted else {
                        throw failure("\(rowField).id", "row ids must be unique", code: code)
                    }
                    parsed.append(
                        .init(
                            id: id, title: try string(row["title"], "\(rowField).title", max: rowTitleMax, code: code),
                            description: try optionalString(
                                row["description"], "\(rowField).description", max: rowDescriptionMax, code: code)))
                }
                result.sections.append(.init(title: title, rows: parsed))
            }
        }
        return result
    }

    // MARK: the stored form

    /// The canonical JSON of this message (the REST shape): what the outbox and the conversation keep.
    var json: [String: Any] {
        switch self {
        case .text(let body):
            return ["type": "text", "text": body]
        case .media(let kind, let source, let caption, let filename):
            var media: [String: Any] = [:]
            switch source {
            case .link(let link): media["link"] = link
            case .id(let id): media["id"] = id
            }
            if let caption { media["caption"] = caption }
            if let filename { media["filename"] = filename }
            return ["type": kind.rawValue, "media": media]
        case .template(let template):
            var parameters: [String: Any] = [:]
            if !template.header.isEmpty { parameters["header"] = template.header }
            if !template.body.isEmpty { parameters["body"] = template.body }
            if !template.buttons.isEmpty { parameters["buttons"] = template.buttons }
            return [
                "type": "template",
                "template": ["name": template.name, "language": template.language, "parameters": parameters],
            ]
        case .interactive(let interactive):
            var object: [String: Any] = ["type": interactive.kind.rawValue, "body": interactive.body]
            if let header = interactive.header { object["header"] = header }
            if let footer = interactive.footer { object["footer"] = footer }
            switch interactive.kind {
            case .button:
                object["buttons"] = interactive.buttons.map { ["id": $0.id, "title": $0.title] }
            case .list:
                object["button"] = interactive.listButton ?? ""
                object["sections"] = interactive.sections.map(Self.sectionJSON)
            }
            return ["type": "interactive", "interactive": object]
        }
    }

    static func sectionJSON(_ section: Interactive.Section) -> [String: Any] {
        var value: [String: Any] = ["rows": section.rows.map(rowJSON)]
        if let title = section.title { value["title"] = title }
        return value
    }

    static func rowJSON(_ row: Interactive.Row) -> [String: Any] {
        var value: [String: Any] = ["id": row.id, "title": row.title]
        if let description = row.description { value["description"] = description }
        return value
    }

    var jsonText: String { Self.text(json) }

    static func text(_ object: Any) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
