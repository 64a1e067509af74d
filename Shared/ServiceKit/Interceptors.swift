public import GRPCCore
public import Logging

/// Metadata keys used between Switchboard processes.
public enum RPCMetadataKey {
    /// The shared internal token every non-health RPC must carry.
    public static let internalToken = "x-switchboard-token"
    /// The request id edge assigned to the HTTP request that caused this RPC.
    public static let requestID = "x-request-id"
}

/// The request id of the work in progress, set by edge per HTTP request and by services per RPC.
public enum RequestContext {
    @TaskLocal public static var requestID: String?
}

/// Refuses RPCs without the internal token (health checks excepted) with UNAUTHENTICATED.
public struct InternalTokenInterceptor: ServerInterceptor {
    let token: String

    public init(token: String) { self.token = token }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        if context.descriptor.service.fullyQualifiedService != "grpc.health.v1.Health" {
            let presented = request.metadata[stringValues: RPCMetadataKey.internalToken].first(where: { _ in true })
            guard let presented, constantTimeEqual(presented, token) else {
                throw ServiceFailure(.unauthenticated, "unauthenticated", "missing or wrong internal token")
            }
        }
        return try await next(request, context)
    }
}

/// Binds the caller's request id for logging and logs each RPC's outcome and duration.
public struct RequestLoggingInterceptor: ServerInterceptor {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let requestID = request.metadata[stringValues: RPCMetadataKey.requestID].first(where: { _ in true })
        let start = ContinuousClock.now
        let method = context.descriptor.fullyQualifiedMethod
        return try await RequestContext.$requestID.withValue(requestID) {
            do {
                let response = try await next(request, context)
                // A handler's failure arrives as a rejected response rather than a thrown error.
                if case .failure(let error) = response.accepted {
                    logger.info(
                        "rpc failed", metadata: ["method": "\(method)", "request-id": "\(requestID ?? "-")",
                                                 "code": "\(error.code)", "error": "\(error.message)"])
                } else {
                    logger.debug(
                        "rpc", metadata: ["method": "\(method)", "request-id": "\(requestID ?? "-")",
                                          "duration": "\(ContinuousClock.now - start)"])
                }
                return response
            } catch {
                logger.info(
                    "rpc failed", metadata: ["method": "\(method)", "request-id": "\(requestID ?? "-")",
                                             "error": "\(error)"])
                throw error
            }
        }
    }
}

/// Compares two secrets without an early exit on the first differing byte.
public func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let left = Array(lhs.utf8)
    let right = Array(rhs.utf8)
    var difference = UInt8(left.count == right.count ? 0 : 1)
    for index in 0..<max(left.count, right.count) {
        let a = index < left.count ? left[index] : 0
        let b = index < right.count ? right[index] : 0
        difference |= a ^ b
    }
    return difference == 0
}
