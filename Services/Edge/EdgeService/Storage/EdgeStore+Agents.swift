import Foundation
import HTTPTypes
import GRDB
public import ServiceKit

/// A person who answers conversations: assignable, and what an API key may act as.
public struct Agent: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var name: String
    public var email: String
    public var role: String
    public var createdAt: Millis
    public var updatedAt: Millis
}

extension EdgeStore {
    static let agentColumns = "id, org_id, name, email, role, created_at, updated_at"

    static func agent(_ row: Row) -> Agent {
        Agent(id: row[0], orgID: row[1], name: row[2], email: row[3], role: row[4], createdAt: row[5], updatedAt: row[6])
    }

    static func findAgent(_ db: Database, orgID: String, id: String) throws -> Agent? {
        try Row.fetchOne(
            db, sql: "SELECT \(agentColumns) FROM agent WHERE org_id = ? AND id = ?", arguments: [orgID, id]
        ).map(agent)
    }

    private static func save(_ db: Database, _ agent: Agent) throws {
        do {
            try db.execute(
                sql: """
                    INSERT INTO agent (\(agentColumns)) VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET
                    name = excluded.name, email = excluded.email, role = excluded.role, updated_at = excluded.updated_at
                    """,
                arguments: [agent.id, agent.orgID, agent.name, agent.email, agent.role, agent.createdAt, agent.updatedAt])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw APIError(.conflict, "agent_exists", "an agent with this email already exists", field: "email")
        }
    }

    public func createAgent(orgID: String, name: String, email: String, role: String) async throws -> Agent {
        let now = Millis.now()
        let agent = Agent(id: Identifier.make(), orgID: orgID, name: name, email: email, role: role, createdAt: now, updatedAt: now)
        try await writer.write { db in try Self.save(db, agent) }
        return agent
    }

    public func agents(orgID: String) async throws -> [Agent] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.agentColumns) FROM agent WHERE org_id = ? ORDER BY id", arguments: [orgID])
                .map(Self.agent)
        }
    }

    public func agent(orgID: String, id: String) async throws -> Agent? {
        try await writer.read { db in try Self.findAgent(db, orgID: orgID, id: id) }
    }

    public func updateAgent(orgID: String, id: String, name: String?, email: String?, role: String?) async throws -> Agent {
        try await writer.write { db in
            guard var agent = try Self.findAgent(db, orgID: orgID, id: id) else { throw APIError.notFound("agent") }
            if let name { agent.name = name }
            if let email { agent.email = email }
            let demoted = role != nil && role != agent.role
            if let role { agent.role = role }
            agent.updatedAt = Millis.now()
            try Self.save(db, agent)
            // A new role takes effect at the next sign-in: the agent's sessions end.
            if demoted { _ = try Self.endSessions(db, agentID: agent.id, except: nil) }
            return agent
        }
    }

    /// Deletes the agent and ends their sessions; keys acting as it keep working without an agent.
    public func deleteAgent(orgID: String, id: String) async throws {
        try await writer.write { db in
            guard try Self.findAgent(db, orgID: orgID, id: id) != nil else { throw APIError.notFound("agent") }
            try db.execute(sql: "DELETE FROM agent WHERE id = ?", arguments: [id])
            _ = try Self.forgetPeople(db, agentID: id)
            try db.execute(sql: "UPDATE api_key SET agent_id = NULL WHERE org_id = ? AND agent_id = ?", arguments: [orgID, id])
        }
    }
}
