public import GRPCCore
import Metrics
import Synchronization
public import ServiceKit

/// How every typed client calls: a deadline on each call, the internal token and request id in metadata,
/// retries of idempotent calls on UNAVAILABLE, and any failure turned into a `ServiceFailure`.
public struct RPCCaller: Sendable {
    public var token: String
    public var timeout: Duration
    public var maxRetries: Int

    public init(token: String, timeout: Duration = .seconds(10), maxRetries: Int = 3) {
        self.token = token
        self.timeout = timeout
        self.maxRetries = maxRetries
    }

    var metadata: Metadata {
        var metadata: Metadata = [RPCMetadataKey.internalToken: .string(token)]
        if let requestID = RequestContext.requestID { metadata.addString(requestID, forKey: RPCMetadataKey.requestID) }
        return metadata
    }

    var options: CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        // A page of messages can carry big webhook payloads (up to 3 MiB each, kept raw for unsupported types).
        options.maxRequestMessageBytes = 32 << 20
        options.maxResponseMessageBytes = 32 << 20
        return options
    }

    /// Runs one RPC. Only `idempotent` calls are retried, only on UNAVAILABLE, with jittered backoff.
    public func call<Result: Sendable>(
        _ method: String, idempotent: Bool,
        _ body: (_ metadata: Metadata, _ options: CallOptions) async throws -> Result
    ) async throws(ServiceFailure) -> Result {
        var attempt = 0
        let start = ContinuousClock.now
        while true {
            do {
                let result = try await body(metadata, options)
                record(method, code: "ok", since: start)
                return result
            } catch let error as RPCError {
                if error.code == .unavailable, idempotent, attempt < maxRetries {
                    attempt += 1
                    let ceiling = 50 * (1 << attempt)
                    try? await Task.sleep(for: .milliseconds(Int.random(in: ceiling / 2...ceiling)))
                    continue
                }
                record(method, code: "\(error.code)", since: start)
                // A service refusing edge's token is edge's misconfiguration, not the HTTP caller's fault.
                // (A domain refusal such as a webhook's `invalid_signature` carries its own reason and passes.)
                let failure = ServiceFailure(error)
                if error.code == .unauthenticated, failure == nil || failure?.reason == "unauthenticated" {
                    throw Self.failure(for: error)
                }
                throw failure ?? Self.failure(for: error)
            } catch let failure as ServiceFailure {
                record(method, code: "\(failure.code)", since: start)
                throw failure
            } catch {
                record(method, code: "unknown", since: start)
                throw ServiceFailure(.unknown, "internal_error", "\(error)")
            }
        }
    }

    static func failure(for error: RPCError) -> ServiceFailure {
        switch error.code {
        case .unavailable:
            ServiceFailure(.unavailable, "service_unavailable", "a backend service is unavailable, try again")
        case .deadlineExceeded:
            ServiceFailure(.deadlineExceeded, "timeout", "a backend service did not answer in time")
        case .unauthenticated:
            ServiceFailure(.internalError, "internal_error", "edge and the services disagree on the internal token")
        case .resourceExhausted:
            ServiceFailure(.resourceExhausted, "payload_too_large", error.message)
        default:
            ServiceFailure(error.code, "internal_error", error.message)
        }
    }

    private func record(_ method: String, code: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let nanos = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        RPCTimers.timer(method: method, code: code).recordNanoseconds(nanos)
    }
}

/// One histogram per (method, status) made once: asking the metrics factory on every call costs a registry
/// lookup under a lock.
enum RPCTimers {
    private static let timers = Mutex<[String: Timer]>([:])

    static func timer(method: String, code: String) -> Timer {
        let key = method + "/" + code
        return timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Timer(
                label: "switchboard_rpc_client_duration_seconds", dimensions: [("method", method), ("code", code)])
            timers[key] = timer
            return timer
        }
    }
}

extension RPCCaller: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { ["timeout": timeout, "maxRetries": maxRetries] }
}
