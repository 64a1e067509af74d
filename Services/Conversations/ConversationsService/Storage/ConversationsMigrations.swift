import GRPCCore
import GRDB
import ServiceKit

/// The conversations database schema. Shipped migrations never change; add new ones.
///
/// Every inbox page reads an index in (org_id, …, last_activity_at, id) order, so the first page of any single
/// filter stops after `limit` rows even with a million conversations in the org (see `InboxQuery`).
enum ConversationsMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE conversation (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        org_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        contact_name TEXT,
                        contact_phone TEXT,
                        contact_wa_username TEXT,
                        channel_id TEXT NOT NULL,
                        medium TEXT NOT NULL,
                        status TEXT NOT NULL,
                        assignee_id TEXT,
                        last_activity_at INTEGER NOT NULL,
                        last_inbound_at INTEGER,
                        unread_count INTEGER NOT NULL DEFAULT 0,
                        starred INTEGER NOT NULL DEFAULT 0,
                        archived INTEGER NOT NULL DEFAULT 0,
                        last_message_id TEXT,
                        last_message_direction TEXT,
                        last_message_type TEXT,
                        last_message_text TEXT,
                        last_message_at INTEGER,
                        search TEXT NOT NULL DEFAULT '',
                        created_at INTEGER NOT NULL,
                        resolved_at INTEGER,
                        deleted_at INTEGER
                    );
                    -- One open conversation per contact and channel (the trash does not count).
                    CREATE UNIQUE INDEX conversation_open ON conversation(org_id, contact_id, channel_id)
                        WHERE status <> 'RESOLVED' AND deleted_at IS NULL;
                    CREATE INDEX conversation_contact ON conversation(org_id, contact_id, last_activity_at, id);
                    CREATE INDEX conversation_inbox ON conversation(org_id, archived, last_activity_at, id)
                        WHERE deleted_at IS NULL;
                    CREATE INDEX conversation_status ON conversation(org_id, status, archived, last_activity_at, id)
                        WHERE deleted_at IS NULL;
                    CREATE INDEX conversation_assignee
                        ON conversation(org_id, assignee_id, archived, last_activity_at, id) WHERE deleted_at IS NULL;
                    CREATE INDEX conversation_channel
                        ON conversation(org_id, channel_id, archived, last_activity_at, id) WHERE deleted_at IS NULL;
                    CREATE INDEX conversation_medium ON conversation(org_id, medium, archived, last_activity_at, id)
                        WHERE deleted_at IS NULL;
                    CREATE INDEX conversation_starred ON conversation(org_id, archived, last_activity_at, id)
                        WHERE starred = 1 AND deleted_at IS NULL;
                    CREATE INDEX conversation_unread ON conversation(org_id, archived, last_activity_at, id)
                        WHERE unread_count > 0 AND deleted_at IS NULL;
                    CREATE INDEX conversation_trash ON conversation(org_id, last_activity_at, id)
                        WHERE deleted_at IS NOT NULL;
                    CREATE INDEX conversation_deleted_at ON conversation(deleted_at) WHERE deleted_at IS NOT NULL;

                    -- Contact name/phone search: trigram full-text over `search`, kept in step by triggers. `seq`
                    -- is the stable rowid it points at.
                    CREATE VIRTUAL TABLE conversation_search USING fts5(
                        search, content='conversation', content_rowid='seq', tokenize='trigram');
                    CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversation BEGIN
                        INSERT INTO conversation_search(rowid, search) VALUES (new.seq, new.search);
                    END;
                    CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversation BEGIN
                        INSERT INTO conversation_search(conversation_search, rowid, search)
                            VALUES ('delete', old.seq, old.search);
                    END;
                    CREATE TRIGGER conversation_search_update AFTER UPDATE OF search ON conversation BEGIN
                        INSERT INTO conversation_search(conversation_search, rowid, search)
                            VALUES ('delete', old.seq, old.search);
                        INSERT INTO conversation_search(rowid, search) VALUES (new.seq, new.search);
                    END;

                    CREATE TABLE message (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        conversation_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        direction TEXT NOT NULL,
                        type TEXT NOT NULL,
                        text TEXT NOT NULL,
                        content_json TEXT NOT NULL,
                        provider_message_id TEXT,
                        status TEXT NOT NULL,
                        error_code TEXT,
                        error_text TEXT,
                        reply_to_provider_id TEXT,
                        forwarded INTEGER NOT NULL DEFAULT 0,
                        sent_at INTEGER,
                        recorded_at INTEGER NOT NULL,
                        status_at INTEGER NOT NULL,
                        sender_agent_id TEXT
                    );
                    CREATE UNIQUE INDEX message_provider ON message(org_id, provider_message_id)
                        WHERE provider_message_id IS NOT NULL;
                    CREATE INDEX message_conversation ON message(conversation_id, id);

                    -- Delivery statuses that arrived before their message was recorded (the most advanced one).
                    CREATE TABLE pending_delivery (
                        org_id TEXT NOT NULL,
                        provider_message_id TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        error_code TEXT,
                        error_text TEXT,
                        PRIMARY KEY (org_id, provider_message_id)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2-quick-replies") { db in
            try db.execute(
                sql: """
                    CREATE TABLE quick_reply (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        shortcut TEXT NOT NULL,
                        content TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE UNIQUE INDEX quick_reply_org_shortcut ON quick_reply(org_id, shortcut);
                    """)
        }
        migrator.registerMigration("v3-outbound") { db in
            try db.execute(
                sql: """
                    ALTER TABLE message ADD COLUMN failure_reason TEXT;
                    ALTER TABLE conversation ADD COLUMN reply_channel_id TEXT;
                    ALTER TABLE conversation ADD COLUMN reply_medium TEXT;
                    """)
        }
        migrator.registerMigration("v4-events-csat") { db in
            try EventLog.createTable(db)
            try db.execute(
                sql: """
                    CREATE TABLE csat_settings (
                        org_id TEXT PRIMARY KEY NOT NULL,
                        enabled INTEGER NOT NULL,
                        question TEXT NOT NULL,
                        template_name TEXT,
                        template_language TEXT NOT NULL,
                        cooldown_hours INTEGER NOT NULL
                    );
                    CREATE TABLE csat_survey (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        conversation_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        medium TEXT NOT NULL,
                        agent_id TEXT,
                        status TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        sent_at INTEGER,
                        expires_at INTEGER NOT NULL,
                        message_id TEXT,
                        failure_reason TEXT,
                        rating INTEGER,
                        comment TEXT,
                        answered_at INTEGER
                    );
                    CREATE INDEX csat_survey_contact ON csat_survey (org_id, contact_id, created_at);
                    """)
        }
        // The "waiting longest" queue: when the customer's oldest unanswered message arrived. Conversations whose last
        // message is inbound start waiting at their last inbound message (the best the older rows know).
        migrator.registerMigration("v5-waiting") { db in
            try db.execute(
                sql: """
                    ALTER TABLE conversation ADD COLUMN waiting_since INTEGER;
                    UPDATE conversation SET waiting_since = COALESCE(last_inbound_at, last_message_at)
                        WHERE last_message_direction = 'inbound';
                    CREATE INDEX conversation_waiting ON conversation (org_id, archived, waiting_since, id)
                        WHERE waiting_since IS NOT NULL AND deleted_at IS NULL;
                    """)
        }
        // A failed status webhook that arrives before its message is recorded keeps what its code means too.
        migrator.registerMigration("v6-pending-failure-reason") { db in
            try db.execute(sql: "ALTER TABLE pending_delivery ADD COLUMN failure_reason TEXT")
        }
        return migrator
    }
}
