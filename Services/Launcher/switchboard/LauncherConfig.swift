import Foundation

/// One process the launcher runs: the name used in log prefixes and the executable it starts.
struct ChildSpec: Sendable {
    let name: String
    let executable: String
}

/// What the launcher needs to know, read from the environment with the documented defaults.
struct LauncherConfig: Sendable {
    /// In start order; stopping goes edge first, then the services.
    let children: [ChildSpec]
    let dataDirectory: String
    /// Where the launcher polls edge's `/healthz` (a wildcard bind address becomes loopback).
    let healthHost: String
    let healthPort: Int
    /// The launcher's whole environment plus the resolved data directory and internal token.
    let childEnvironment: [String: String]

    static let serviceNames = ["contacts", "conversations", "messaging", "analytics"]
    static let edgeName = "edge"

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> LauncherConfig
    {
        let binDirectory = absolute(environment["SWITCHBOARD_BIN_DIR"].nonEmpty ?? ownDirectory())
        let children =
            serviceNames.map { ChildSpec(name: $0, executable: binDirectory + "/\($0)-service") }
            + [ChildSpec(name: edgeName, executable: binDirectory + "/edge")]
        let missing = children.filter { access($0.executable, X_OK) != 0 }.map(\.executable)
        guard missing.isEmpty else {
            throw LauncherError(
                "cannot find \(missing.joined(separator: ", ")); build every product first "
                    + "(swift build -c release) or point SWITCHBOARD_BIN_DIR at the folder holding them"
            )
        }

        let dataDirectory = absolute(environment["SWITCHBOARD_DATA_DIR"].nonEmpty ?? "./data")
        try DataDirectory.prepare(dataDirectory)
        let token = try InternalToken.resolve(environment: environment, dataDirectory: dataDirectory)

        var childEnvironment = environment
        childEnvironment["SWITCHBOARD_DATA_DIR"] = dataDirectory
        childEnvironment["SWITCHBOARD_INTERNAL_TOKEN"] = token

        let portText = environment["SWITCHBOARD_HTTP_PORT"].nonEmpty ?? "8080"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw LauncherError("SWITCHBOARD_HTTP_PORT must be a port number, not \(portText)")
        }
        return LauncherConfig(
            children: children,
            dataDirectory: dataDirectory,
            healthHost: connectableHost(environment["SWITCHBOARD_HTTP_HOST"].nonEmpty ?? "127.0.0.1"),
            healthPort: port,
            childEnvironment: childEnvironment
        )
    }

    /// The folder of the running executable, where SwiftPM puts the sibling products.
    private static func ownDirectory() -> String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        return (absolute(executable) as NSString).deletingLastPathComponent
    }

    private static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return url.standardizedFileURL.path
    }

    /// Edge may bind every interface; the launcher reaches it on loopback.
    private static func connectableHost(_ host: String) -> String {
        switch host {
        case "0.0.0.0": "127.0.0.1"
        case "::", "[::]": "::1"
        default: host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        }
    }
}

/// The shared secret every RPC carries: from the environment, else `$DATA_DIR/internal-token`, else a new
/// random one written to that file (mode 0600) so restarts of the cluster keep it.
enum InternalToken {
    static func resolve(environment: [String: String], dataDirectory: String) throws -> String {
        if let token = environment["SWITCHBOARD_INTERNAL_TOKEN"].nonEmpty { return token }
        let path = dataDirectory + "/internal-token"
        if let stored = read(path) { return stored }

        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            // Another launcher on the same data directory won the race: use its token.
            if errno == EEXIST, let stored = read(path) { return stored }
            throw LauncherError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            try file.write(contentsOf: Data((token + "\n").utf8))
        } catch {
            throw LauncherError("cannot write \(path): \(error)")
        }
        return token
    }

    private static func read(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines).nonEmpty
    }
}

struct LauncherError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Optional where Wrapped == String {
    /// The string, unless it is absent or empty (an empty variable means "use the default").
    var nonEmpty: String? {
        switch self {
        case .some(let value) where !value.isEmpty: value
        default: nil
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
