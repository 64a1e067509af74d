import Foundation
import GRPCCore
import GRDB
public import MessagingKit
public import ServiceKit

/// A channel as stored, secrets included (they never leave the service).
struct StoredChannel: Sendable {
    var channel: Channel
    var secrets: [ChannelSetting: String]

    func value(_ setting: ChannelSetting) -> String? {
        setting.isSecret ? secrets[setting] : channel.settings[setting]
    }
}

extension MessagingStore {
    private static let columns = "id, org_id, kind, settings, secrets, status, created_at, updated_at"

    private func stored(_ row: Row) throws -> StoredChannel {
        func decode(_ text: String) -> [ChannelSetting: String] {
            let raw = (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
            return Dictionary(uniqueKeysWithValues: raw.compactMap { key, value in
                ChannelSetting(rawValue: key).map { ($0, value) }
            })
        }
        let id: String = row[0]
        let sealed: String = row[4]
        let secrets = decode(SecretsBox.isSealed(sealed) ? try box.open(sealed, channelID: id) : sealed)
        return StoredChannel(
            channel: Channel(
                id: id, orgID: row[1], kind: ChannelKind(rawValue: row[2]) ?? .sandbox, settings: decode(row[3]),
                secretsSet: Set(secrets.keys), status: row[5], createdAt: row[6], updatedAt: row[7]),
            secrets: secrets)
    }

    static func encode(_ values: [ChannelSetting: String]) -> String {
        let raw = Dictionary(uniqueKeysWithValues: values.map { ($0.key.rawValue, $0.value) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(raw)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private func save(_ db: Database, _ stored: StoredChannel) throws {
        let channel = stored.channel
        do {
            try db.execute(
                sql: """
                    INSERT INTO channel (\(Self.columns), phone_number_id) VALUES (?,?,?,?,?,?,?,?,?)
                    ON CONFLICT(id) DO UPDATE SET settings = excluded.settings, secrets = excluded.secrets,
                    status = excluded.status, updated_at = excluded.updated_at, phone_number_id = excluded.phone_number_id
                    """,
                arguments: [
                    channel.id, channel.orgID, channel.kind.rawValue, Self.encode(channel.settings),
                    try box.seal(Self.encode(stored.secrets), channelID: channel.id),
                    channel.status, channel.createdAt, channel.updatedAt,
                    channel.kind == .whatsappCloud ? channel.settings[.phoneNumberID] : nil,
                ])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw ServiceFailure(
                .alreadyExists, "channel_exists", "another channel is already connected to this phone number id",
                field: "phoneNumberId")
        }
    }

    public func createChannel(orgID: String, kind: ChannelKind, settings: [ChannelSetting: String]) async throws
        -> Channel
    {
        guard kind != .sandbox else {
            throw ServiceFailure.invalid("invalid_kind", "the sandbox channel exists in every organisation", field: "kind")
        }
        let validated = try ChannelRules.validate(kind: kind, settings: settings, existing: [:], egress: egress)
        try await checkResolvedURLs(validated)
        let now = Millis.now()
        let stored = StoredChannel(
            channel: Channel(
                id: Identifier.make(), orgID: orgID, kind: kind, settings: validated.filter { !$0.key.isSecret },
                secretsSet: Set(validated.keys.filter(\.isSecret)), status: "active", createdAt: now, updatedAt: now),
            secrets: validated.filter { $0.key.isSecret })
        try await writer.write { db in try self.save(db, stored) }
        return stored.channel
    }

    public func updateChannel(orgID: String, id: String, patch: [ChannelSetting: String]) async throws -> Channel {
        try await checkResolvedURLs(patch.mapValues { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        return try await writer.write { db in
            var stored = try self.find(db, orgID: orgID, id: id)
            var current = stored.channel.settings.merging(stored.secrets) { a, _ in a }
            current.merge(patch) { _, new in new }
            let validated = try ChannelRules.validate(
                kind: stored.channel.kind, settings: current, existing: [:], egress: self.egress)
            stored.channel.settings = validated.filter { !$0.key.isSecret }
            stored.secrets = validated.filter { $0.key.isSecret }
            stored.channel.secretsSet = Set(stored.secrets.keys)
            if patch[.accessToken] != nil || patch[.authToken] != nil { stored.channel.status = "active" }
            stored.channel.updatedAt = Millis.now()
            try self.save(db, stored)
            return stored.channel
        }
    }

    /// Refuses provider base URLs whose host resolves to a private address (unless the operator allows them).
    private func checkResolvedURLs(_ settings: [ChannelSetting: String]) async throws {
        for setting in [ChannelSetting.graphAPIBaseURL, .apiBaseURL] {
            guard let url = settings[setting], !url.isEmpty, let refusal = await egress.refusalResolving(url) else {
                continue
            }
            throw ServiceFailure.invalid(
                "provider_url_not_allowed", "\(setting.rawValue) \(refusal)", field: setting.rawValue)
        }
    }

    public func deleteChannel(orgID: String, id: String) async throws {
        try await writer.write { db in
            let stored = try self.find(db, orgID: orgID, id: id)
            guard stored.channel.kind != .sandbox else { throw MessagingFailure.sandboxChannel }
            try db.execute(sql: "DELETE FROM channel WHERE id = ?", arguments: [id])
        }
    }

    public func channel(orgID: String, id: String) async throws -> Channel {
        try await writer.read { db in try self.find(db, orgID: orgID, id: id).channel }
    }

    /// The org's channels, oldest first, after making sure its sandbox channel exists.
    public func channels(orgID: String) async throws -> [Channel] {
        _ = try await sandbox(orgID: orgID)
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.columns) FROM channel WHERE org_id = ? ORDER BY kind != 'sandbox', id",
                arguments: [orgID])
                .map { try self.stored($0).channel }
        }
    }

    /// The org's sandbox channel, created on first use.
    public func sandbox(orgID: String) async throws -> Channel {
        // The closure answers a Sendable value: one answering a `Row` would pick GRDB's blocking `read`, which
        // waits for a reader on the calling thread (an event loop) and can deadlock the process.
        if let existing = try await writer.read({ db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.columns) FROM channel WHERE org_id = ? AND kind = 'sandbox'", arguments: [orgID]
            ).map { try self.stored($0).channel }
        }) {
            return existing
        }
        return try await writer.write { db in
            if let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.columns) FROM channel WHERE org_id = ? AND kind = 'sandbox'", arguments: [orgID])
            {
                return try self.stored(row).channel
            }
            let now = Millis.now()
            let stored = StoredChannel(
                channel: Channel(
                    id: Identifier.make(), orgID: orgID, kind: .sandbox, settings: [.name: "Sandbox"], secretsSet: [],
                    status: "active", createdAt: now, updatedAt: now),
                secrets: [:])
            try self.save(db, stored)
            return stored.channel
        }
    }

