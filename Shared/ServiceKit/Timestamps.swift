public import SwiftProtobuf
import Foundation

extension Google_Protobuf_Timestamp {
    /// A timestamp from Unix milliseconds (0 stays unset by callers that check `hasX`).
    public init(millis: Int64) {
        self.init(seconds: millis / 1000, nanos: Int32((millis % 1000) * 1_000_000))
    }

    public var millis: Int64 { seconds * 1000 + Int64(nanos / 1_000_000) }
}

/// RFC 3339 UTC with milliseconds, the only time format on the public API.
public enum RFC3339 {
    public static func string(millis: Int64) -> String {
        let seconds = time_t(millis / 1000)
        var parts = tm()
        var copy = seconds
        gmtime_r(&copy, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(millis % 1000))
    }
}
