import Foundation

/// Durations in whole seconds, as bucket → count: exact below an hour, to the minute below a day, to the hour above.
/// Stored per (org, metric, day, agent) as a sparse BLOB of little-endian (bucket, count) UInt32 pairs, so a report
/// over 90 days merges a few thousand small rows instead of scanning one row per conversation.
struct Histogram: Equatable {
    var counts: [UInt32: UInt32] = [:]

    init() {}

    init(blob: Data) {
        blob.withUnsafeBytes { raw in
            var offset = 0
            while offset + 8 <= raw.count {
                let bucket = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                let count = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                counts[bucket, default: 0] += count
                offset += 8
            }
        }
    }

    var blob: Data {
        var data = Data(capacity: counts.count * 8)
        for bucket in counts.keys.sorted() {
            withUnsafeBytes(of: bucket.littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: counts[bucket]!.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    static func bucket(seconds: Int64) -> UInt32 {
        let seconds = max(0, min(seconds, Int64(UInt32.max)))
        if seconds < 3600 { return UInt32(seconds) }
        if seconds < 86_400 { return UInt32(seconds - seconds % 60) }
        return UInt32(seconds - seconds % 3600)
    }

    mutating func add(seconds: Int64) {
        counts[Self.bucket(seconds: seconds), default: 0] += 1
    }

    mutating func merge(_ other: Histogram) {
        for (bucket, count) in other.counts { counts[bucket, default: 0] += count }
    }

    var count: Int { counts.values.reduce(0) { $0 + Int($1) } }

    /// Nearest-rank percentile (the smallest value with at least `p` of the samples at or below it).
    func percentile(_ p: Double) -> Int? {
        let total = count
        guard total > 0 else { return nil }
        let rank = max(1, Int((p * Double(total)).rounded(.up)))
        var seen = 0
        for bucket in counts.keys.sorted() {
            seen += Int(counts[bucket]!)
            if seen >= rank { return Int(bucket) }
        }
        return nil
    }

    /// `{"count", "medianSeconds", "p90Seconds"}` (null seconds when empty).
    var summary: [String: Any] {
        [
            "count": count, "medianSeconds": percentile(0.5) as Any? ?? NSNull(),
            "p90Seconds": percentile(0.9) as Any? ?? NSNull(),
        ]
    }
}
