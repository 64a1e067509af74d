import Foundation
import Testing

@testable import AnalyticsService

/// RFC 3339 UTC instant → milliseconds.
func utc(_ text: String) -> Int64 {
    let formatter = ISO8601DateFormatter()
    if text.contains(".") { formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds] }
    return Int64((formatter.date(from: text)!.timeIntervalSince1970 * 1000).rounded())
}

@Suite struct LocalDaysTests {
    @Test(arguments: [
        // zone, local date, its first instant in UTC, its length in hours
        ("UTC", 2026, 3, 8, "2026-03-08T00:00:00Z", 24.0),
        ("America/New_York", 2026, 3, 7, "2026-03-07T05:00:00Z", 24.0),
        ("America/New_York", 2026, 3, 8, "2026-03-08T05:00:00Z", 23.0),  // spring forward
        ("America/New_York", 2026, 3, 9, "2026-03-09T04:00:00Z", 24.0),
        ("America/New_York", 2026, 11, 1, "2026-11-01T04:00:00Z", 25.0),  // fall back
        ("America/New_York", 2026, 11, 2, "2026-11-02T05:00:00Z", 24.0),
        ("Asia/Kolkata", 2026, 3, 8, "2026-03-07T18:30:00Z", 24.0),
        ("Asia/Kathmandu", 2026, 3, 8, "2026-03-07T18:15:00Z", 24.0),  // +05:45: still whole quarter hours
    ])
    func aLocalDayIsItsZonesMidnightToMidnight(
        zone: String, year: Int, month: Int, day: Int, start: String, hours: Double
    ) throws {
        let days = try #require(LocalDays(timeZone: zone))
        let bounds = try #require(days.bounds(year: year, month: month, day: day))
        #expect(bounds.start == utc(start))
        #expect(Double(bounds.end - bounds.start) == hours * 3_600_000)
        let buckets = try #require(days.buckets(year: year, month: month, day: day))
        #expect(Int64(buckets.count) == Int64(hours * 4))
        // whole buckets: the day starts and ends on a bucket boundary
        #expect(buckets.lowerBound * LocalDays.bucketMillis == bounds.start)
        #expect(buckets.upperBound * LocalDays.bucketMillis == bounds.end)
    }

    @Test(arguments: [
        ("2026-03-08T04:59:59.999Z", "UTC", "2026-03-08"),
        ("2026-03-08T04:59:59.999Z", "America/New_York", "2026-03-07"),  // 23:59:59 EST
        ("2026-03-08T05:00:00Z", "America/New_York", "2026-03-08"),
        ("2026-03-09T03:59:59Z", "America/New_York", "2026-03-08"),  // 23:59:59 EDT
        ("2026-03-09T04:00:00Z", "America/New_York", "2026-03-09"),
        ("2026-11-02T04:30:00Z", "America/New_York", "2026-11-01"),  // 23:30 EST, hour 25 of the day
        ("2026-11-02T04:30:00Z", "UTC", "2026-11-02"),
        ("2026-03-07T18:29:59Z", "Asia/Kolkata", "2026-03-07"),
        ("2026-03-07T18:30:00Z", "Asia/Kolkata", "2026-03-08"),
        ("2026-03-07T18:30:00Z", "UTC", "2026-03-07"),
    ])
    func anInstantFallsOnItsLocalDate(instant: String, zone: String, date: String) throws {
        let days = try #require(LocalDays(timeZone: zone))
        #expect(days.string(of: utc(instant)) == date)
    }

    @Test func bucketsFloorAlsoBefore1970() {
        #expect(LocalDays.bucket(0) == 0)
        #expect(LocalDays.bucket(899_999) == 0)
        #expect(LocalDays.bucket(900_000) == 1)
        #expect(LocalDays.bucket(-1) == -1)
        #expect(LocalDays.bucket(-900_000) == -1)
        #expect(LocalDays.bucket(-900_001) == -2)
        #expect(LocalDays(timeZone: "Mars/Olympus_Mons") == nil)
    }
}
