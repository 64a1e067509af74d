import Foundation
public import Logging

/// Logs one line per event to standard output: `time level label: message key=value …`.
///
/// Unlike swift-log's `StreamLogHandler` it formats metadata only when a line is written; frameworks that
/// attach a request id to a logger on every request no longer pay for a formatted copy of it each time.
public struct ConsoleLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = "\(RFC3339.string(millis: Millis.now())) \(event.level) \(label): \(event.message)"
        for (key, value) in all.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        line += "\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
