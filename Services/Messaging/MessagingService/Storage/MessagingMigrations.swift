import GRPCCore
import GRDB
import ServiceKit

/// The messaging database schema. Shipped migrations never change; add new ones.
enum MessagingMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE channel (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        settings TEXT NOT NULL DEFAULT '{}',
                        secrets TEXT NOT NULL DEFAULT '{}',
                        phone_number_id TEXT,
                        status TEXT NOT NULL DEFAULT 'active',
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX channel_org ON channel(org_id, id);
                    CREATE UNIQUE INDEX channel_phone_number_id ON channel(phone_number_id)
                        WHERE phone_number_id IS NOT NULL;
                    CREATE UNIQUE INDEX channel_org_sandbox ON channel(org_id) WHERE kind = 'sandbox';

                    -- Provider webhooks, written before the provider gets its 200 and worked in `seq` order.
                    CREATE TABLE journal (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL,
                        provider TEXT NOT NULL,
                        channel_id TEXT,
                        body BLOB NOT NULL,
                        received_at INTEGER NOT NULL,
                        processed_at INTEGER,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT
                    );
                    CREATE INDEX journal_pending ON journal(seq) WHERE processed_at IS NULL;
                    """)
        }
        migrator.registerMigration("v2-templates") { db in
            try db.execute(
                sql: """
                    CREATE TABLE template (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        language TEXT NOT NULL,
                        category TEXT NOT NULL,
                        components TEXT NOT NULL,
                        status TEXT NOT NULL,
                        header_parameters INTEGER NOT NULL,
                        body_parameters INTEGER NOT NULL,
                        button_parameters TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE UNIQUE INDEX template_channel_name ON template(channel_id, name, language);
                    """)
        }
        migrator.registerMigration("v3-outbox") { db in
            try db.execute(
                sql: """
                    -- Accepted sends, written in the transaction that accepts them; the delivery worker works them.
                    -- state: queued → sending (the attempt is recorded before the provider call) → sent | delivered
                    -- (sandbox) | failed; a retry goes back to queued with a later next_attempt_at.
                    CREATE TABLE outbox (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        idempotency_key TEXT,
                        request_hash TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        recipient TEXT NOT NULL,
                        content TEXT NOT NULL,
                        answer BLOB NOT NULL,
                        record_request BLOB NOT NULL,
                        recorded INTEGER NOT NULL DEFAULT 0,
                        state TEXT NOT NULL DEFAULT 'queued',
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        provider_message_id TEXT,
                        error_code TEXT,
                        error_text TEXT,
                        failure_reason TEXT,
                        version INTEGER NOT NULL DEFAULT 0,
                        reported_version INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE UNIQUE INDEX outbox_idempotency ON outbox(org_id, idempotency_key)
                        WHERE idempotency_key IS NOT NULL;
                    CREATE INDEX outbox_due ON outbox(channel_id, next_attempt_at) WHERE state IN ('queued', 'sending');
                    CREATE INDEX outbox_unreported ON outbox(updated_at) WHERE reported_version < version;
                    CREATE INDEX outbox_unrecorded ON outbox(created_at) WHERE recorded = 0;
                    """)
        }
        migrator.registerMigration("v4-events") { db in
            try EventLog.createTable(db)
            try EventCursors.createTables(db)
        }
        // A status callback names the provider's id: whose send it was (a Twilio 21610 opts that contact out).
        migrator.registerMigration("v5-outbox-provider-id") { db in
            try db.execute(
                sql: """
                    CREATE INDEX outbox_provider ON outbox(org_id, provider_message_id)
                        WHERE provider_message_id IS NOT NULL
                    """)
        }
        return migrator
    }
}
