import Hummingbird
import Logging
import MessagingKit
import SwitchboardClient

/// The operator's remedy when one organisation holds another's WhatsApp phone number id: releasing it removes
/// the channel that claimed it (whichever organisation that is), so the rightful one can connect it.
struct AdminNumbersRoutes {
    let deps: EdgeDependencies

    func register(on group: RouterGroup<EdgeRequestContext>, registry: RouteRegistry) {
        let p = AdminRoutes.prefix
        registry.add(
            RouteSpec(
                .delete, "\(p)/whatsapp-numbers/{phoneNumberId}", "releaseWhatsAppNumber",
                "Release a WhatsApp phone number id: delete the channel holding it, in any organisation",
                tag: "Organizations", auth: .operatorKey, status: 204, errors: [404]),
            on: group, prefix: p, release)
    }

    @Sendable func release(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        let number = try context.id("phoneNumberId", notFound: "phone_number")
        for org in try await deps.store.organizations() {
            let channels = try await deps.messaging.channels(orgID: org.id)
            for channel in channels where channel.kind == .whatsappCloud && channel.settings[.phoneNumberID] == number {
                try await deps.messaging.deleteChannel(orgID: org.id, id: channel.id)
                deps.logger.notice(
                    "operator released WhatsApp number", metadata: ["org": "\(org.id)", "channel": "\(channel.id)"])
                return .noContent()
            }
        }
        throw APIError.notFound("phone_number")
    }
}
