import Foundation

/// Delivers SIGINT, SIGTERM and SIGHUP to a handler instead of their default action (the launcher must
/// outlive them to stop its children in order). Also ignores SIGPIPE, so a closed terminal cannot kill it.
final class SignalTrap {
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP], handler: @escaping @Sendable (Int32) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "switchboard.signals")
        sources = signals.map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler { handler(signo) }
            source.resume()
            return source
        }
    }
}
