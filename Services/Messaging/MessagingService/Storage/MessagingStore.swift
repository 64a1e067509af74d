import Foundation
import GRPCCore
public import GRDB
public import MessagingKit
public import ServiceKit

/// The messaging database: channels (their secrets sealed by `box`) and the inbound webhook journal.
public final class MessagingStore: Sendable {
    let writer: any DatabaseWriter
    let box: SecretsBox
    /// Where channels' provider base URLs may point.
    let egress: ProviderEgress

    public init(_ writer: any DatabaseWriter, box: SecretsBox = .random(), egress: ProviderEgress = .unrestricted)
        throws
    {
        self.writer = writer
        self.box = box
        self.egress = egress
        try MessagingMigrations.migrator.migrate(writer)
    }

    /// `synchronous=FULL`: a journaled webhook survives a power loss, not only a process crash. Plaintext
    /// secrets of older rows are sealed on open; secrets sealed under another key fail the open.
    public static func open(path: String, key: SecretsKey, egress: ProviderEgress) throws -> MessagingStore {
        let store = try MessagingStore(
            SQLiteDatabase.openPool(path: path, migrator: MessagingMigrations.migrator, durable: true), box: key.box,
            egress: egress)
        try store.sealSecrets(key: key)
        try key.persist()
        return store
    }

    public static func inMemory() throws -> MessagingStore {
        try MessagingStore(DatabaseQueue())
    }
}

/// The failures the messaging service reports, each with its stable reason.
enum MessagingFailure {
    static let channelNotFound = ServiceFailure.notFound("channel_not_found", "no such channel")
    static let invalidSignature = ServiceFailure(
        .unauthenticated, "invalid_signature", "the webhook signature does not match the channel's secret")
    static let missingSignature = ServiceFailure(
        .unauthenticated, "missing_signature", "the webhook carries no signature header")
    static let sandboxChannel = ServiceFailure(
        .failedPrecondition, "sandbox_channel", "the sandbox channel belongs to every organisation and cannot be removed")

    static func invalidPayload(_ message: String) -> ServiceFailure {
        .invalid("invalid_payload", message, field: "body")
    }
}
