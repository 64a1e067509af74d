public import GRPCCore
public import ServiceKit
import SwiftProtobuf
import SwitchboardProtos

/// The analytics service: a contact's timeline and the reports, each answered as the REST API's JSON text.
public struct AnalyticsClient<Transport: ClientTransport>: Sendable {
    let client: Switchboard_Analytics_V1_AnalyticsService.Client<Transport>
    let caller: RPCCaller

    public init(_ grpc: GRPCClient<Transport>, caller: RPCCaller) {
        client = .init(wrapping: grpc)
        self.caller = caller
    }

    public func timeline(orgID: String, contactID: String, kinds: [String], cursor: String?, limit: Int)
        async throws(ServiceFailure) -> String
    {
        let request = Switchboard_Analytics_V1_TimelineRequest.with {
            $0.orgID = orgID
            $0.contactID = contactID
            $0.kinds = kinds
            $0.cursor = cursor ?? ""
            $0.limit = Int32(limit)
        }
        return try await caller.call("Timeline", idempotent: true) { metadata, options in
            try await client.timeline(request, metadata: metadata, options: options)
        }.json
    }

    public enum Report: Sendable { case csat, ctwa, overview }

    public func report(_ report: Report, orgID: String, from: String?, to: String?) async throws(ServiceFailure) -> String {
        let request = Switchboard_Analytics_V1_ReportRequest.with {
            $0.orgID = orgID
            $0.from = from ?? ""
            $0.to = to ?? ""
        }
        return try await caller.call("Report", idempotent: true) { metadata, options in
            switch report {
            case .csat: try await client.csat(request, metadata: metadata, options: options)
            case .ctwa: try await client.ctwa(request, metadata: metadata, options: options)
            case .overview: try await client.overview(request, metadata: metadata, options: options)
            }
        }.json
    }
}
