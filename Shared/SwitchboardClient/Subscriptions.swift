public import GRPCCore
import SwitchboardProtos

extension RPCCaller {
    /// A stream has no deadline: it tails the log until the caller cancels.
    var streamOptions: CallOptions {
        var options = options
        options.timeout = nil
        return options
    }
}

extension ContactsClient {
    /// contacts' event log after `after` (-1: from now), every batch handed to `handle` in order (docs/events.md).
    public func subscribe(
        after: Int64, orgID: String = "", maxBatch: Int32 = 0, _ handle: @escaping EventFollower.Handler
    ) async throws {
        var request = Switchboard_Common_V1_SubscribeRequest()
        request.afterSequence = after
        request.orgID = orgID
        request.maxBatch = maxBatch
        try await client.subscribe(
            request: ClientRequest(message: request, metadata: caller.metadata), options: caller.streamOptions
        ) { response in
            for try await batch in response.messages { try await handle(batch) }
        }
    }
}

extension ConversationsClient {
    /// conversations' event log after `after` (-1: from now), every batch handed to `handle` in order.
    public func subscribe(
        after: Int64, orgID: String = "", maxBatch: Int32 = 0, _ handle: @escaping EventFollower.Handler
    ) async throws {
        var request = Switchboard_Common_V1_SubscribeRequest()
        request.afterSequence = after
        request.orgID = orgID
        request.maxBatch = maxBatch
        try await client.subscribe(
            request: ClientRequest(message: request, metadata: caller.metadata), options: caller.streamOptions
        ) { response in
            for try await batch in response.messages { try await handle(batch) }
        }
    }
}

extension MessagingClient {
    /// messaging's event log after `after` (-1: from now), every batch handed to `handle` in order.
    public func subscribe(
        after: Int64, orgID: String = "", maxBatch: Int32 = 0, _ handle: @escaping EventFollower.Handler
    ) async throws {
        var request = Switchboard_Common_V1_SubscribeRequest()
        request.afterSequence = after
        request.orgID = orgID
        request.maxBatch = maxBatch
        try await client.subscribe(
            request: ClientRequest(message: request, metadata: caller.metadata), options: caller.streamOptions
        ) { response in
            for try await batch in response.messages { try await handle(batch) }
        }
    }
}
