public import ContactsKit
import GRPCCore
public import ServiceKit
import SwiftProtobuf
import SwitchboardProtos

extension ContactsClient {
    public func createRule(orgID: String, input: AutoTagRuleInput) async throws(ServiceFailure) -> AutoTagRule {
        let request = Switchboard_Contacts_V1_CreateRuleRequest.with {
            $0.orgID = orgID
            $0.rule = .init(input)
        }
        return AutoTagRule(
            try await caller.call("CreateRule", idempotent: false) { metadata, options in
                try await client.createRule(request, metadata: metadata, options: options)
            })
    }

    public func rule(orgID: String, id: String) async throws(ServiceFailure) -> AutoTagRule {
        let request = Switchboard_Contacts_V1_GetRuleRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        return AutoTagRule(
            try await caller.call("GetRule", idempotent: true) { metadata, options in
                try await client.getRule(request, metadata: metadata, options: options)
            })
    }

    public func rules(orgID: String) async throws(ServiceFailure) -> [AutoTagRule] {
        let request = Switchboard_Contacts_V1_ListRulesRequest.with { $0.orgID = orgID }
        return try await caller.call("ListRules", idempotent: true) { metadata, options in
            try await client.listRules(request, metadata: metadata, options: options)
        }.rules.map(AutoTagRule.init)
    }

    public func updateRule(orgID: String, id: String, patch: AutoTagRuleInput) async throws(ServiceFailure)
        -> AutoTagRule
    {
        let request = Switchboard_Contacts_V1_UpdateRuleRequest.with {
            $0.orgID = orgID
            $0.id = id
            $0.patch = .init(patch)
        }
        return AutoTagRule(
            try await caller.call("UpdateRule", idempotent: true) { metadata, options in
                try await client.updateRule(request, metadata: metadata, options: options)
            })
    }

    public func deleteRule(orgID: String, id: String) async throws(ServiceFailure) {
        let request = Switchboard_Contacts_V1_DeleteRuleRequest.with {
            $0.orgID = orgID
            $0.id = id
        }
        _ = try await caller.call("DeleteRule", idempotent: false) { metadata, options in
            try await client.deleteRule(request, metadata: metadata, options: options)
        }
    }

    public func evaluateRules(orgID: String, text: String) async throws(ServiceFailure)
        -> (tags: [String], ruleIDs: [String])
    {
        let request = Switchboard_Contacts_V1_EvaluateRulesRequest.with {
            $0.orgID = orgID
            $0.text = text
        }
        let response = try await caller.call("EvaluateRules", idempotent: true) { metadata, options in
            try await client.evaluateRules(request, metadata: metadata, options: options)
        }
        return (response.tags, response.matchedRuleIds)
    }
}
