import Foundation

/// Runs the cluster: starts the four services and edge, restarts any child that exits, announces when edge
/// reports everything healthy, and on a stop signal stops edge first, then the services.
actor Supervisor {
    /// How long a stop may take before the stragglers are killed; edge gets all but the last `servicesGrace`.
    static let stopGrace: Duration = .seconds(15)
    static let servicesGrace: Duration = .seconds(5)
    static let healthTimeout: Duration = .seconds(120)
    static let healthInterval: Duration = .milliseconds(200)
    /// Restart backoff: doubles from `firstBackoff` up to `maximumBackoff`, back to the start after a child
    /// stayed up for `stableUptime`.
    static let firstBackoff = 0.5
    static let maximumBackoff = 10.0
    static let stableUptime: Duration = .seconds(30)

    private struct Child {
        let spec: ChildSpec
        var process: ChildProcess?
        var startedAt: ContinuousClock.Instant = .now
        var nextBackoff = Supervisor.firstBackoff
    }

    private let config: LauncherConfig
    private var children: [String: Child] = [:]
    /// EX_CONFIG, what the executables exit with when their configuration is unusable (`ProcessRunner`).
    static let configurationExitCode: Int32 = 78

    private var stopping = false
    /// A child refused its configuration: the launcher exits with `configurationExitCode` after stopping.
    private(set) var failed = false
    private var stopped = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    init(config: LauncherConfig) {
        self.config = config
    }

    /// Starts everything and returns once the cluster has been stopped by `stop(signal:)`.
    func run() async {
        let names = config.children.map(\.name).joined(separator: ", ")
        Console.say("starting \(names) (data in \(config.dataDirectory))")
        for spec in config.children {
            children[spec.name] = Child(spec: spec)
            start(spec.name)
        }
        let healthWatch = Task { await watchHealth() }
        if !stopped {
            await withCheckedContinuation { stopWaiters.append($0) }
        }
        healthWatch.cancel()
    }

    /// The first stop signal stops the cluster in order; a second one kills what is left at once.
    func stop(signal: Int32) async {
        guard !stopping else {
            Console.say("received signal \(signal) again, killing the remaining children")
            for child in running { child.send(SIGKILL) }
            return
        }
        stopping = true
        Console.say("stopping (signal \(signal))")
        let deadline = ContinuousClock.now + Self.stopGrace

        for edge in running where edge.name == LauncherConfig.edgeName { edge.send(SIGTERM) }
        await waitForExit(of: [LauncherConfig.edgeName], until: deadline - Self.servicesGrace)

        for service in running where service.name != LauncherConfig.edgeName { service.send(SIGTERM) }
        await waitForExit(of: Array(children.keys), until: deadline)

        let stragglers = running
        if !stragglers.isEmpty {
            let names = stragglers.map(\.name).joined(separator: ", ")
            Console.say("killing \(names) (still running after \(Self.stopGrace.components.seconds)s)")
            for straggler in stragglers { straggler.send(SIGKILL) }
            await waitForExit(of: Array(children.keys), until: .now + .seconds(5))
        }
        Console.say("stopped")
        stopped = true
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters.removeAll()
    }

    private var running: [ChildProcess] {
        config.children.compactMap { children[$0.name]?.process }
    }

    private func start(_ name: String) {
        guard !stopping, var child = children[name], child.process == nil else { return }
        child.startedAt = .now
        do {
            child.process = try ChildProcess.spawn(child.spec, environment: config.childEnvironment) { pid, status in
                Task { await self.childExited(name, pid: pid, status: status) }
            }
            children[name] = child
        } catch {
            children[name] = child
            Console.say("\(error)")
            scheduleRestart(name, reason: "could not start")
        }
    }

    private func childExited(_ name: String, pid: pid_t, status: ExitStatus) {
        guard var child = children[name], child.process?.pid == pid else { return }
        child.process = nil
        children[name] = child
        if stopping {
            Console.say("\(name) exited (\(status))")
        } else if case .exited(Self.configurationExitCode) = status {
            // The child refused its configuration (its message is above): a restart would fail the same way.
            Console.say("\(name) cannot run with this configuration (see above); stopping")
            failed = true
            Task { await self.stop(signal: SIGTERM) }
        } else {
            scheduleRestart(name, reason: "exited (\(status))")
        }
    }

    private func scheduleRestart(_ name: String, reason: String) {
        guard var child = children[name] else { return }
        if ContinuousClock.now - child.startedAt >= Self.stableUptime {
            child.nextBackoff = Self.firstBackoff
        }
        let delay = child.nextBackoff
        child.nextBackoff = min(delay * 2, Self.maximumBackoff)
        children[name] = child
        Console.say("\(name) \(reason), restarting in \(delay.formatted(.number))s")
        Task {
            try? await Task.sleep(for: .seconds(delay))
            self.start(name)
        }
    }

    private func waitForExit(of names: [String], until deadline: ContinuousClock.Instant) async {
        while ContinuousClock.now < deadline, names.contains(where: { children[$0]?.process != nil }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Polls edge's `/healthz` until it answers 200; after `healthTimeout` says what is not healthy and keeps
    /// polling, more slowly, so a late start is still announced.
    private func watchHealth() async {
        let host = config.healthHost
        let port = config.healthPort
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        let started = ContinuousClock.now
        var reportedTimeout = false
        var interval = Self.healthInterval
        while !Task.isCancelled, !stopping {
            let outcome = await Self.probe(host: host, port: port)
            if stopping { return }
            if case .answered(200, _) = outcome {
                Console.say("all services healthy on \(url)")
                return
            }
            if !reportedTimeout, ContinuousClock.now - started >= Self.healthTimeout {
                reportedTimeout = true
                interval = .seconds(2)
                let detail =
                    switch outcome {
                    case .answered(let status, let body):
                        "edge answers \(status); not serving: "
                            + (HealthProbe.unhealthyServices(in: body).joined(separator: ", ").nonEmpty ?? "unknown")
                    case .unreachable(let reason): "edge is not answering on \(url) (\(reason))"
                    }
                Console.say("not healthy after \(Self.healthTimeout.components.seconds)s: \(detail); still waiting")
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Runs the blocking socket probe on a Dispatch thread, off the concurrency pool.
    private static func probe(host: String, port: Int) async -> HealthProbe.Outcome {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: HealthProbe.check(host: host, port: port))
            }
        }
    }
}
