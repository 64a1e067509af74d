import Foundation
import GRPCCore
public import GRDB
public import MessagingKit
public import ServiceKit

/// The messaging database: channels and the inbound webhook journal.
public final class MessagingStore: Sendable {
    let writer: any DatabaseWriter

    public init(_ writer: any DatabaseWriter) throws {
        self.writer = writer
        try MessagingMigrations.migrator.migrate(writer)
    }

    /// `synchronous=FULL`: a journaled webhook survives a power loss, not only a process crash.
    public static func open(path: String) throws -> MessagingStore {
        try MessagingStore(SQLiteDatabase.openPool(path: path, migrator: MessagingMigrations.migrator, durable: true))
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
