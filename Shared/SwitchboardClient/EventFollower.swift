public import Logging
public import ServiceKit
public import SwitchboardProtos

/// Follows one service's event log for a consumer: subscribes after the consumer's stored cursor, hands every batch
/// to `apply` (which stores the effects and the new cursor in one transaction, deduplicating by event id), and after
/// any failure (the producer restarting, the consumer's own error) subscribes again from the stored cursor, with a
/// backoff of 100 ms doubling to 5 s. Nothing is lost (the cursor only moves with the effects) and nothing is
/// applied twice (the effects and the cursor commit together; event ids are checked besides).
public struct EventFollower: Sendable {
    public typealias Handler = @Sendable (Switchboard_Common_V1_EventBatch) async throws -> Void
    public typealias Subscribe = @Sendable (_ after: Int64, _ handle: @escaping Handler) async throws -> Void

    let source: String
    let subscribe: Subscribe
    let cursor: @Sendable () async throws -> Int64
    let apply: Handler
    let logger: Logger

    public init(
        source: String, logger: Logger, subscribe: @escaping Subscribe, cursor: @escaping @Sendable () async throws -> Int64,
        apply: @escaping Handler
    ) {
        self.source = source
        self.subscribe = subscribe
        self.cursor = cursor
        self.apply = apply
        self.logger = logger
    }

    /// Runs until the task is cancelled.
    public func run() async {
        var backoff = 100
        var failing = false
        var failures = 0
        while !Task.isCancelled {
            var after: Int64 = -1
            do {
                after = try await cursor()
                try await subscribe(after, apply)
            } catch {
                if Task.isCancelled { return }
                failures += 1
                // A producer starting or restarting is expected: say so once it lasts.
                if !failing, failures >= 3 {
                    logger.warning("following the \(source) events: \(error); retrying")
                    failing = true
                }
            }
            // Progress since the last subscription resets the backoff.
            if let now = try? await cursor(), now > after, after >= 0 {
                backoff = 100
                if failing { logger.info("following the \(source) events again") }
                failing = false
                failures = 0
            }
            try? await Task.sleep(for: .milliseconds(backoff))
            backoff = min(backoff * 2, 5000)
        }
    }
}
