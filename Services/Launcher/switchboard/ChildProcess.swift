import Foundation

/// How a child ended, as `waitpid` reports it.
enum ExitStatus: Sendable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signalled(signal)
    }

    var description: String {
        switch self {
        case .exited(let code): "status \(code)"
        case .signalled(let signal): "signal \(signal)"
        }
    }
}

/// A running child process. It leads its own process group, so a Ctrl-C in the terminal reaches only the
/// launcher, which then stops the children in order; signals go to the whole group.
struct ChildProcess: Sendable {
    let name: String
    let pid: pid_t

    /// Starts `spec.executable` with `environment`, stdin from /dev/null, stdout and stderr forwarded line by
    /// line with a `[name] ` prefix. `onExit` is called once, on a background thread, when the child ends.
    static func spawn(
        _ spec: ChildSpec,
        environment: [String: String],
        onExit: @escaping @Sendable (pid_t, ExitStatus) -> Void
    ) throws -> ChildProcess {
        let stdoutPipe = try makePipe()
        let stderrPipe: (read: Int32, write: Int32)
        do { stderrPipe = try makePipe() } catch {
            close(stdoutPipe.read)
            close(stdoutPipe.write)
            throw error
        }

        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t? = nil
            var attributes: posix_spawnattr_t? = nil
        #else
            var actions = posix_spawn_file_actions_t()
            var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, STDERR_FILENO)

        // A new process group; default handlers for the signals the launcher ignores or traps; nothing blocked.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = [strdup(spec.executable)]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer { for string in argv + envp { free(string) } }

        var pid: pid_t = 0
        let result = posix_spawn(&pid, spec.executable, &actions, &attributes, argv + [nil], envp + [nil])
        close(stdoutPipe.write)
        close(stderrPipe.write)
        guard result == 0 else {
            close(stdoutPipe.read)
            close(stderrPipe.read)
            throw LauncherError("cannot start \(spec.executable): \(String(cString: strerror(result)))")
        }

        LineForwarder.start(reading: stdoutPipe.read, prefix: "[\(spec.name)] ", to: STDOUT_FILENO)
        LineForwarder.start(reading: stderrPipe.read, prefix: "[\(spec.name)] ", to: STDERR_FILENO)
        let child = ChildProcess(name: spec.name, pid: pid)
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child.pid, &status, 0) < 0 {
                guard errno == EINTR else { break }
            }
            onExit(child.pid, ExitStatus(waitStatus: status))
        }
        return child
    }

    /// Sends `signal` to the child's process group (the child and anything it started).
    func send(_ signal: Int32) {
        if kill(-pid, signal) != 0 {
            kill(pid, signal)
        }
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        // Close-on-exec, so a pipe reaches only the child it was made for (spawns run one at a time).
        var fds: [Int32] = [0, 0]
        let result = pipe(&fds)
        if result == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        guard result == 0 else {
            throw LauncherError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        return (fds[0], fds[1])
    }
}
