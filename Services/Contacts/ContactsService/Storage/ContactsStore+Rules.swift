public import ContactsKit
import Foundation
import GRPCCore
import GRDB
import ServiceKit

extension ContactsStore {
    private static let ruleColumns = "id, org_id, match_type, keyword, tag, enabled, created_at, updated_at"

    private static func rule(_ row: Row) -> AutoTagRule {
        AutoTagRule(
            id: row[0], orgID: row[1], matchType: row[2], keyword: row[3],
            tag: row[4], enabled: row[5], createdAt: row[6], updatedAt: row[7])
    }

    private static func findRule(_ db: Database, orgID: String, id: String) throws -> AutoTagRule {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(ruleColumns) FROM auto_tag_rule WHERE id = ? AND org_id = ?", arguments: [id, orgID])
        else { throw ContactsFailure.ruleNotFound }
        return rule(row)
    }

    private static func ensureUnique(_ db: Database, _ rule: AutoTagRule) throws {
        let others = try Row.fetchAll(
            db, sql: "SELECT \(ruleColumns) FROM auto_tag_rule WHERE org_id = ? AND id != ? AND match_type = ? AND tag = ?",
            arguments: [rule.orgID, rule.id, rule.matchType, rule.tag]
        ).map(Self.rule)
        if let other = others.first(where: { $0.keyword.lowercased() == rule.keyword.lowercased() }) {
            throw ServiceFailure(
                .alreadyExists, "rule_exists", "an identical rule already exists", details: ["ruleId": other.id])
        }
    }

    private static func save(_ db: Database, _ rule: AutoTagRule) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO auto_tag_rule (\(ruleColumns)) VALUES (?,?,?,?,?,?,?,?)",
            arguments: [
                rule.id, rule.orgID, rule.matchType, rule.keyword, rule.tag, rule.enabled, rule.createdAt,
                rule.updatedAt,
            ])
    }

    public func createRule(orgID: String, input: AutoTagRuleInput) async throws -> AutoTagRule {
        for (value, field) in [(input.matchType, "matchType"), (input.keyword, "keyword"), (input.tag, "tag")]
        where value == nil {
            throw ServiceFailure.invalid("missing_field", "\(field) is required", field: field)
        }
        let now = Millis.now()
        var rule = AutoTagRule(
            id: Identifier.make(), orgID: orgID, matchType: "contains", keyword: "", tag: "", enabled: true,
            createdAt: now, updatedAt: now)
        try rule.apply(input)
        let created = rule
        return try await writer.write { db in
            try Self.ensureUnique(db, created)
            try Self.save(db, created)
            return created
        }
    }

    public func rule(orgID: String, id: String) async throws -> AutoTagRule {
        try await writer.read { db in try Self.findRule(db, orgID: orgID, id: id) }
    }

    public func rules(orgID: String) async throws -> [AutoTagRule] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.ruleColumns) FROM auto_tag_rule WHERE org_id = ? ORDER BY id",
                arguments: [orgID]
            ).map(Self.rule)
        }
    }

    public func updateRule(orgID: String, id: String, patch: AutoTagRuleInput) async throws -> AutoTagRule {
        try await writer.write { db in
            var rule = try Self.findRule(db, orgID: orgID, id: id)
            try rule.apply(patch)
            rule.updatedAt = Millis.now()
            try Self.ensureUnique(db, rule)
            try Self.save(db, rule)
            return rule
        }
    }

    public func deleteRule(orgID: String, id: String) async throws {
        try await writer.write { db in
            _ = try Self.findRule(db, orgID: orgID, id: id)
            try db.execute(sql: "DELETE FROM auto_tag_rule WHERE id = ?", arguments: [id])
        }
    }
}
