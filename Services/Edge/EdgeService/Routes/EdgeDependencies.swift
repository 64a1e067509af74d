import ContactsKit
import ServiceKit
import SwitchboardClient
import SwitchboardClient

/// What route handlers use: the typed service clients and edge's own store.
struct EdgeDependencies: Sendable {
    let contacts: ContactsClient<ServiceTransport>
    /// Single-contact reads, batched under load (`GET /contacts/{id}`).
    let contactReader: ContactReader<ServiceTransport>
    let store: EdgeStore
    let authenticator: APIKeyAuthenticator
    let health: [(ServiceName, HealthClient<ServiceTransport>)]
}
