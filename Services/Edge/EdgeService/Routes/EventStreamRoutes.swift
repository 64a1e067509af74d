import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import ServiceLifecycle
import ServiceKit
import SwitchboardClient
import SwitchboardProtos

/// `GET /api/whatsapp-api/events/stream`: Server-Sent Events for the console, from the conversations event log
/// (docs/events.md). Each connection follows the log for the caller's organisation from its `Last-Event-ID` (a
/// log sequence) or from now; when the log's service goes away the stream ends and the browser reconnects with the
/// last id it saw, so nothing is missed.
struct EventStreamRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = ContactsRoutes.prefix
        registry.add(
            RouteSpec(
                .get, "\(p)/events/stream", "eventStream",
                "Live updates (text/event-stream): conversation.updated, message.created, message.status",
                tag: "Conversations",
                query: [("access_token", "the API key, for clients that cannot send headers (EventSource)", false)],
                response: "event-stream", errors: [400]), on: group, prefix: p, stream)
    }

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    @Sendable func stream(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var after: Int64 = -1
        if let raw = request.headers[Self.lastEventID] ?? request.query("lastEventId") {
            guard let sequence = Int64(raw.trimmingCharacters(in: .whitespaces)), sequence >= 0 else {
                throw APIError(.badRequest, "invalid_last_event_id", "Last-Event-ID must be an id this stream sent")
            }
            after = sequence
        }
        let conversations = deps.conversations
        let orgID = caller.orgID
        let start = after
        let body = ResponseBody { writer in
            let (lines, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(10_000))
            let pump = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try? await conversations.subscribe(after: start, orgID: orgID) { batch in
                            var buffer = ByteBuffer()
                            for event in batch.events { Self.write(event, to: &buffer) }
                            if buffer.readableBytes > 0 { continuation.yield(buffer) }
                        }
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(15))
                            continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    await group.next()
                    group.cancelAll()
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in pump.cancel() }
            do {
                // Edge shutting down ends the stream (the browser reconnects to the next edge with Last-Event-ID).
                try await withGracefulShutdownHandler {
                    try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
                    for await buffer in lines { try await writer.write(buffer) }
                } onGracefulShutdown: {
                    continuation.finish()
                }
                pump.cancel()
                try await writer.finish(nil)
            } catch {
                pump.cancel()
                throw error
            }
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: body)
    }

    /// One event in the SSE format, or nothing for an event the console does not follow.
    static func write(_ event: Switchboard_Common_V1_Event, to buffer: inout ByteBuffer) {
        let name: String
        switch event.type {
        case "message.received", "message.sent": name = "message.created"
        case "message.status": name = "message.status"
        case let type where type.hasPrefix("conversation."): name = "conversation.updated"
        default: return
        }
        var data = "{\"type\":" + EventPayload.quoted(event.type) + ",\"at\":"
            + EventPayload.quoted(RFC3339.string(millis: event.occurredAt.millis))
        let payload = event.payloadJson.trimmingCharacters(in: .whitespacesAndNewlines)
        if payload.hasPrefix("{"), payload.count > 2 {
            data += "," + payload.dropFirst()
        } else {
            data += "}"
        }
        buffer.writeString("id: \(event.sequence)\nevent: \(name)\ndata: \(data)\n\n")
    }
}
