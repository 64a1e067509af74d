import ContactsKit

/// Domain values as the public JSON the REST API documents.
enum Render {
    static func actor(_ actor: Actor?) -> JSONValue {
        guard let actor else { return .null }
        return .object([("kind", .string(actor.kind)), ("id", .string(actor.id)), ("name", .string(actor.name))])
    }

    static func proof(_ proof: ConsentProof?) -> JSONValue {
        guard let proof else { return .null }
        return .object([
            ("timestamp", .time(proof.at)), ("actor", actor(proof.actor)), ("importJobId", .string(proof.importJobID)),
            ("messageId", .string(proof.messageID)), ("note", .string(proof.note)),
        ])
    }

    /// Stored JSON text back as a value (an empty object when it is not valid JSON).
    static func rawJSON(_ text: String) -> JSONValue {
        if text == "{}" || text.isEmpty { return .object([]) }
        return (try? JSONValue.parse(Array(text.utf8))) ?? .object([])
    }

    static func contact(_ contact: Contact) -> JSONValue {
        .object([
            ("id", .string(contact.id)), ("phone", .string(contact.phone)),
            ("whatsappUserId", .string(contact.whatsappUserID)),
            ("whatsappUsername", .string(contact.whatsappUsername)), ("name", .string(contact.name)),
            ("email", .string(contact.email)), ("tags", .array(contact.tags.map(JSONValue.string))),
            ("attributes", rawJSON(contact.attributesJSON)), ("optedIn", .bool(contact.optedIn)),
            ("optInSource", .string(contact.optInSource)), ("optInProof", proof(contact.optInProof)),
            ("createdAt", .time(contact.createdAt)), ("updatedAt", .time(contact.updatedAt)),
        ])
    }

    static func list<Item>(_ page: Page<Item>, _ render: (Item) -> JSONValue) -> JSONValue {
        .object([("data", .array(page.items.map(render))), ("nextCursor", .string(page.nextCursor))])
    }

    static func consent(_ entry: ConsentEntry) -> JSONValue {
        .object([
            ("id", .string(entry.id)), ("optedIn", .bool(entry.optedIn)), ("source", .string(entry.source)),
            ("proof", proof(entry.proof)), ("recordedAt", .time(entry.recordedAt)),
        ])
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        .object([
            ("id", .string(entry.id)), ("action", .string(entry.action)), ("actor", actor(entry.actor)),
            ("at", .time(entry.at)), ("changes", rawJSON(entry.changesJSON)),
        ])
    }

    static func rule(_ rule: AutoTagRule) -> JSONValue {
        .object([
            ("id", .string(rule.id)), ("matchType", .string(rule.matchType)), ("keyword", .string(rule.keyword)),
            ("tag", .string(rule.tag)), ("enabled", .bool(rule.enabled)), ("createdAt", .time(rule.createdAt)),
            ("updatedAt", .time(rule.updatedAt)),
        ])
    }

    static func mapping(_ columns: [ImportColumn]) -> JSONValue {
        .object(columns.map { ($0.header.isEmpty ? "column \($0.index + 1)" : $0.header, .string($0.field)) })
    }

    /// A job in the list: everything but the preview and the mapping (GET one job for those).
    static func importSummary(_ job: ImportJob) -> JSONValue {
        .object([
            ("id", .string(job.id)), ("status", .string(job.status.rawValue)), ("fileName", .string(job.fileName)),
            ("sizeBytes", .int(job.sizeBytes)), ("totalRows", .int(job.totalRows)),
            ("processedRows", .int(job.processedRows)), ("created", .int(job.created)),
            ("updated", .int(job.updated)), ("unchanged", .int(job.unchanged)), ("failed", .int(job.failed)),
            ("createdAt", .time(job.createdAt)), ("startedAt", .time(job.startedAt)),
            ("finishedAt", .time(job.finishedAt)), ("error", .string(job.error)),
        ])
    }

    static func importJob(_ job: ImportJob) -> JSONValue {
        .object([
            ("id", .string(job.id)), ("status", .string(job.status.rawValue)), ("fileName", .string(job.fileName)),
            ("sizeBytes", .int(job.sizeBytes)), ("totalRows", .int(job.totalRows)),
            ("processedRows", .int(job.processedRows)), ("created", .int(job.created)),
            ("updated", .int(job.updated)), ("unchanged", .int(job.unchanged)), ("failed", .int(job.failed)),
            (
                "preview",
                .object([
                    ("headers", .array(job.preview.headers.map(JSONValue.string))),
                    ("rows", .array(job.preview.rows.map { .array($0.map(JSONValue.string)) })),
                    ("suggestedMapping", mapping(job.preview.suggestedMapping)),
                ])
            ),
            ("mapping", mapping(job.mapping)), ("createdAt", .time(job.createdAt)), ("startedAt", .time(job.startedAt)),
            ("finishedAt", .time(job.finishedAt)), ("error", .string(job.error)),
        ])
    }
}
