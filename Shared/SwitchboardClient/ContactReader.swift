public import ContactsKit
public import GRPCCore
public import ServiceKit

/// Reads single contacts, folding the reads that arrive while one is in flight into one `BatchGetContacts`
/// (see `Batcher`): under load the per-RPC cost of the gRPC hop is shared, and each read is still sent after it
/// was asked for, so it sees every write that finished before it.
public final class ContactReader<Transport: ClientTransport>: Sendable {
    private let batcher: Batcher<(orgID: String, id: String), Contact?>

    public init(client: ContactsClient<Transport>, maxBatch: Int = 256) {
        batcher = Batcher(maxBatch: maxBatch) { keys throws(ServiceFailure) in
            try await client.batchGet(keys).map { .success($0) }
        }
    }

    /// The contact, or `contact_not_found` as `ServiceFailure` like `ContactsClient.get`.
    public func get(orgID: String, id: String) async throws(ServiceFailure) -> Contact {
        guard let contact = try await batcher.submit((orgID, id)) else {
            throw ServiceFailure.notFound("contact_not_found", "no such contact")
        }
        return contact
    }
}
