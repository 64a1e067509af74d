import ConversationsKit
import Foundation
import GRPCCore
import Hummingbird
import HTTPTypes
import ServiceKit
import SwitchboardClient

/// `/api/whatsapp-api/conversations…`: the inbox, a conversation's messages, assignment, status and bulk actions.
struct ConversationsRoutes {
    let deps: EdgeDependencies

    static let filterParameters = [
        ("status", "OPEN, ASSIGNED, RESOLVED, BOT_ACTIVE, AI_ACTIVE (repeatable or comma-separated)", true),
        ("assignee", "me, unassigned or an agent id", false), ("channel", "whatsapp or sms", false),
        ("channelId", "one channel", false), ("starred", "true or false", false),
        ("archived", "true or false (archived conversations are hidden unless given)", false),
        ("unread", "true or false", false), ("q", "fragment of the contact's name or phone", false),
        ("contactId", "one contact's conversations", false), ("deleted", "true: the restorable trash", false),
    ]

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        let t = "Conversations"
        registry.add(
            RouteSpec(
                .get, "\(p)/conversations", "listConversations",
                "The inbox, filtered: newest activity first, or (sort=waiting) the customers waiting for a reply, longest first",
                tag: t,
                query: Self.filterParameters + [
                    ("sort", "activity (default: newest activity first) or waiting (waiting longest first)", false),
                    ("cursor", "from nextCursor", false), ("limit", "1–200", false),
                ],
                response: "ConversationList", errors: [400]), on: group, prefix: p, list)
        registry.add(
            RouteSpec(
                .get, "\(p)/conversations/count", "countConversations",
                "How many conversations the inbox lists for a filter over all its pages (sort=waiting: how many of them wait)",
                tag: t,
                query: Self.filterParameters + [
                    ("sort", "activity (default) or waiting (count only the customers waiting for a reply)", false)
                ],
                response: "ConversationCount", errors: [400]), on: group, prefix: p, count)
        registry.add(
            RouteSpec(
                .post, "\(p)/conversations/bulk", "bulkConversations",
                "mark_read, star, unstar, archive, unarchive, delete, restore — on ids or on every match of a filter",
                tag: t, body: .json("BulkInput"), response: "BulkResult", errors: [400]), on: group, prefix: p, bulk)
        registry.add(
            RouteSpec(.get, "\(p)/conversations/{id}", "getConversation", "Get a conversation", tag: t,
                      response: "Conversation", errors: [404]), on: group, prefix: p, get)
        registry.add(
            RouteSpec(
                .get, "\(p)/conversations/{id}/messages", "listMessages", "A conversation's messages, newest first",
                tag: t, query: [("cursor", "from nextCursor", false), ("limit", "1–200", false)],
                response: "MessageList", errors: [400, 404]), on: group, prefix: p, messages)
        registry.add(
            RouteSpec(
                .patch, "\(p)/conversations/{id}", "updateConversation", "Change status, starred or archived", tag: t,
                body: .json("ConversationPatch", required: false), response: "Conversation", errors: [400, 404, 409]),
            on: group, prefix: p, update)
        registry.add(
            RouteSpec(.post, "\(p)/conversations/{id}/assign", "assignConversation", "Assign to an agent", tag: t,
                      body: .json("AssignInput"), response: "Conversation", errors: [400, 404, 409]),
            on: group, prefix: p, assign)
        for (action, summary) in [
            ("unassign", "Unassign (back to OPEN)"), ("resolve", "Resolve"), ("reopen", "Reopen a resolved conversation"),
            ("read", "Mark read (unreadCount 0)"), ("restore", "Restore a deleted conversation"),
        ] {
            registry.add(
                RouteSpec(.post, "\(p)/conversations/{id}/\(action)", "\(action)Conversation", summary, tag: t,
                          response: "Conversation", errors: [404, 409]),
                on: group, prefix: p, { request, context in try await self.action(action, context) })
        }
        registry.add(
            RouteSpec(.delete, "\(p)/conversations/{id}", "deleteConversation",
                      "Delete (soft: restorable for 30 days)", tag: t, status: 204, errors: [404]),
            on: group, prefix: p, delete)
    }

    // MARK: handlers

    @Sendable func list(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let filter = try Self.filter(caller: caller) { request.queryValues($0).filter { !$0.isEmpty } }
        let sort = try Self.sort(request)
        let page = try await deps.conversations.list(
            orgID: caller.orgID, filter: filter, sort: sort, cursor: request.query("cursor"),
            limit: try request.pageLimit())
        return .json(Render.list(page, Self.render))
    }

    /// `GET …/conversations/count`: the list's filter and sort, answered `{"count": N}`.
    @Sendable func count(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let filter = try Self.filter(caller: caller) { request.queryValues($0).filter { !$0.isEmpty } }
        let count = try await deps.conversations.count(orgID: caller.orgID, filter: filter, sort: try Self.sort(request))
        return .json(.object([("count", .int(Int64(count)))]))
    }

    static func sort(_ request: Request) throws(APIError) -> InboxSort {
        guard let raw = request.query("sort"), !raw.isEmpty else { return .activity }
        guard let value = InboxSort(rawValue: raw) else {
            throw APIError(
                .badRequest, "invalid_query", "sort is activity or waiting (got '\(Echo.short(raw))')",
                details: [("parameter", .string("sort"))])
        }
        return value
    }

    @Sendable func get(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        return .json(Self.render(try await deps.conversations.get(orgID: caller.orgID, id: try context.id(notFound: "conversation"))))
    }

    @Sendable func messages(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let page = try await deps.conversations.messages(
            orgID: caller.orgID, conversationID: try context.id(notFound: "conversation"), cursor: request.query("cursor"),
            limit: try request.pageLimit())
        return .json(Render.list(page, Self.render))
    }

    @Sendable func update(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "conversation")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["status", "starred", "archived"])
        let status = try body.string("status").map { raw throws(APIError) in
            guard let status = ConversationStatus(rawValue: raw.uppercased()) else {
                throw APIError(
                    .badRequest, "invalid_field", "status must be OPEN, RESOLVED, BOT_ACTIVE or AI_ACTIVE", field: "status")
            }
            guard status != .assigned else {
                throw APIError(.conflict, "invalid_transition", "ASSIGNED is set by assigning an agent (POST …/assign)")
            }
            return status
        }
        let starred = try body.bool("starred")
        let archived = try body.bool("archived")
        if let starred {
            _ = try await deps.conversations.bulk(
                orgID: caller.orgID, action: starred ? .star : .unstar, ids: [id], filter: nil, actor: caller.actor)
        }
        if let archived {
            _ = try await deps.conversations.bulk(
                orgID: caller.orgID, action: archived ? .archive : .unarchive, ids: [id], filter: nil, actor: caller.actor)
        }
        if let status {
            return .json(Self.render(try await deps.conversations.setStatus(orgID: caller.orgID, id: id, status: status, actor: caller.actor)))
        }
        return .json(Self.render(try await deps.conversations.get(orgID: caller.orgID, id: id)))
    }

    @Sendable func assign(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let id = try context.id(notFound: "conversation")
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["agentId"])
        guard var agentID = try body.string("agentId"), !agentID.isEmpty else {
            throw APIError(.badRequest, "missing_field", "'agentId' is required (an agent id or \"me\")", field: "agentId")
        }
        if agentID == "me" {
            guard let own = caller.agentID else {
                throw APIError(.badRequest, "no_agent", "this API key acts as no agent; give an agent id", field: "agentId")
            }
            agentID = own
        }
        guard agentID.count <= 64, try await deps.store.agent(orgID: caller.orgID, id: agentID) != nil else {
            throw APIError.notFound("agent")
        }
        return .json(Self.render(try await deps.conversations.assign(orgID: caller.orgID, id: id, agentID: agentID, actor: caller.actor)))
    }

    func action(_ action: String, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.id(notFound: "conversation")
        let conversations = deps.conversations
        switch action {
        case "unassign":
            return .json(Self.render(try await conversations.assign(orgID: caller.orgID, id: id, agentID: nil, actor: caller.actor)))
        case "resolve":
            return .json(Self.render(try await conversations.setStatus(orgID: caller.orgID, id: id, status: .resolved, actor: caller.actor)))
        case "reopen":
            return .json(Self.render(try await conversations.setStatus(orgID: caller.orgID, id: id, status: .open, actor: caller.actor)))
        default:
            let bulk: BulkAction = action == "read" ? .markRead : .restore
            let affected = try await conversations.bulk(orgID: caller.orgID, action: bulk, ids: [id], filter: nil, actor: caller.actor)
            let conversation = try await conversations.get(orgID: caller.orgID, id: id)
            if bulk == .restore, affected == 0, conversation.deletedAt != nil {
                throw APIError(
                    .conflict, "conversation_open_exists",
                    "the contact has another open conversation on this channel (or the 30 days have passed)")
            }
            return .json(Self.render(conversation))
        }
    }

    @Sendable func delete(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.id(notFound: "conversation")
        _ = try await deps.conversations.get(orgID: caller.orgID, id: id)
        _ = try await deps.conversations.bulk(orgID: caller.orgID, action: .delete, ids: [id], filter: nil, actor: caller.actor)
        return .noContent()
    }

    @Sendable func bulk(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var request = request
        let body = try JSONObject(body: try await request.bodyBytes(), allowed: ["action", "ids", "filter"])
        guard let raw = try body.string("action"), let action = BulkAction(rawValue: raw) else {
            throw APIError(
                .badRequest, "invalid_field",
                "action must be one of \(BulkAction.allCases.map(\.rawValue).joined(separator: ", "))", field: "action")
        }
        let ids = try body.strings("ids")
        // A null filter is no filter (not "every conversation").
        let filterObject = body.isNull("filter") ? nil : try body.object("filter")
        guard (ids == nil) != (filterObject == nil) else {
            throw APIError(.badRequest, "invalid_field", "give either 'ids' or 'filter'", field: "ids")
        }
        var filter: InboxFilter?
        if case .object(let pairs)? = filterObject {
            let allowed = Set(Self.filterParameters.map(\.0))
            var values: [String: [String]] = [:]
            for (key, value) in pairs {
                guard allowed.contains(key) else {
                    throw APIError(.badRequest, "unknown_field", "unknown filter '\(Echo.short(key))'", field: "filter.\(Echo.short(key))")
                }
                switch value {
                case .string(let text): values[key] = [text]
                case .bool(let flag) where OpenAPIParameters.flags.contains(key): values[key] = [flag ? "true" : "false"]
                case .array(let items):
                    values[key] = try items.map { item throws(APIError) in
                        guard case .string(let text) = item else {
                            throw APIError(.badRequest, "invalid_field", "filter.\(key) must hold strings", field: "filter.\(key)")
                        }
                        return text
                    }
                case .null: continue
                default:
                    throw APIError(.badRequest, "invalid_field", "filter.\(key) has the wrong type", field: "filter.\(key)")
                }
            }
            filter = try Self.filter(caller: caller) { values[$0] ?? [] }
        }
        let affected = try await deps.conversations.bulk(
            orgID: caller.orgID, action: action, ids: ids, filter: filter, actor: caller.actor)
        return .json(.object([("affected", .int(Int64(affected)))]))
    }

    // MARK: filters and renderings

    /// The inbox filter from query parameters (or a bulk body's `filter`, given the same way).
    static func filter(caller: Caller, _ values: (String) -> [String]) throws(APIError) -> InboxFilter {
        func invalid(_ name: String, _ message: String) -> APIError {
            APIError(.badRequest, "invalid_query", message, details: [("parameter", .string(name))])
        }
        func bool(_ name: String) throws(APIError) -> Bool? {
            guard let raw = values(name).last else { return nil }
            switch raw.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw invalid(name, "'\(name)' must be true or false")
            }
        }
        var filter = InboxFilter()
        for raw in values("status").flatMap({ $0.split(separator: ",") }) {
            let name = raw.trimmingCharacters(in: .whitespaces).uppercased()
            guard let status = ConversationStatus(rawValue: name) else {
                throw invalid("status", "status must be OPEN, ASSIGNED, RESOLVED, BOT_ACTIVE or AI_ACTIVE")
            }
            if !filter.statuses.contains(status) { filter.statuses.append(status) }
        }
        if let assignee = values("assignee").last {
            switch assignee {
            case "me":
                guard let agentID = caller.agentID else {
                    throw invalid("assignee", "assignee=me needs an API key that acts as an agent (agentId)")
                }
                filter.assignee = .agent(agentID)
            case "unassigned": filter.assignee = .unassigned
            default:
                guard assignee.count <= 64 else { throw invalid("assignee", "assignee is not an agent id") }
                filter.assignee = .agent(assignee)
            }
        }
        if let channel = values("channel").last {
            guard let medium = Medium(rawValue: channel.lowercased()) else {
                throw invalid("channel", "channel must be whatsapp or sms")
            }
            filter.medium = medium
        }
        if let channelID = values("channelId").last {
            guard channelID.count <= 64 else { throw invalid("channelId", "channelId is not a channel id") }
            filter.channelID = channelID
        }
        filter.starred = try bool("starred")
        filter.archived = try bool("archived")
        filter.unread = try bool("unread")
        filter.deleted = try bool("deleted") ?? false
        if let query = values("q").last?.trimmingCharacters(in: .whitespaces), !query.isEmpty {
            guard query.count <= 100 else { throw invalid("q", "q is at most 100 characters") }
            filter.query = query
        }
        if let contactID = values("contactId").last {
            guard contactID.count <= 64 else { throw invalid("contactId", "contactId is not a contact id") }
            filter.contactID = contactID
        }
        return filter
    }

    static func render(_ conversation: Conversation) -> JSONValue {
        let window: JSONValue = conversation.window.map { window in
            .object([("open", .bool(window.open)), ("expiresAt", .time(window.expiresAt))])
        } ?? .null
        let last: JSONValue = conversation.lastMessage.map { preview in
            .object([
                ("id", .string(preview.id)), ("direction", .string(preview.direction.rawValue)),
                ("type", .string(preview.type)), ("text", .string(preview.text)), ("at", .time(preview.at)),
            ])
        } ?? .null
        return .object([
            ("id", .string(conversation.id)),
            ("contact", .object([
                ("id", .string(conversation.contact.id)), ("name", .string(conversation.contact.name)),
                ("phone", .string(conversation.contact.phone)),
                ("whatsappUsername", .string(conversation.contact.whatsappUsername)),
            ])),
            ("channelId", .string(conversation.channelID)), ("channel", .string(conversation.medium.rawValue)),
            ("status", .string(conversation.status.rawValue)), ("assigneeId", .string(conversation.assigneeID)),
            ("lastActivityAt", .time(conversation.lastActivityAt)), ("lastInboundAt", .time(conversation.lastInboundAt)),
            ("unreadCount", .int(Int64(conversation.unreadCount))), ("starred", .bool(conversation.starred)),
            ("archived", .bool(conversation.archived)), ("window", window), ("lastMessage", last),
            ("createdAt", .time(conversation.createdAt)), ("resolvedAt", .time(conversation.resolvedAt)),
            ("deletedAt", .time(conversation.deletedAt)),
            ("replyChannel", .string((conversation.replyMedium ?? conversation.medium).rawValue)),
            ("replyChannelId", .string(conversation.replyChannelID ?? conversation.channelID)),
            ("waitingSince", .time(conversation.waitingSince)),
        ])
    }

    static func render(_ message: Message) -> JSONValue {
        let error: JSONValue =
            message.errorCode == nil && message.errorText == nil
            ? .null
            : .object([
                ("code", .string(message.errorCode)), ("message", .string(message.errorText)),
                ("reason", .string(message.failureReason)),
            ])
        return .object([
            ("id", .string(message.id)), ("conversationId", .string(message.conversationID)),
            ("contactId", .string(message.contactID)), ("channelId", .string(message.channelID)),
            ("direction", .string(message.direction.rawValue)), ("type", .string(message.type)),
            ("text", .string(message.text)), ("content", Render.rawJSON(message.contentJSON)),
            ("providerMessageId", .string(message.providerMessageID)), ("status", .string(message.status.rawValue)),
            ("error", error), ("replyTo", .string(message.replyToProviderID)), ("forwarded", .bool(message.forwarded)),
            ("sentAt", .time(message.sentAt)), ("recordedAt", .time(message.recordedAt)),
            ("statusAt", .time(message.statusAt)), ("senderAgentId", .string(message.senderAgentID)),
        ])
    }
}
