import Foundation

/// Days as an organisation lives them: a local date's [midnight, next midnight) in its IANA zone, as UTC
/// milliseconds and as the UTC quarter-hour buckets analytics is to store its aggregates in (every real zone is a
/// whole number of quarter hours from UTC, so a local day is always a whole run of buckets). DST-correct: a
/// spring-forward day is 92 buckets (23 h), a fall-back day 100 (25 h). Not yet used by the reports.
struct LocalDays {
    static let bucketMillis: Int64 = 900_000
    let calendar: Calendar

    /// nil for an id Foundation does not know.
    init?(timeZone id: String) {
        guard let zone = id == "UTC" ? TimeZone(secondsFromGMT: 0) : TimeZone(identifier: id) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        self.calendar = calendar
    }

    /// The quarter-hour bucket of an instant (floor, also before 1970).
    static func bucket(_ millis: Int64) -> Int64 {
        millis >= 0 ? millis / bucketMillis : (millis - bucketMillis + 1) / bucketMillis
    }

    /// The local date (year, month, day) of an instant.
    func date(of millis: Int64) -> DateComponents {
        calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// `YYYY-MM-DD` of an instant in this zone.
    func string(of millis: Int64) -> String {
        let parts = date(of: millis)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// The local day's start (its first instant, local midnight or the first instant after a midnight DST skips)
    /// and the next day's start, in UTC milliseconds.
    func bounds(year: Int, month: Int, day: Int) -> (start: Int64, end: Int64)? {
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month, day)
        guard let date = calendar.date(from: components) else { return nil }
        let start = calendar.startOfDay(for: date)
        guard let next = calendar.date(byAdding: .day, value: 1, to: start) else { return nil }
        let end = calendar.startOfDay(for: next)
        return (Int64((start.timeIntervalSince1970 * 1000).rounded()), Int64((end.timeIntervalSince1970 * 1000).rounded()))
    }

    /// The buckets of a local day: [first, end).
    func buckets(year: Int, month: Int, day: Int) -> Range<Int64>? {
        guard let (start, end) = bounds(year: year, month: month, day: day) else { return nil }
        return Self.bucket(start)..<Self.bucket(end)
    }
}
