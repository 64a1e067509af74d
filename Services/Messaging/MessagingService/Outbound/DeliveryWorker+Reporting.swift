import ConversationsKit
import Foundation
import Logging
import ServiceKit

extension DeliveryWorker {
    /// Hands state changes to conversations as they come (and once a second), backing off while it is down.
    func reportLoop() async {
        var backoff = Duration.milliseconds(100)
        for await _ in reported.stream {
            if Task.isCancelled { return }
            while !Task.isCancelled {
                let progressed: Bool
                do {
                    progressed = try await reportOnce()
                    backoff = .milliseconds(100)
                } catch {
                    logger.warning("reporting delivery statuses failed, trying again: \(error)")
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                    break
                }
                if !progressed { break }
            }
        }
    }

    /// Records unrecorded sends in their conversations, then reports a batch of state changes. Answers whether
    /// there was anything to do.
    func reportOnce() async throws -> Bool {
        let unrecorded = try await store.unrecorded(limit: 100)
        for row in unrecorded {
            let message = try await reports.record(row.recordRequest)
            try await store.markRecorded(id: row.id, answer: nil)
            _ = message
            wake(channelID: row.channelID)
        }
        let rows = try await store.unreported(limit: 500)
        for row in rows where row.state == .failed && row.failureReason == "opted_out" {
            try await reports.optOut(orgID: row.orgID, contactID: row.contactID, messageID: row.id)
        }
        for (orgID, group) in Dictionary(grouping: rows, by: \.orgID) {
            let updates = group.compactMap { row -> DeliveryUpdate? in
                let status: DeliveryStatus
                switch row.state {
                case .sent: status = .sent
                case .delivered: status = .delivered
                case .failed: status = .failed
                case .queued, .sending: return nil
                }
                return DeliveryUpdate(
                    messageID: row.id, status: status, providerMessageID: row.providerMessageID, at: row.updatedAt,
                    errorCode: row.errorCode, errorText: row.errorText, failureReason: row.failureReason)
            }
            if !updates.isEmpty { try await reports.report(orgID: orgID, updates) }
            try await store.markReported(group.map { ($0.id, $0.version) })
        }
        return !rows.isEmpty || !unrecorded.isEmpty
    }
}
