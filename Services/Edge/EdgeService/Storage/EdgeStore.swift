import Crypto
import Foundation
public import GRDB
public import ServiceKit

/// An organisation: the tenant every other row belongs to.
public struct Organization: Sendable, Equatable {
    public var id: String
    public var name: String
    public var timeZone: String
    public var createdAt: Millis
}

/// An API key as listed: never the key itself, only its display prefix.
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var orgID: String
    public var prefix: String
    public var name: String
    public var role: String
    public var createdAt: Millis
    public var lastUsedAt: Millis?
    public var revokedAt: Millis?
    /// The agent the key acts as (`assignee=me`), if any.
    public var agentID: String? = nil
}

/// edge.db: organisations, API keys (SHA-256 hashes) and the operator key's hash.
public final class EdgeStore: Sendable {
    let writer: any DatabaseWriter

    public init(_ writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE organization (
                        id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, time_zone TEXT NOT NULL,
                        is_demo INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
                    CREATE TABLE api_key (
                        id TEXT PRIMARY KEY NOT NULL, org_id TEXT NOT NULL REFERENCES organization(id),
                        prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,
                        created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER);
                    CREATE INDEX api_key_org ON api_key(org_id, id);
                    CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    """)
        }
        migrator.registerMigration("v2-agents") { db in
            try db.execute(
                sql: """
                    CREATE TABLE agent (
                        id TEXT PRIMARY KEY NOT NULL, org_id TEXT NOT NULL REFERENCES organization(id),
                        name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
                        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                    CREATE UNIQUE INDEX agent_org_email ON agent(org_id, email);
                    ALTER TABLE api_key ADD COLUMN agent_id TEXT;
                    """)
        }
        registerSessionMigrations(&migrator)
        return migrator
    }

    // MARK: keys

    /// A new secret: `sb_` + 43 base64url characters (256 random bits). Shown once, stored as SHA-256.
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "sb_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func hash(_ key: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(key.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    static func prefix(of key: String) -> String { String(key.prefix(10)) }

    static let keyColumns = "id, org_id, prefix, name, role, created_at, last_used_at, revoked_at, agent_id"

    static func keyInfo(_ row: Row) -> APIKeyInfo {
        APIKeyInfo(
            id: row[0], orgID: row[1], prefix: row[2], name: row[3], role: row[4], createdAt: row[5],
            lastUsedAt: row[6], revokedAt: row[7], agentID: row[8])
    }

    static func insertKey(
        _ db: Database, orgID: String, key: String, name: String, role: String, agentID: String? = nil
    ) throws -> APIKeyInfo {
        let info = APIKeyInfo(
            id: Identifier.make(), orgID: orgID, prefix: prefix(of: key), name: name, role: role,
            createdAt: Millis.now(), lastUsedAt: nil, revokedAt: nil, agentID: agentID)
        try db.execute(
            sql: "INSERT INTO api_key (id, org_id, prefix, hash, name, role, created_at, agent_id) VALUES (?,?,?,?,?,?,?,?)",
            arguments: [info.id, orgID, info.prefix, hash(key), name, role, info.createdAt, agentID])
        return info
    }

    public func createKey(orgID: String, name: String, role: String, agentID: String? = nil) async throws
        -> (key: String, info: APIKeyInfo)
    {
        let key = Self.generateKey()
        let info = try await writer.write { db in
            if let agentID, try Self.findAgent(db, orgID: orgID, id: agentID) == nil {
                throw APIError.notFound("agent")
            }
            return try Self.insertKey(db, orgID: orgID, key: key, name: name, role: role, agentID: agentID)
        }
        return (key, info)
    }

    /// The live key with this secret, if any.
    public func key(secret: String) async throws -> APIKeyInfo? {
        let hash = Self.hash(secret)
        return try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.keyColumns) FROM api_key WHERE hash = ? AND revoked_at IS NULL",
                arguments: [hash]
            ).map(Self.keyInfo)
        }
    }

    public func keys(orgID: String) async throws -> [APIKeyInfo] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.keyColumns) FROM api_key WHERE org_id = ? ORDER BY id", arguments: [orgID]
            ).map(Self.keyInfo)
        }
    }

    /// Revokes a key of the org; false when the org has no such live key.
    public func revokeKey(orgID: String, id: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE api_key SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
                arguments: [Millis.now(), id, orgID])
            return db.changesCount > 0
        }
    }

    public func touchKey(id: String, at: Millis) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE api_key SET last_used_at = ? WHERE id = ?", arguments: [at, id])
        }
    }

    // MARK: organisations

    static func organization(_ row: Row) -> Organization {
        Organization(id: row[0], name: row[1], timeZone: row[2], createdAt: row[3])
    }

    public func createOrganization(name: String, timeZone: String, isDemo: Bool = false, adminKey: String? = nil)
        async throws -> (org: Organization, key: String, keyInfo: APIKeyInfo)
    {
        let key = adminKey ?? Self.generateKey()
        return try await writer.write { db in
            let org = Organization(id: Identifier.make(), name: name, timeZone: timeZone, createdAt: Millis.now())
            try db.execute(
                sql: "INSERT INTO organization (id, name, time_zone, is_demo, created_at) VALUES (?,?,?,?,?)",
                arguments: [org.id, org.name, org.timeZone, isDemo, org.createdAt])
            let info = try Self.insertKey(db, orgID: org.id, key: key, name: "admin", role: "admin")
            return (org, key, info)
        }
    }

    public func organization(id: String) async throws -> Organization? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT id, name, time_zone, created_at FROM organization WHERE id = ?", arguments: [id]
            ).map(Self.organization)
        }
    }

    /// The organisation's IANA time zone (validated by the caller).
    public func setTimeZone(orgID: String, _ timeZone: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE organization SET time_zone = ? WHERE id = ?", arguments: [timeZone, orgID])
        }
    }

    public func organizations() async throws -> [Organization] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, time_zone, created_at FROM organization ORDER BY id")
                .map(Self.organization)
        }
    }

    public func demoOrganization() async throws -> Organization? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT id, name, time_zone, created_at FROM organization WHERE is_demo = 1 LIMIT 1"
            ).map(Self.organization)
        }
    }

    /// Makes sure `key` is an admin key of the org (used for SWITCHBOARD_BOOTSTRAP_API_KEY). A key that was
    /// revoked stays revoked (a restart never brings it back): the answer says so, for a warning at start.
    @discardableResult
    public func ensureKey(orgID: String, key: String) async throws -> BootstrapKeyState {
        try await writer.write { db in
            let hash = Self.hash(key)
            if let row = try Row.fetchOne(
                db, sql: "SELECT org_id, revoked_at FROM api_key WHERE hash = ?", arguments: [hash])
            {
                let owner: String = row[0]
                let revokedAt: Millis? = row[1]
                if owner != orgID { return .otherOrganization }
                return revokedAt == nil ? .live : .revoked
            }
            _ = try Self.insertKey(db, orgID: orgID, key: key, name: "bootstrap", role: "admin")
            return .live
        }
    }

    // MARK: settings

    public func setting(_ key: String) async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key])
        }
    }

    /// Whether the org's sandbox accepts simulated customer messages (on unless an admin turned it off).
    public func sandboxEnabled(orgID: String) async throws -> Bool {
        try await setting("sandbox_disabled:\(orgID)") == nil
    }

    /// The orgs whose sandbox an admin turned off.
    public func sandboxDisabledOrgs() async throws -> Set<String> {
        try await writer.read { db in
            let keys = try String.fetchAll(db, sql: "SELECT key FROM setting WHERE key LIKE 'sandbox_disabled:%'")
            return Set(keys.map { String($0.dropFirst("sandbox_disabled:".count)) })
        }
    }

    public func setSandboxEnabled(orgID: String, _ enabled: Bool) async throws {
        try await writer.write { db in
            if enabled {
                try db.execute(sql: "DELETE FROM setting WHERE key = ?", arguments: ["sandbox_disabled:\(orgID)"])
            } else {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, '1')",
                    arguments: ["sandbox_disabled:\(orgID)"])
            }
        }
    }

    public func setSetting(_ key: String, _ value: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }
}

/// What `ensureKey` found for the configured bootstrap key.
public enum BootstrapKeyState: Sendable {
    /// A live admin key of the demo organisation (found or just created).
    case live
    /// Revoked through the API: it stays revoked.
    case revoked
    /// The same secret is another organisation's key: left alone.
    case otherOrganization
}
