public import GRPCCore
import SwitchboardProtos

extension RPCCaller {
    /// A stream has no deadline: it tails the log until the caller cancels.
    var streamOptions: CallOptions {
        var options = options
        options.timeout = nil
        return options
    }

    /// `Subscribe(after)` on any service's event log (docs/events.md): `call` makes the generated client's call,
    /// every batch is handed to `handle` in order.
    func subscribe(
        after: Int64, orgID: String, maxBatch: Int32, announceHead: Bool = false,
        _ handle: @escaping EventFollower.Handler,
        _ call: (
            ClientRequest<Switchboard_Common_V1_SubscribeRequest>, CallOptions,
            @escaping @Sendable (StreamingClientResponse<Switchboard_Common_V1_EventBatch>) async throws -> Void
        ) async throws -> Void
    ) async throws {
        var request = Switchboard_Common_V1_SubscribeRequest()
        request.afterSequence = after
        request.orgID = orgID
        request.maxBatch = maxBatch
        request.announceHead = announceHead
        try await call(ClientRequest(message: request, metadata: metadata), streamOptions) { response in
            for try await batch in response.messages { try await handle(batch) }
        }
    }
}

extension ContactsClient {
    /// contacts' event log after `after` (-1: from now).
    public func subscribe(
        after: Int64, orgID: String = "", maxBatch: Int32 = 0, _ handle: @escaping EventFollower.Handler
    ) async throws {
        try await caller.subscribe(after: after, orgID: orgID, maxBatch: maxBatch, handle) {
            try await client.subscribe(request: $0, options: $1, onResponse: $2)
        }
    }
}

extension ConversationsClient {
    /// conversations' event log after `after` (-1: from now; with `announceHead`, the first batch is empty and says
    /// in `headSequence` where "now" is).
    public func subscribe(
        after: Int64, orgID: String = "", maxBatch: Int32 = 0, announceHead: Bool = false,
        _ handle: @escaping EventFollower.Handler
    ) async throws {
        try await caller.subscribe(after: after, orgID: orgID, maxBatch: maxBatch, announceHead: announceHead, handle) {
            try await client.subscribe(request: $0, options: $1, onResponse: $2)
        }
    }
}

extension MessagingClient {
    /// messaging's event log after `after` (-1: from now).
    public func subscribe(
        after: Int64, orgID: String = "", maxBatch: Int32 = 0, _ handle: @escaping EventFollower.Handler
    ) async throws {
        try await caller.subscribe(after: after, orgID: orgID, maxBatch: maxBatch, handle) {
            try await client.subscribe(request: $0, options: $1, onResponse: $2)
        }
    }
}
