import Foundation
import GRDB
import GRPCCore
public import MessagingKit
public import ServiceKit

extension MessagingStore {
    private static let templateColumns = """
        id, org_id, channel_id, name, language, category, components, status, header_parameters, body_parameters,
        button_parameters, created_at
        """

    private static func template(_ row: Row) -> Template {
        let buttons = (try? JSONDecoder().decode([Int].self, from: Data((row[10] as String).utf8))) ?? []
        return Template(
            id: row[0], orgID: row[1], channelID: row[2], name: row[3], language: row[4], category: row[5],
            componentsJSON: row[6], status: row[7], headerParameters: row[8], bodyParameters: row[9],
            buttonParameters: buttons, createdAt: row[11])
    }

    /// The org's WhatsApp channel a template belongs to (templates exist only there).
    private func whatsappChannel(_ db: Database, orgID: String, channelID: String) throws -> StoredChannel {
        let channel = try find(db, orgID: orgID, id: channelID)
        guard channel.channel.kind == .whatsappCloud || channel.channel.kind == .sandbox else {
            throw ServiceFailure.invalid(
                "unsupported_on_channel", "templates belong to WhatsApp channels (and the sandbox)", field: "channelId")
        }
        return channel
    }

    public func createTemplate(
        orgID: String, channelID: String, name: String, language: String, category: String, status: String,
        componentsJSON: String
    ) async throws -> Template {
        let checked = try TemplateRules.check(
            name: name, language: language, category: category, status: status, componentsJSON: componentsJSON)
        let buttons = String(decoding: (try? JSONEncoder().encode(checked.buttons)) ?? Data("[]".utf8), as: UTF8.self)
        return try await writer.write { db in
            _ = try self.whatsappChannel(db, orgID: orgID, channelID: channelID)
            let template = Template(
                id: Identifier.make(), orgID: orgID, channelID: channelID, name: checked.name, language: checked.language,
                category: checked.category, componentsJSON: checked.componentsJSON, status: checked.status,
                headerParameters: checked.header, bodyParameters: checked.body, buttonParameters: checked.buttons,
                createdAt: Millis.now())
            do {
                try db.execute(
                    sql: "INSERT INTO template (\(Self.templateColumns)) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    arguments: [
                        template.id, orgID, channelID, template.name, template.language, template.category,
                        template.componentsJSON, template.status, template.headerParameters, template.bodyParameters,
                        buttons, template.createdAt,
                    ])
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw ServiceFailure(
                    .alreadyExists, "template_exists", "the channel already has \(template.name) in \(template.language)",
                    field: "name")
            }
            return template
        }
    }

    public func templates(orgID: String, channelID: String) async throws -> [Template] {
        try await writer.read { db in
            _ = try self.find(db, orgID: orgID, id: channelID)
            return try Row.fetchAll(
                db,
                sql: "SELECT \(Self.templateColumns) FROM template WHERE org_id = ? AND channel_id = ? ORDER BY name, language",
                arguments: [orgID, channelID]
            ).map(Self.template)
        }
    }

    public func template(orgID: String, channelID: String, id: String) async throws -> Template {
        try await writer.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT \(Self.templateColumns) FROM template WHERE org_id = ? AND channel_id = ? AND id = ?",
                    arguments: [orgID, channelID, id])
            else { throw ServiceFailure.notFound("template_not_found", "no such template") }
            return Self.template(row)
        }
    }

    /// The template with that name and language on the channel, if registered (what a send names).
    func template(orgID: String, channelID: String, name: String, language: String) async throws -> Template? {
        try await writer.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT \(Self.templateColumns) FROM template
                    WHERE org_id = ? AND channel_id = ? AND name = ? AND language = ?
                    """, arguments: [orgID, channelID, name, language]
            ).map(Self.template)
        }
    }

    public func deleteTemplate(orgID: String, channelID: String, id: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "DELETE FROM template WHERE org_id = ? AND channel_id = ? AND id = ?", arguments: [orgID, channelID, id])
            guard db.changesCount > 0 else { throw ServiceFailure.notFound("template_not_found", "no such template") }
        }
    }
}
