import GRPCCore
import SwiftProtobuf
public import ServiceKit
public import SwitchboardProtos

extension ConversationsClient {
    public func csatSettings(orgID: String) async throws(ServiceFailure) -> Switchboard_Conversations_V1_CsatSettings {
        let request = Switchboard_Conversations_V1_GetCsatSettingsRequest.with { $0.orgID = orgID }
        return try await caller.call("GetCsatSettings", idempotent: true) { metadata, options in
            try await client.getCsatSettings(request, metadata: metadata, options: options)
        }
    }

    public func setCsatSettings(orgID: String, _ settings: Switchboard_Conversations_V1_CsatSettings)
        async throws(ServiceFailure) -> Switchboard_Conversations_V1_CsatSettings
    {
        let request = Switchboard_Conversations_V1_SetCsatSettingsRequest.with {
            $0.orgID = orgID
            $0.settings = settings
        }
        return try await caller.call("SetCsatSettings", idempotent: true) { metadata, options in
            try await client.setCsatSettings(request, metadata: metadata, options: options)
        }
    }

    /// The outcome of sending a survey: its message, or why it could not be sent. Idempotent.
    public func markCsatSurvey(orgID: String, surveyID: String, messageID: String?, failureReason: String?)
        async throws(ServiceFailure) -> String
    {
        let request = Switchboard_Conversations_V1_MarkCsatSurveyRequest.with {
            $0.orgID = orgID
            $0.surveyID = surveyID
            $0.messageID = messageID ?? ""
            $0.failureReason = failureReason ?? ""
        }
        return try await caller.call("MarkCsatSurvey", idempotent: true) { metadata, options in
            try await client.markCsatSurvey(request, metadata: metadata, options: options)
        }.status
    }
}
