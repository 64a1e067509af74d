import GRDB
import ServiceKit

/// The contacts database schema. Shipped migrations never change; add new ones.
enum ContactsMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE contact (
                        id TEXT NOT NULL,
                        org_id TEXT NOT NULL,
                        phone TEXT,
                        wa_user_id TEXT,
                        wa_username TEXT,
                        name TEXT,
                        email TEXT,
                        attributes TEXT NOT NULL DEFAULT '{}',
                        opted_in INTEGER NOT NULL DEFAULT 0,
                        opt_in_source TEXT,
                        opt_in_proof TEXT,
                        search TEXT NOT NULL DEFAULT '',
                        created_by_import TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE UNIQUE INDEX contact_org_phone ON contact(org_id, phone) WHERE phone IS NOT NULL;
                    CREATE UNIQUE INDEX contact_org_wa_user ON contact(org_id, wa_user_id) WHERE wa_user_id IS NOT NULL;
                    CREATE UNIQUE INDEX contact_org_id ON contact(org_id, id);
                    CREATE INDEX contact_org_opted_in ON contact(org_id, opted_in, id);

                    CREATE TABLE contact_tag (
                        contact_id TEXT NOT NULL,
                        org_id TEXT NOT NULL,
                        tag TEXT NOT NULL,
                        PRIMARY KEY (contact_id, tag)
                    ) WITHOUT ROWID;
                    CREATE INDEX contact_tag_org_tag ON contact_tag(org_id, tag, contact_id);

                    CREATE TABLE consent_entry (
                        id TEXT NOT NULL,
                        org_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        opted_in INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        proof TEXT NOT NULL,
                        recorded_at INTEGER NOT NULL,
                        PRIMARY KEY (org_id, contact_id, id)
                    ) WITHOUT ROWID;

                    CREATE TABLE audit_entry (
                        id TEXT NOT NULL,
                        org_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        action TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        changes TEXT NOT NULL,
                        PRIMARY KEY (org_id, contact_id, id)
                    ) WITHOUT ROWID;

                    CREATE TABLE auto_tag_rule (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        match_type TEXT NOT NULL,
                        keyword TEXT NOT NULL,
                        tag TEXT NOT NULL,
                        enabled INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX auto_tag_rule_org ON auto_tag_rule(org_id, id);

                    CREATE TABLE import_job (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        file_name TEXT NOT NULL,
                        file_path TEXT NOT NULL,
                        size_bytes INTEGER NOT NULL,
                        total_rows INTEGER NOT NULL,
                        processed_rows INTEGER NOT NULL DEFAULT 0,
                        created INTEGER NOT NULL DEFAULT 0,
                        updated INTEGER NOT NULL DEFAULT 0,
                        unchanged INTEGER NOT NULL DEFAULT 0,
                        failed INTEGER NOT NULL DEFAULT 0,
                        preview TEXT NOT NULL,
                        mapping TEXT NOT NULL DEFAULT '[]',
                        actor TEXT NOT NULL,
                        resume_offset INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        started_at INTEGER,
                        finished_at INTEGER,
                        error TEXT
                    );
                    CREATE INDEX import_job_org ON import_job(org_id, id);
                    CREATE INDEX import_job_status ON import_job(status);

                    CREATE TABLE import_error (
                        job_id TEXT NOT NULL,
                        row INTEGER NOT NULL,
                        column_name TEXT NOT NULL,
                        value TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        message TEXT NOT NULL,
                        PRIMARY KEY (job_id, row, column_name)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2-inbound") { db in
            // One row per inbound message resolved, so a redelivery changes nothing twice.
            try db.execute(
                sql: """
                    CREATE TABLE inbound_seen (
                        org_id TEXT NOT NULL,
                        message_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        merged TEXT NOT NULL DEFAULT '[]',
                        at INTEGER NOT NULL,
                        PRIMARY KEY (org_id, message_id)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v3-events") { db in
            try EventLog.createTable(db)
        }
        return migrator
    }
}
