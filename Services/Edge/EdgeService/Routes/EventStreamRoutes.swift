import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import ServiceLifecycle
import ServiceKit
import SwitchboardClient
import SwitchboardProtos

/// `GET /api/whatsapp-api/events/stream`: Server-Sent Events for the console, from the conversations event log
/// (docs/events.md), served by the process's `EventHub`. `id:` is an opaque cursor (`EventStreamIDs`); a browser
/// resumes from its `Last-Event-ID`. Capped per key and per organisation (429 `too_many_streams`); a browser that
/// falls too far behind, or whose key is revoked, is cut off; edge shutting down ends every stream.
struct EventStreamRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .get, "\(p)/events/stream", "eventStream",
                "Live updates (text/event-stream): conversation.updated, message.created, message.status",
                tag: "Conversations",
                query: [
                    ("access_token", "the API key, for clients that cannot send headers (EventSource)", false),
                    ("lastEventId", "resume after this event id (as the Last-Event-ID header)", false),
                ],
                response: "event-stream", errors: [400, 429]), on: group, prefix: p, stream)
    }

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    @Sendable func stream(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let hub = deps.events
        var after: Int64?
        if let raw = request.headers[Self.lastEventID] ?? request.query("lastEventId") {
            guard let sequence = hub.ids.sequence(id: raw, orgID: caller.orgID) else {
                throw APIError(.badRequest, "invalid_last_event_id", "Last-Event-ID must be an id this stream sent")
            }
            after = sequence
        }
        let opened: (client: EventStreamClient, replayFrom: Int64?, startID: String?)
        do {
            opened = try hub.open(orgID: caller.orgID, keyID: caller.keyID, agentID: caller.agentID, after: after)
        } catch {
            var response = APIError(
                .tooManyRequests, "too_many_streams",
                "at most \(error.limit) event streams may be open per \(error.scope); close one or retry later",
                details: [("scope", .string(error.scope)), ("limit", .int(Int64(error.limit)))]
            ).response(requestID: nil)
            response.headers[.retryAfter] = String(hub.limits.retryAfterSeconds)
            return response
        }
        let (client, replayFrom, startID) = opened
        let lease = StreamLease(hub: hub, client: client)
        // A stream from now starts with its cursor (an `id:` without data: EventSource records it and dispatches
        // nothing), so a browser cut before any event still resumes with Last-Event-ID.
        let opening = "retry: 2000\n" + (startID.map { "id: \($0)\n" } ?? "") + ": connected\n\n"
        let body = ResponseBody { writer in
            defer { lease.end() }
            try await writer.write(ByteBuffer(string: opening))
            let output = WriterBox(writer)
            // Edge shutting down ends the stream (the browser reconnects to the next edge with Last-Event-ID).
            try await withGracefulShutdownHandler {
                try await Self.pump(client, replayFrom: replayFrom, hub: hub, to: output)
            } onGracefulShutdown: {
                client.end(.finished)
            }
            writer = output.writer
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: body)
    }

    /// Writes what the hub queues for `client` until it ends; throws (closing the connection at once) when the
    /// client is cut off, cancelling a write that a browser which stopped reading would block forever.
    static func pump(_ client: EventStreamClient, replayFrom: Int64?, hub: EventHub, to output: WriterBox) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await chunk in client.chunks {
                    client.sent(chunk)
                    try await output.writer.write(chunk)
                }
                return true
            }
            group.addTask {
                for await _ in client.cuts {}
                if client.ending == .tooSlow || client.ending == .revoked { throw CancellationError() }
                return false
            }
            if let replayFrom {
                group.addTask {
                    await hub.catchUp(client, after: replayFrom)
                    return false
                }
            }
            while let done = try await group.next() {
                if done { break }
            }
            group.cancelAll()
        }
    }

    /// The console's name for an event type; nil for an event the console does not follow.
    static func eventName(_ type: String) -> String? {
        switch type {
        case "message.received", "message.sent": "message.created"
        case "message.status": "message.status"
        case let type where type.hasPrefix("conversation."): "conversation.updated"
        default: nil
        }
    }

    /// One event in the SSE format.
    static func render(_ event: Switchboard_Common_V1_Event, name: String, id: String) -> ByteBuffer {
        var data = "{\"type\":" + EventPayload.quoted(event.type) + ",\"at\":"
            + EventPayload.quoted(RFC3339.string(millis: event.occurredAt.millis))
        let payload = event.payloadJson.trimmingCharacters(in: .whitespacesAndNewlines)
        if payload.hasPrefix("{"), payload.count > 2 {
            data += "," + payload.dropFirst()
        } else {
            data += "}"
        }
        return ByteBuffer(string: "id: \(id)\nevent: \(name)\ndata: \(data)\n\n")
    }
}

/// A stream's place in the hub, given back when the response body ends, or when the response is dropped without
/// its body ever running (the connection gone before the head was written), so that no cap slot leaks.
final class StreamLease: Sendable {
    let hub: EventHub
    let client: EventStreamClient

    init(hub: EventHub, client: EventStreamClient) {
        self.hub = hub
        self.client = client
    }

    func end() { hub.remove(client) }

    deinit { hub.remove(client) }
}

/// The response writer, handed to the task that writes so that a cut-off can cancel a write blocked on a browser
/// that stopped reading. Only one task uses it at a time: the writing task while it runs, the handler after.
final class WriterBox: @unchecked Sendable {
    var writer: any ResponseBodyWriter

    init(_ writer: any ResponseBodyWriter) {
        self.writer = writer
    }
}
