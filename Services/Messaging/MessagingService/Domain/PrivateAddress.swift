import Foundation

/// Address ranges a provider base URL may not reach unless the operator allows private targets: loopback,
/// private, link-local, carrier-grade NAT, unspecified and the IPv6 equivalents (IPv4-mapped addresses are
/// judged as the IPv4 address they carry).
enum PrivateAddress {
    /// Whether `text` is a literal IPv4 or IPv6 address (brackets allowed) in a refused range; nil when
    /// `text` is not a literal address.
    static func isPrivate(literal text: String) -> Bool? {
        var host = text
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let zone = host.firstIndex(of: "%") { host = String(host[..<zone]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return isPrivate(ipv4: withUnsafeBytes(of: v4) { Array($0) })
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return isPrivate(ipv6: withUnsafeBytes(of: v6) { Array($0) })
        }
        return nil
    }

    /// Four bytes in network order.
    static func isPrivate(ipv4 b: [UInt8]) -> Bool {
        guard b.count == 4 else { return true }
        switch (b[0], b[1]) {
        case (0, _): return true  // 0.0.0.0/8 ("this network", 0.0.0.0 reaches loopback on Linux)
        case (10, _): return true
        case (127, _): return true
        case (169, 254): return true  // link-local, incl. cloud metadata 169.254.169.254
        case (172, 16...31): return true
        case (192, 168): return true
        case (100, 64...127): return true  // carrier-grade NAT 100.64/10
        case (192, 0) where b[2] == 0: return true  // IETF protocol assignments 192.0.0/24
        case (198, 18...19): return true  // benchmarking 198.18/15
        case (224...255, _): return true  // multicast, reserved, broadcast
        default: return false
        }
    }

    /// Sixteen bytes in network order.
    static func isPrivate(ipv6 b: [UInt8]) -> Bool {
        guard b.count == 16 else { return true }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
            return isPrivate(ipv4: Array(b[12..<16]))  // ::ffff:a.b.c.d
        }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return isPrivate(ipv4: Array(b[12..<16])) }  // ::a.b.c.d
        if b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b {  // NAT64 64:ff9b::/96
            return isPrivate(ipv4: Array(b[12..<16]))
        }
        if b[0] & 0xfe == 0xfc { return true }  // unique local fc00::/7
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return true }  // link-local fe80::/10
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return true }  // site-local fec0::/10 (deprecated)
        if b[0] == 0xff { return true }  // multicast
        return false
    }

    /// The addresses `host` resolves to, each judged; throws when the name does not resolve.
    static func resolve(_ host: String) throws -> [(address: String, isPrivate: Bool)] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            throw ResolutionError(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var found: [(String, Bool)] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let address = info.pointee.ai_addr {
                var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
                if info.pointee.ai_family == AF_INET {
                    var v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count))
                    found.append((String(cString: buffer), isPrivate(ipv4: withUnsafeBytes(of: v4) { Array($0) })))
                } else if info.pointee.ai_family == AF_INET6 {
                    var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count))
                    found.append((String(cString: buffer), isPrivate(ipv6: withUnsafeBytes(of: v6) { Array($0) })))
                }
            }
            cursor = info.pointee.ai_next
        }
        return found
    }

    struct ResolutionError: Error, CustomStringConvertible {
        let host: String
        let reason: String
        var description: String { "\(host) does not resolve (\(reason))" }
    }
}
