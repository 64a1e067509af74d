import Foundation

/// Reads configuration from the process environment with documented defaults.
public struct ConfigReader: Sendable {
    public let values: [String: String]

    /// - Parameter values: the variables to read; the process environment when nil.
    public init(_ values: [String: String]? = nil) {
        self.values = values ?? ProcessInfo.processInfo.environment
    }

    public func string(_ key: String, default value: String) -> String {
        guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return value }
        return raw
    }

    public func optionalString(_ key: String) -> String? {
        guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        return raw
    }

    public func int(_ key: String, default value: Int) throws(ConfigError) -> Int {
        guard let raw = optionalString(key) else { return value }
        guard let parsed = Int(raw) else { throw ConfigError(key: key, value: raw, expected: "an integer") }
        return parsed
    }

    public func port(_ key: String, default value: Int) throws(ConfigError) -> Int {
        let port = try int(key, default: value)
        guard (0...65535).contains(port) else { throw ConfigError(key: key, value: String(port), expected: "a port") }
        return port
    }
}

/// A setting the process cannot run with: restarting would fail the same way, so executables exit with
/// `ProcessRunner.configurationExitCode` and the launcher stops instead of restarting them.
public protocol ConfigurationProblem: Error {}

public struct ConfigError: ConfigurationProblem, CustomStringConvertible {
    public var key: String
    public var value: String
    public var expected: String
    public var description: String { "\(key)=\(value) is not \(expected)" }

    public init(key: String, value: String, expected: String) {
        self.key = key
        self.value = value
        self.expected = expected
    }
}

/// The four gRPC services, their default ports and environment names.
public enum ServiceName: String, Sendable, CaseIterable {
    case contacts, conversations, messaging, analytics

    public var defaultPort: Int {
        switch self {
        case .contacts: 7101
        case .conversations: 7102
        case .messaging: 7103
        case .analytics: 7104
        }
    }

    var envPrefix: String { "SWITCHBOARD_\(rawValue.uppercased())" }

    /// The port this service listens on (`SWITCHBOARD_<NAME>_PORT`).
    public func port(_ config: ConfigReader) throws(ConfigError) -> Int {
        try config.port("\(envPrefix)_PORT", default: defaultPort)
    }

    /// The host a client connects to (`SWITCHBOARD_<NAME>_HOST`, default 127.0.0.1).
    public func host(_ config: ConfigReader) -> String {
        config.string("\(envPrefix)_HOST", default: "127.0.0.1")
    }
}

/// Settings every service process shares.
public struct CommonConfig: Sendable {
    public var dataDirectory: String
    public var bindHost: String
    public var internalToken: String
    public var logLevel: String

    public init(dataDirectory: String, bindHost: String = "127.0.0.1", internalToken: String, logLevel: String = "info") {
        self.dataDirectory = dataDirectory
        self.bindHost = bindHost
        self.internalToken = internalToken
        self.logLevel = logLevel
    }

    /// SWITCHBOARD_DATA_DIR (./data), SWITCHBOARD_BIND_HOST (127.0.0.1), SWITCHBOARD_INTERNAL_TOKEN (else the
    /// launcher's `<data dir>/internal-token` file), SWITCHBOARD_LOG_LEVEL (info).
    public init(_ config: ConfigReader) throws {
        dataDirectory = config.string("SWITCHBOARD_DATA_DIR", default: "./data")
        bindHost = config.string("SWITCHBOARD_BIND_HOST", default: "127.0.0.1")
        logLevel = config.string("SWITCHBOARD_LOG_LEVEL", default: "info")
        if let token = config.optionalString("SWITCHBOARD_INTERNAL_TOKEN") {
            internalToken = token
        } else {
            let path = (dataDirectory as NSString).appendingPathComponent("internal-token")
            guard let token = try? String(contentsOfFile: path, encoding: .utf8), !token.isEmpty else {
                throw ConfigError(
                    key: "SWITCHBOARD_INTERNAL_TOKEN", value: "", expected: "set (or written to \(path) by the launcher)")
            }
            internalToken = token.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// `<data dir>/<name>.db`, the directory made (or tightened to) 0700 and the database's files to 0600.
    public func databasePath(_ name: String) throws -> String {
        try FilePermissions.secureDirectory(dataDirectory)
        let path = (dataDirectory as NSString).appendingPathComponent("\(name).db")
        FilePermissions.secureDatabase(path)
        return path
    }
}
