import Foundation
public import GRPCCore
import ServiceKit
import SwiftProtobuf
public import SwitchboardProtos

/// The analytics gRPC service: the timeline and the reports as the REST API's JSON documents.
public struct AnalyticsAPI: Switchboard_Analytics_V1_AnalyticsService.SimpleServiceProtocol {
    let store: AnalyticsStore

    public init(store: AnalyticsStore) {
        self.store = store
    }

    public func timeline(
        request: Switchboard_Analytics_V1_TimelineRequest, context: ServerContext
    ) async throws -> Switchboard_Analytics_V1_Report {
        guard !request.contactID.isEmpty else {
            throw ServiceFailure.invalid("invalid_field", "contact_id is required", field: "contactId")
        }
        let json = try await store.timeline(
            orgID: try requireOrg(request.orgID), contactID: request.contactID, kinds: request.kinds,
            cursor: request.cursor, limit: request.limit)
        return .with { $0.json = json }
    }

    public func csat(
        request: Switchboard_Analytics_V1_ReportRequest, context: ServerContext
    ) async throws -> Switchboard_Analytics_V1_Report {
        try await report(request, store.csatReport(orgID:from:to:))
    }

    public func ctwa(
        request: Switchboard_Analytics_V1_ReportRequest, context: ServerContext
    ) async throws -> Switchboard_Analytics_V1_Report {
        try await report(request, store.ctwaReport(orgID:from:to:))
    }

    public func overview(
        request: Switchboard_Analytics_V1_ReportRequest, context: ServerContext
    ) async throws -> Switchboard_Analytics_V1_Report {
        try await report(request, store.overviewReport(orgID:from:to:))
    }

    /// A report over the request's organisation and period.
    private func report(
        _ request: Switchboard_Analytics_V1_ReportRequest,
        _ make: (_ orgID: String, _ from: String, _ to: String) async throws -> String
    ) async throws -> Switchboard_Analytics_V1_Report {
        let json = try await make(try requireOrg(request.orgID), request.from, request.to)
        return .with { $0.json = json }
    }

    public func progress(
        request: Switchboard_Analytics_V1_ProgressRequest, context: ServerContext
    ) async throws -> Switchboard_Analytics_V1_ProgressResponse {
        let sources = try await store.progress()
        return .with {
            $0.sources = sources.map { source in
                .with {
                    $0.source = source.source
                    $0.sequence = source.sequence
                    $0.applied = source.applied
                }
            }
        }
    }
}
