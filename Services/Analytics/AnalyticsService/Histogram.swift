import Foundation

/// Durations in whole seconds as counts per bucket: exact below an hour, to the minute below a day, to the hour
/// above (durations over 61 days count as 61 days). Stored per (org, metric, day, agent) as a sparse BLOB of
/// little-endian (bucket index, count) UInt32 pairs, so a report over 90 days merges a few thousand small rows
/// instead of scanning one row per conversation; merged into a dense array, without hashing.
struct Histogram: Equatable {
    static let size = 3600 + 1380 + 1440
    private(set) var counts: [UInt32]

    init() {
        counts = [UInt32](repeating: 0, count: Self.size)
    }

    init(blob: Data) {
        self.init()
        merge(blob: blob)
    }

    /// Adds a stored histogram's counts.
    mutating func merge(blob: Data) {
        blob.withUnsafeBytes { raw in
            var offset = 0
            while offset + 8 <= raw.count {
                let index = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                let count = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                if index < Self.size { counts[index] &+= count }
                offset += 8
            }
        }
    }

    var blob: Data {
        var data = Data()
        for (index, count) in counts.enumerated() where count > 0 {
            withUnsafeBytes(of: UInt32(index).littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: count.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    static func index(seconds: Int64) -> Int {
        let seconds = max(0, seconds)
        if seconds < 3600 { return Int(seconds) }
        if seconds < 86_400 { return 3600 + Int((seconds - 3600) / 60) }
        return 4980 + Int(min((seconds - 86_400) / 3600, 1439))
    }

    /// The value a bucket reports: its lower bound.
    static func value(index: Int) -> Int {
        if index < 3600 { return index }
        if index < 4980 { return 3600 + (index - 3600) * 60 }
        return 86_400 + (index - 4980) * 3600
    }

    static func bucket(seconds: Int64) -> Int { value(index: index(seconds: seconds)) }

    mutating func add(seconds: Int64) {
        counts[Self.index(seconds: seconds)] += 1
    }

    mutating func merge(_ other: Histogram) {
        for index in 0..<Self.size { counts[index] &+= other.counts[index] }
    }

    var count: Int { counts.reduce(0) { $0 + Int($1) } }

    /// Nearest-rank percentile (the smallest value with at least `p` of the samples at or below it).
    func percentile(_ p: Double) -> Int? {
        percentiles([p])[0]
    }

    func percentiles(_ ps: [Double]) -> [Int?] {
        let total = count
        guard total > 0 else { return ps.map { _ in nil } }
        return ps.map { p in
            let rank = max(1, Int((p * Double(total)).rounded(.up)))
            var seen = 0
            for index in 0..<Self.size {
                seen += Int(counts[index])
                if seen >= rank { return Self.value(index: index) }
            }
            return nil
        }
    }

    /// `{"count", "medianSeconds", "p90Seconds"}` (null seconds when empty).
    var summary: JSONText {
        let values = percentiles([0.5, 0.9])
        return .object([
            ("count", .int(count)), ("medianSeconds", values[0].map { .int($0) } ?? .null),
            ("p90Seconds", values[1].map { .int($0) } ?? .null),
        ])
    }
}
