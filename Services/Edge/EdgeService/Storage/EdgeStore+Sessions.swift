import Foundation
import GRDB
public import ServiceKit

/// A signed-in browser of an agent: its token is stored only as SHA-256.
public struct AgentSession: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var agentID: String
    public var createdAt: Millis
    public var lastSeenAt: Millis
    /// The absolute end (sign-in + `SWITCHBOARD_SESSION_MAX_S`).
    public var endsAt: Millis
    public var ip: String
    public var userAgent: String

    /// When it ends if unused from now on: the earlier of the idle and the absolute end.
    func expiresAt(idle: Millis) -> Millis { min(endsAt, lastSeenAt + idle) }

    func isLive(at now: Millis, idle: Millis) -> Bool { expiresAt(idle: idle) > now }
}

/// An agent who may sign in with a password, with their organisation.
struct Credentials: Sendable {
    var agent: Agent
    var org: Organization
    var passwordHash: String?
}

extension EdgeStore {
    static func registerSessionMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-sessions") { db in
            try db.execute(
                sql: """
                    ALTER TABLE agent ADD COLUMN password_hash TEXT;
                    CREATE INDEX agent_email ON agent(email);
                    CREATE TABLE agent_session (
                        id TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL UNIQUE,
                        org_id TEXT NOT NULL REFERENCES organization(id), agent_id TEXT NOT NULL,
                        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
                        ip TEXT NOT NULL, user_agent TEXT NOT NULL);
                    CREATE INDEX agent_session_agent ON agent_session(agent_id, id);
                    CREATE TABLE agent_invite (
                        hash TEXT PRIMARY KEY NOT NULL, org_id TEXT NOT NULL REFERENCES organization(id),
                        agent_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
                    CREATE INDEX agent_invite_agent ON agent_invite(agent_id);
                    """)
        }
    }

    static let sessionColumns = "id, org_id, agent_id, created_at, last_seen_at, ends_at, ip, user_agent"

    static func session(_ row: Row, at offset: Int = 0) -> AgentSession {
        AgentSession(
            id: row[offset], orgID: row[offset + 1], agentID: row[offset + 2], createdAt: row[offset + 3],
            lastSeenAt: row[offset + 4], endsAt: row[offset + 5], ip: row[offset + 6], userAgent: row[offset + 7])
    }

    // MARK: passwords

    /// Every agent with this email (in every org, or in `orgID`), with their password hash, oldest first.
    func credentials(email: String, orgID: String? = nil) async throws -> [Credentials] {
        try await writer.read { db in
            var sql = """
                SELECT a.id, a.org_id, a.name, a.email, a.role, a.created_at, a.updated_at, a.password_hash,
                o.id, o.name, o.time_zone, o.created_at
                FROM agent a JOIN organization o ON o.id = a.org_id WHERE a.email = ?
                """
            var arguments: StatementArguments = [email]
            if let orgID {
                sql += " AND a.org_id = ?"
                arguments += [orgID]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY a.id LIMIT 20", arguments: arguments).map { row in
                Credentials(
                    agent: Self.agent(row), org: Organization(id: row[8], name: row[9], timeZone: row[10], createdAt: row[11]),
                    passwordHash: row[7])
            }
        }
    }

    func credentials(orgID: String, agentID: String) async throws -> Credentials? {
        try await writer.read { db in
            guard let agent = try Self.findAgent(db, orgID: orgID, id: agentID),
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, name, time_zone, created_at FROM organization WHERE id = ?", arguments: [orgID])
            else { return nil }
            let hash = try String.fetchOne(
                db, sql: "SELECT password_hash FROM agent WHERE id = ?", arguments: [agentID])
            return Credentials(agent: agent, org: Self.organization(row), passwordHash: hash)
        }
    }

    /// Sets the agent's password; with `endSessions` also ends the agent's sessions but `keep`. Answers the ids of
    /// the sessions ended.
    func setPassword(orgID: String, agentID: String, hash: String, endSessions: Bool = false, keep: String? = nil)
        async throws -> [String]
    {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE agent SET password_hash = ? WHERE org_id = ? AND id = ?", arguments: [hash, orgID, agentID])
            guard db.changesCount > 0 else { throw APIError.notFound("agent") }
            return endSessions ? try Self.endSessions(db, agentID: agentID, except: keep) : []
        }
    }

    /// The org's agent with this email, created as an admin named "Admin" when missing (the demo admin).
    func ensureAdminAgent(orgID: String, email: String) async throws -> (agent: Agent, hasPassword: Bool) {
        try await writer.write { db in
            if let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.agentColumns), password_hash FROM agent WHERE org_id = ? AND email = ?",
                arguments: [orgID, email])
            {
                let hash: String? = row[7]
                return (Self.agent(row), hash != nil)
            }
            let now = Millis.now()
            let agent = Agent(
                id: Identifier.make(), orgID: orgID, name: "Admin", email: email, role: "admin", createdAt: now,
                updatedAt: now)
            try db.execute(
                sql: "INSERT INTO agent (\(Self.agentColumns)) VALUES (?,?,?,?,?,?,?)",
                arguments: [agent.id, orgID, agent.name, email, agent.role, now, now])
            return (agent, false)
        }
    }

    // MARK: sessions

    /// Stores a new session for `token`; forgets sessions that have ended meanwhile.
    func createSession(
        token: String, orgID: String, agentID: String, ip: String, userAgent: String, settings: SessionSettings,
        now: Millis = .now()
    ) async throws -> AgentSession {
        let session = AgentSession(
            id: Identifier.make(), orgID: orgID, agentID: agentID, createdAt: now, lastSeenAt: now,
            endsAt: now + settings.maximum, ip: ip, userAgent: userAgent)
        try await writer.write { db in
            try Self.insert(db, session, token: token)
            try db.execute(
                sql: "DELETE FROM agent_session WHERE ends_at <= ? OR last_seen_at <= ?",
                arguments: [now, now - settings.idle])
            try db.execute(sql: "DELETE FROM agent_invite WHERE expires_at <= ?", arguments: [now])
        }
        return session
    }

    private static func insert(_ db: Database, _ session: AgentSession, token: String) throws {
        try db.execute(
            sql: "INSERT INTO agent_session (\(sessionColumns), hash) VALUES (?,?,?,?,?,?,?,?,?)",
            arguments: [
                session.id, session.orgID, session.agentID, session.createdAt, session.lastSeenAt, session.endsAt,
                session.ip, session.userAgent, hash(token),
            ])
    }

    /// The live session with this token, its agent and org.
    func session(token: String, settings: SessionSettings, now: Millis = .now()) async throws
        -> (session: AgentSession, agent: Agent, org: Organization)?
    {
        try await writer.read { db in
            let columns = Self.sessionColumns.split(separator: ",").map { "s." + $0.trimmingCharacters(in: .whitespaces) }
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT \(columns.joined(separator: ", ")), a.id, a.org_id, a.name, a.email, a.role, a.created_at,
                        a.updated_at, o.id, o.name, o.time_zone, o.created_at
                        FROM agent_session s JOIN agent a ON a.id = s.agent_id AND a.org_id = s.org_id
                        JOIN organization o ON o.id = s.org_id WHERE s.hash = ?
                        """, arguments: [Self.hash(token)])
            else { return nil }
            let session = Self.session(row)
            guard session.isLive(at: now, idle: settings.idle) else { return nil }
            let agent = Agent(
                id: row[8], orgID: row[9], name: row[10], email: row[11], role: row[12], createdAt: row[13],
                updatedAt: row[14])
            return (session, agent, Organization(id: row[15], name: row[16], timeZone: row[17], createdAt: row[18]))
        }
    }

    func touchSession(id: String, at: Millis) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE agent_session SET last_seen_at = ? WHERE id = ?", arguments: [at, id])
        }
    }

    /// The agent's live sessions, oldest first.
    func sessions(agentID: String, settings: SessionSettings, now: Millis = .now()) async throws -> [AgentSession] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.sessionColumns) FROM agent_session WHERE agent_id = ? ORDER BY id",
                arguments: [agentID]
            ).map { Self.session($0) }.filter { $0.isLive(at: now, idle: settings.idle) }
        }
    }

    /// Ends one session of the agent; false when the agent has no such session.
    func deleteSession(id: String, agentID: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM agent_session WHERE id = ? AND agent_id = ?", arguments: [id, agentID])
            return db.changesCount > 0
        }
    }

    /// Ends every session of the agent but `except`; answers the ids ended.
    func endSessions(agentID: String, except: String? = nil) async throws -> [String] {
        try await writer.write { db in try Self.endSessions(db, agentID: agentID, except: except) }
    }

    static func endSessions(_ db: Database, agentID: String, except: String?) throws -> [String] {
        let ids = try String.fetchAll(
            db, sql: "SELECT id FROM agent_session WHERE agent_id = ? AND id IS NOT ?", arguments: [agentID, except])
        try db.execute(sql: "DELETE FROM agent_session WHERE agent_id = ? AND id IS NOT ?", arguments: [agentID, except])
        return ids
    }

    // MARK: invitations (and password resets)

    /// A new one-time link for the agent, voiding the previous one. Nil when the org has no such agent.
    func createInvite(orgID: String, agentID: String, token: String, now: Millis = .now()) async throws -> Millis? {
        let expiresAt = now + SessionSettings.inviteLifetime
        return try await writer.write { db in
            guard try Self.findAgent(db, orgID: orgID, id: agentID) != nil else { return nil }
            try db.execute(sql: "DELETE FROM agent_invite WHERE agent_id = ?", arguments: [agentID])
            try db.execute(
                sql: "INSERT INTO agent_invite (hash, org_id, agent_id, created_at, expires_at) VALUES (?,?,?,?,?)",
                arguments: [Self.hash(token), orgID, agentID, now, expiresAt])
            return expiresAt
        }
    }

    /// The agent a live invitation token is for.
    func invite(token: String, now: Millis = .now()) async throws -> Credentials? {
        let found: (orgID: String, agentID: String)? = try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT org_id, agent_id FROM agent_invite WHERE hash = ? AND expires_at > ?",
                arguments: [Self.hash(token), now]
            ).map { ($0[0], $0[1]) }
        }
        guard let found else { return nil }
        return try await credentials(orgID: found.orgID, agentID: found.agentID)
    }

    /// Uses the invitation once: sets the password, ends the agent's sessions and starts a new one, all or nothing.
    /// Nil when the token is unknown, used or expired (also by a concurrent acceptance).
    func acceptInvite(
        token: String, passwordHash: String, sessionToken: String, ip: String, userAgent: String,
        settings: SessionSettings, now: Millis = .now()
    ) async throws -> (session: AgentSession, ended: [String])? {
        try await writer.write { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT org_id, agent_id FROM agent_invite WHERE hash = ? AND expires_at > ?",
                    arguments: [Self.hash(token), now])
            else { return nil }
            let orgID: String = row[0]
            let agentID: String = row[1]
            try db.execute(sql: "DELETE FROM agent_invite WHERE agent_id = ?", arguments: [agentID])
            try db.execute(
                sql: "UPDATE agent SET password_hash = ? WHERE org_id = ? AND id = ?",
                arguments: [passwordHash, orgID, agentID])
            guard db.changesCount > 0 else { return nil }
            let ended = try Self.endSessions(db, agentID: agentID, except: nil)
            let session = AgentSession(
                id: Identifier.make(), orgID: orgID, agentID: agentID, createdAt: now, lastSeenAt: now,
                endsAt: now + settings.maximum, ip: ip, userAgent: userAgent)
            try Self.insert(db, session, token: sessionToken)
            return (session, ended)
        }
    }

    /// Forgets the agent's sessions and invitations (the agent was removed).
    static func forgetPeople(_ db: Database, agentID: String) throws -> [String] {
        try db.execute(sql: "DELETE FROM agent_invite WHERE agent_id = ?", arguments: [agentID])
        return try endSessions(db, agentID: agentID, except: nil)
    }
}
