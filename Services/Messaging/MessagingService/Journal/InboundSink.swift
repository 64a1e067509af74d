import GRPCCore
import ServiceKit

/// One parsed message on its way out of the journal, with the channel it arrived on.
struct InboundDelivery: Sendable {
    var message: ParsedMessage
    var orgID: String
    var channelID: String
    var medium: String
    var receivedAt: Millis
}

/// Where parsed webhooks go: the contacts service resolves the senders, the conversations service records the
/// messages or the delivery statuses. A protocol so the processor can be driven against in-process services.
protocol InboundSink: Sendable {
    /// Resolves the senders and records the messages, in order. Answers per message nil (done) or the reason it was
    /// refused for good; throws when the whole batch must be tried again (a service is down or slow).
    func deliver(_ deliveries: [InboundDelivery]) async throws(ServiceFailure) -> [ServiceFailure?]
    func apply(_ status: ParsedStatus, orgID: String, channelID: String, receivedAt: Millis) async throws(ServiceFailure)
}

extension ServiceFailure {
    /// Whether trying again later can succeed (the service was down or slow), as opposed to a refusal.
    var isTransient: Bool {
        switch code {
        case .unavailable, .deadlineExceeded, .cancelled, .resourceExhausted, .aborted, .unknown, .internalError:
            return true
        default:
            return false
        }
    }
}
