import GRPCCore
import GRDB

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
        return migrator
    }
}
