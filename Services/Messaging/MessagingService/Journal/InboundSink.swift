import GRPCCore
import ServiceKit

/// Where parsed webhooks go: the contacts service resolves the sender, the conversations service records the
/// message or the delivery status. A protocol so the processor can be driven against in-process services.
protocol InboundSink: Sendable {
    /// Resolves the sender's contact and records the message in its conversation.
    func deliver(_ message: ParsedMessage, orgID: String, channelID: String, medium: String, receivedAt: Millis)
        async throws(ServiceFailure)
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
