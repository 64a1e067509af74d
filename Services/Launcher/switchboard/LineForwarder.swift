import Foundation

/// Copies a child's output pipe to the launcher's own stdout or stderr, line by line, each line prefixed
/// with the child's name (`[contacts] `). Runs on its own thread until the pipe reaches end of file.
enum LineForwarder {
    /// Lines longer than this are cut, so a child printing without newlines cannot grow the buffer forever.
    private static let maximumLine = 64 * 1024

    static func start(reading fd: Int32, prefix: String, to output: Int32) {
        let prefixBytes = Array(prefix.utf8)
        Thread.detachNewThread {
            forward(fd: fd, prefix: prefixBytes, output: output)
        }
    }

    private static func forward(fd: Int32, prefix: [UInt8], output: Int32) {
        defer { close(fd) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            if count == 0 { break }
            pending.append(contentsOf: chunk[0..<count])
            var lineStart = 0
            while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                Console.emit(prefix + pending[lineStart...newline], to: output)
                lineStart = newline + 1
            }
            pending.removeFirst(lineStart)
            if pending.count >= maximumLine {
                Console.emit(prefix + pending + [UInt8(ascii: "\n")], to: output)
                pending.removeAll(keepingCapacity: true)
            }
        }
        if !pending.isEmpty {
            Console.emit(prefix + pending + [UInt8(ascii: "\n")], to: output)
        }
    }
}
