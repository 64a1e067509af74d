import ContactsKit
import Foundation
import Hummingbird
import HTTPTypes
import SwitchboardClient
import ServiceKit

/// `/api/whatsapp-api/contacts…` and `/tags`: create, read, search, edit, delete, tags, consent, audit.
struct ContactsRoutes {
    let deps: EdgeDependencies
    static let prefix = "/api/whatsapp-api"
    static let contactFields: Set<String> = [
        "phone", "name", "email", "optedIn", "tags", "attributes", "whatsappUserId", "whatsappUsername",
    ]

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = Self.prefix
        registry.add(
            RouteSpec(
                .post, "\(p)/contacts", "createContact", "Create a contact (or update it with ?upsert=true)",
                tag: "Contacts", body: .json("ContactInput"),
                query: [("upsert", "true: update the contact holding this phone instead of answering 409", false)],
                status: 201, alsoStatus: [200], response: "Contact", errors: [400, 409, 413]), on: group, prefix: p, create)
        registry.add(
            RouteSpec(
                .get, "\(p)/contacts", "listContacts", "Search and list contacts, newest first", tag: "Contacts",
                query: [
                    ("q", "fragment of name, phone or email", false), ("tag", "carries this tag (repeatable)", true),
                    ("optedIn", "true or false", false), ("cursor", "nextCursor of the previous page", false),
                    ("limit", "1–200, default 50", false),
                ], response: "ContactList", errors: [400]), on: group, prefix: p, list)
        registry.add(
            RouteSpec(.get, "\(p)/contacts/{id}", "getContact", "Get a contact", tag: "Contacts", response: "Contact",
                      errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(
                .patch, "\(p)/contacts/{id}", "updateContact", "Change some fields of a contact (null clears)",
                tag: "Contacts", body: .json("ContactPatch", required: false), response: "Contact", errors: [400, 404, 409]),
            on: group, prefix: p, update)
        registry.add(
            RouteSpec(.delete, "\(p)/contacts/{id}", "deleteContact", "Delete a contact", tag: "Contacts",
                      status: 204, errors: [404]), on: group, prefix: p, delete)
        registry.add(
            RouteSpec(
                .post, "\(p)/contacts/{id}/tags", "addTags", "Add tags to a contact", tag: "Tags",
                body: .json("TagsInput"), response: "Contact", errors: [400, 404]), on: group, prefix: p, addTags)
        registry.add(
            RouteSpec(
                .delete, "\(p)/contacts/{id}/tags/{tag}", "removeTag", "Remove a tag from a contact", tag: "Tags",
                response: "Contact", errors: [400, 404]), on: group, prefix: p, removeTag)
        registry.add(
            RouteSpec(.get, "\(p)/tags", "listTags", "Every tag in use with its number of contacts", tag: "Tags",
                      response: "TagList"), on: group, prefix: p, tags)
        registry.add(
            RouteSpec(
                .post, "\(p)/contacts/{id}/consent", "setConsent", "Record an opt-in or opt-out", tag: "Consent",
                body: .json("ConsentInput"), response: "Contact", errors: [400, 404]), on: group, prefix: p, setConsent)
        registry.add(
            RouteSpec(
                .get, "\(p)/contacts/{id}/consent", "listConsent", "The contact's consent ledger, oldest first",
                tag: "Consent", response: "ConsentList", errors: [404]), on: group, prefix: p, consent)
        registry.add(
            RouteSpec(
                .get, "\(p)/contacts/{id}/audit", "listAudit", "Every change to the contact, newest first",
                tag: "Contacts", query: [("cursor", "", false), ("limit", "1–200", false)], response: "AuditList",
                errors: [400, 404]), on: group, prefix: p, audit)
    }