    func find(_ db: Database, orgID: String, id: String) throws -> StoredChannel {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.columns) FROM channel WHERE id = ? AND org_id = ?", arguments: [id, orgID])
        else { throw MessagingFailure.channelNotFound }
        return try stored(row)
    }

    /// A stored channel of the org (secrets included, for the provider call).
    func storedChannel(orgID: String, id: String) async throws -> StoredChannel {
        try await writer.read { db in try self.find(db, orgID: orgID, id: id) }
    }

    /// The org's channels with their secrets, oldest first (the sandbox made sure of).
    func storedChannels(orgID: String) async throws -> [StoredChannel] {
        _ = try await sandbox(orgID: orgID)
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.columns) FROM channel WHERE org_id = ? ORDER BY kind != 'sandbox', id",
                arguments: [orgID]
            ).map(self.stored)
        }
    }

    // MARK: lookups by the provider's routing keys (any org)

    func channel(id: String) async throws -> StoredChannel? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.columns) FROM channel WHERE id = ?", arguments: [id])
                .map(self.stored)
        }
    }

    func whatsappChannels(phoneNumberIDs: [String]) async throws -> [StoredChannel] {
        guard !phoneNumberIDs.isEmpty else { return [] }
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.columns) FROM channel WHERE phone_number_id IN (\(phoneNumberIDs.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(phoneNumberIDs)
            ).map(self.stored)
        }
    }

    func whatsappChannels() async throws -> [StoredChannel] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM channel WHERE kind = 'whatsapp_cloud'")
                .map(self.stored)
        }
    }
}
