import Foundation

/// One `GET /healthz` to edge over a plain socket (HTTP/1.1, `Connection: close`), with short timeouts.
enum HealthProbe {
    enum Outcome: Sendable {
        case answered(status: Int, body: String)
        case unreachable(String)
    }

    static func check(host: String, port: Int, path: String = "/healthz", timeoutSeconds: Int = 2) -> Outcome {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let lookup = getaddrinfo(host, String(port), &hints, &list)
        guard lookup == 0, let first = list else {
            return .unreachable("cannot resolve \(host): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(first) }

        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = openSocket(address.pointee)
            if fd < 0 {
                lastError = String(cString: strerror(errno))
                continue
            }
            defer { close(fd) }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            let request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n"
            guard sendAll(fd, Array(request.utf8)) else { return .unreachable(String(cString: strerror(errno))) }
            guard let response = receiveAll(fd) else { return .unreachable(String(cString: strerror(errno))) }
            return parse(response)
        }
        return .unreachable(lastError)
    }

    private static func openSocket(_ address: addrinfo) -> Int32 {
        #if canImport(Glibc)
            return socket(address.ai_family, address.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), address.ai_protocol)
        #else
            let fd = socket(address.ai_family, address.ai_socktype, address.ai_protocol)
            if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return fd
        #endif
    }

    /// A closed peer gives EPIPE, not a signal: `SignalTrap` ignores SIGPIPE for the whole launcher.
    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    /// Reads until the server closes the connection (at most 1 MiB).
    private static func receiveAll(_ fd: Int32) -> [UInt8]? {
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while response.count < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                return response.isEmpty ? nil : response
            }
            if count == 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        return response
    }

    static func parse(_ response: [UInt8]) -> Outcome {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headerEnd = firstRange(of: separator, in: response) else {
            return .unreachable("incomplete HTTP response")
        }
        let head = String(decoding: response[..<headerEnd], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            return .unreachable("not an HTTP response")
        }
        var body = Array(response[(headerEnd + separator.count)...])
        if head.lowercased().contains("transfer-encoding: chunked") {
            body = dechunk(body)
        }
        return .answered(status: status, body: String(decoding: body, as: UTF8.self))
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        let crlf: [UInt8] = [13, 10]
        while let lineEnd = firstRange(of: crlf, in: bytes, from: index) {
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            let end = min(start + size, bytes.count)
            output.append(contentsOf: bytes[start..<end])
            index = end + 2
        }
        return output
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for index in start...(haystack.count - needle.count)
        where haystack[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
    }

    /// The services edge reports as not SERVING, from its `/healthz` body.
    static func unhealthyServices(in body: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let services = object["services"] as? [String: Any]
        else { return [] }
        return services.compactMap { name, status in
            let text = "\(status)"
            return text == "SERVING" ? nil : "\(name) (\(text))"
        }.sorted()
    }
}
