import Foundation

/// The launcher's terminal: whole lines written unbuffered, one writer at a time, so lines of different
/// children never interleave and nothing waits in a stdio buffer.
enum Console {
    private static let lock = NSLock()

    /// A line from the launcher itself: `switchboard: <message>` on standard output.
    static func say(_ message: String) {
        emit(Array("switchboard: \(message)\n".utf8), to: STDOUT_FILENO)
    }

    /// A problem the launcher cannot get past: printed on standard error, then the launcher exits 1.
    static func fail(_ message: String) -> Never {
        emit(Array("switchboard: \(message)\n".utf8), to: STDERR_FILENO)
        exit(1)
    }

    /// Writes all of `bytes` to `fd`; a closed terminal or pipe (EPIPE, SIGPIPE is ignored) drops the line.
    static func emit(_ bytes: [UInt8], to fd: Int32) {
        lock.lock()
        defer { lock.unlock() }
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
