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
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func put(_ value: Int, width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, width: 4)
        text.append(UInt8(ascii: "-"))
        put(Int(parts.tm_mon) + 1, width: 2)
        text.append(UInt8(ascii: "-"))
        put(Int(parts.tm_mday), width: 2)
        text.append(UInt8(ascii: "T"))
        put(Int(parts.tm_hour), width: 2)
        text.append(UInt8(ascii: ":"))
        put(Int(parts.tm_min), width: 2)
        text.append(UInt8(ascii: ":"))
        put(Int(parts.tm_sec), width: 2)
        text.append(UInt8(ascii: "."))
        put(Int(millis % 1000), width: 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }
}
