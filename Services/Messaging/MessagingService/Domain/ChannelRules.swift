import Foundation
import GRPCCore
import MessagingKit
import ServiceKit

/// Validation of channel settings: what each kind needs, URLs that parse, sane rate limits.
enum ChannelRules {
    static let defaults: [ChannelKind: [ChannelSetting: String]] = [
        .whatsappCloud: [.graphAPIBaseURL: "https://graph.facebook.com", .graphAPIVersion: "v21.0", .messagesPerSecond: "80"],
        .twilioSMS: [.apiBaseURL: "https://api.twilio.com", .messagesPerSecond: "1"],
        .sandbox: [:],
    ]

    /// The settings to store: trimmed, empty values dropped, defaults filled, each checked.
    /// Provider base URLs must also pass the operator's `egress` rules (`provider_url_not_allowed`).
    static func validate(
        kind: ChannelKind, settings: [ChannelSetting: String], existing: [ChannelSetting: String],
        egress: ProviderEgress = .unrestricted
    ) throws(ServiceFailure) -> [ChannelSetting: String]
    {
        var result = defaults[kind] ?? [:]
        for (setting, raw) in settings {
            guard setting.kinds.contains(kind) else {
                throw .invalid("invalid_field", "\(setting.rawValue) does not apply to a \(kind.rawValue) channel",
                               field: setting.rawValue)
            }
            let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if value.isEmpty {
                if defaults[kind]?[setting] == nil { result[setting] = nil }
                continue
            }
            guard value.count <= 2048 else {
                throw .invalid("invalid_field", "\(setting.rawValue) is too long", field: setting.rawValue)
            }
            switch setting {
            case .graphAPIBaseURL, .apiBaseURL, .webhookURL:
                guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw .invalid("invalid_field", "\(setting.rawValue) must be an http(s) URL", field: setting.rawValue)
                }
                if setting != .webhookURL, let refusal = egress.refusal(of: value) {
                    throw .invalid(
                        "provider_url_not_allowed", "\(setting.rawValue) \(refusal)", field: setting.rawValue)
                }
            case .messagesPerSecond:
                guard let rate = Int(value), (1...10_000).contains(rate) else {
                    throw .invalid("invalid_field", "messagesPerSecond must be 1…10000", field: setting.rawValue)
                }
            case .phoneNumberID, .accountSID:
                guard !value.contains(where: \.isWhitespace) else {
                    throw .invalid("invalid_field", "\(setting.rawValue) has no spaces", field: setting.rawValue)
                }
            default:
                break
            }
            result[setting] = value
        }
        let required: [ChannelSetting] = kind == .whatsappCloud ? [.phoneNumberID] : kind == .twilioSMS ? [.accountSID] : []
        for setting in required where result[setting] == nil {
            throw .invalid("missing_field", "\(setting.rawValue) is required for a \(kind.rawValue) channel",
                           field: setting.rawValue)
        }
        return result
    }
}