    /// Reads a contact body: every field optional, wrong types and unknown fields refused.
    static func input(_ body: [UInt8]) throws(APIError) -> ContactInput {
        let object = try JSONObject(body: body, allowed: contactFields)
        var input = ContactInput()
        input.phone = try object.string("phone", nullClears: true)
        input.name = try object.string("name", nullClears: true)
        input.email = try object.string("email", nullClears: true)
        input.whatsappUserID = try object.string("whatsappUserId", nullClears: true)
        input.whatsappUsername = try object.string("whatsappUsername", nullClears: true)
        input.optedIn = try object.bool("optedIn")
        input.tags = try object.strings("tags")
        if let attributes = try object.object("attributes") { input.attributesJSON = attributes.serialized }
        return input
    }

    @Sendable func create(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let input = try Self.input(try await request.bodyBytes())
        let upsert = try request.queryBool("upsert") ?? false
        let result = try await deps.contacts.create(orgID: caller.orgID, input: input, upsert: upsert, actor: caller.actor)
        return .json(Render.contact(result.contact), status: result.created ? .created : .ok)
    }

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var tags = request.queryValues("tag").filter { !$0.isEmpty }
        if let csv = request.query("tags") { tags += csv.split(separator: ",").map(String.init) }
        let query = ContactQuery(
            text: request.query("q"), tags: tags, optedIn: try request.queryBool("optedIn"),
            cursor: request.query("cursor"), limit: try request.pageLimit())
        let page = try await deps.contacts.list(orgID: caller.orgID, query: query)
        return .json(Render.list(page, Render.contact))
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let contact = try await deps.contactReader.get(orgID: caller.orgID, id: try context.id(notFound: "contact"))
        return .json(Render.contact(contact))
    }

    @Sendable func update(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "contact")
        let patch = try Self.input(try await request.bodyBytes())
        let contact = try await deps.contacts.update(orgID: caller.orgID, id: id, patch: patch, actor: caller.actor)
        return .json(Render.contact(contact))
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await deps.contacts.delete(orgID: caller.orgID, id: try context.id(notFound: "contact"), actor: caller.actor)
        return .noContent()
    }

    @Sendable func addTags(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "contact")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["tags"])
        guard let tags = try body.strings("tags") else {
            throw APIError(.badRequest, "missing_field", "'tags' is required", field: "tags")
        }
        let contact = try await deps.contacts.modifyTags(
            orgID: caller.orgID, contactID: id, tags: tags, adding: true, actor: caller.actor)
        return .json(Render.contact(contact))
    }

    @Sendable func removeTag(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.id(notFound: "contact")
        let tag = (context.parameters.get("tag") ?? "").removingPercentEncoding ?? ""
        let contact = try await deps.contacts.modifyTags(
            orgID: caller.orgID, contactID: id, tags: [tag], adding: false, actor: caller.actor)
        return .json(Render.contact(contact))
    }

    @Sendable func tags(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let counts = try await deps.contacts.tagCounts(orgID: caller.orgID)
        return .json(
            .object([("data", .array(counts.map { .object([("tag", .string($0.tag)), ("count", .int($0.count))]) }))]))
    }

    @Sendable func setConsent(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "contact")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["optedIn", "source", "note"])
        guard let optedIn = try body.bool("optedIn") else {
            throw APIError(.badRequest, "missing_field", "'optedIn' is required", field: "optedIn")
        }
        let source = try body.string("source") ?? "api"
        guard source == "agent" || source == "api" else {
            throw APIError(
                .badRequest, "invalid_consent_source", "source must be 'agent' or 'api' on this route", field: "source")
        }
        let contact = try await deps.contacts.setConsent(
            orgID: caller.orgID, contactID: id, optedIn: optedIn, source: source, note: try body.string("note"),
            actor: caller.actor)
        return .json(Render.contact(contact))
    }

    @Sendable func consent(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let entries = try await deps.contacts.consentLedger(
            orgID: caller.orgID, contactID: try context.id(notFound: "contact"))
        return .json(.object([("data", .array(entries.map(Render.consent)))]))
    }

    @Sendable func audit(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let page = try await deps.contacts.audit(
            orgID: caller.orgID, contactID: try context.id(notFound: "contact"), cursor: request.query("cursor"),
            limit: try request.pageLimit())
        return .json(Render.list(page, Render.audit))
    }
}
