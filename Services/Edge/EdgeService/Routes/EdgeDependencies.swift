import ContactsKit
import Logging
import ServiceKit
import SwitchboardClient

/// What route handlers use: the typed service clients and edge's own store.
struct EdgeDependencies: Sendable {
    let contacts: ContactsClient<ServiceTransport>
    /// Single-contact reads, batched under load (`GET /contacts/{id}`).
    let contactReader: ContactReader<ServiceTransport>
    let messaging: MessagingClient<ServiceTransport>
    /// Webhooks, folded into one `IngestWebhooks` call while one is in flight.
    let webhooks: Batcher<MessagingClient<ServiceTransport>.Webhook, String>
    let conversations: ConversationsClient<ServiceTransport>
    /// The one follower of the conversations log behind every `GET /events/stream`.
    let events: EventHub
    let analytics: AnalyticsClient<ServiceTransport>
    let store: EdgeStore
    let authenticator: APIKeyAuthenticator
    let health: [(ServiceName, HealthClient<ServiceTransport>)]
    /// Where providers reach edge (`SWITCHBOARD_PUBLIC_URL`): Twilio signs this URL.
    let publicURL: String
    let logger: Logger
}
