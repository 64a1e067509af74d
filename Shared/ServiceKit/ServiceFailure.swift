public import GRPCCore
import SwiftProtobuf
public import SwitchboardProtos

/// A domain failure with a stable machine reason, carried over gRPC as status + metadata.
///
/// The reason travels as `switchboard-reason` (text) and `switchboard-error-bin` (a serialized
/// `switchboard.common.v1.ErrorReason` with field and details).
public struct ServiceFailure: Error, Sendable, Equatable, RPCErrorConvertible, CustomStringConvertible {
    public var code: RPCError.Code
    public var reason: String
    public var message: String
    public var field: String?
    public var details: [String: String]

    public init(
        _ code: RPCError.Code, _ reason: String, _ message: String, field: String? = nil,
        details: [String: String] = [:]
    ) {
        self.code = code
        self.reason = reason
        // Capped: the message travels in the gRPC trailers, whose size is limited (an oversize one fails the call).
        self.message = Echo.capped(message)
        self.field = field.map { Echo.short($0, limit: 200) }
        self.details = details.mapValues { Echo.capped($0, limit: 500) }
    }

    public static func invalid(_ reason: String, _ message: String, field: String? = nil) -> Self {
        Self(.invalidArgument, reason, message, field: field)
    }

    public static func notFound(_ reason: String, _ message: String) -> Self {
        Self(.notFound, reason, message)
    }

    public var description: String { "\(code) \(reason): \(message)" }

    public static let reasonKey = "switchboard-reason"
    public static let errorKey = "switchboard-error-bin"

    public var rpcErrorCode: RPCError.Code { code }
    public var rpcErrorMessage: String { message }
    public var rpcErrorMetadata: Metadata {
        var metadata = Metadata()
        metadata.addString(reason, forKey: Self.reasonKey)
        var proto = Switchboard_Common_V1_ErrorReason()
        proto.reason = reason
        proto.field = field ?? ""
        proto.details = details
        if let bytes: [UInt8] = try? proto.serializedBytes() {
            metadata.addBinary(bytes, forKey: Self.errorKey)
        }
        return metadata
    }

    /// Recovers the failure a service sent, or nil when the error carries no Switchboard reason.
    public init?(_ error: RPCError) {
        var reason: String?
        var field: String?
        var details: [String: String] = [:]
        for bytes in error.metadata[binaryValues: Self.errorKey] {
            if let proto = try? Switchboard_Common_V1_ErrorReason(serializedBytes: bytes) {
                reason = proto.reason
                field = proto.field.isEmpty ? nil : proto.field
                details = proto.details
            }
        }
        if reason == nil { reason = error.metadata[stringValues: Self.reasonKey].first(where: { _ in true }) }
        guard let reason else { return nil }
        self.init(error.code, reason, error.message, field: field, details: details)
    }
}

extension ServiceFailure {
    /// The reason as a message, for batch answers that carry one failure per item.
    public var errorReason: Switchboard_Common_V1_ErrorReason {
        var proto = Switchboard_Common_V1_ErrorReason()
        proto.reason = reason
        proto.field = field ?? ""
        proto.details = details
        return proto
    }

    /// A failure a batch answer reported for one item (refused for good: the rest of the batch was applied).
    public init(item proto: Switchboard_Common_V1_ErrorReason, message: String = "refused") {
        self.init(.failedPrecondition, proto.reason.isEmpty ? "refused" : proto.reason, message,
                  field: proto.field.isEmpty ? nil : proto.field, details: proto.details)
    }
}

/// The org an RPC acts for: every request names one (INVALID_ARGUMENT `missing_org` otherwise).
public func requireOrg(_ orgID: String) throws(ServiceFailure) -> String {
    guard !orgID.isEmpty else { throw .invalid("missing_org", "org_id is required", field: "org_id") }
    return orgID
}
