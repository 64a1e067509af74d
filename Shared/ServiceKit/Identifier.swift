public import Foundation
import Synchronization

/// Time-ordered identifiers (UUIDv7, RFC 9562): 48-bit Unix milliseconds, then random bits, lower-case.
///
/// Monotonic within a process (RFC 9562 §6.2, method 3): an id made in the same millisecond as the previous one
/// (or with a clock that stepped back) continues from it, incremented, so ids made one after another sort in that
/// order — a batch of messages recorded in one transaction keeps its order.
public enum Identifier {
    public static func make(at date: Date = Date()) -> String {
        let now = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let (millis, random12, random62) = IdentifierRandom.shared.withLock { state in state.nextID(millis: now) }
        // 48 bits of time, version 7, 12 random bits, variant 10, 62 random bits.
        let high = (millis << 16) | 0x7000 | (random12 & 0x0FFF)
        let low = (random62 & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[position] = digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)]
                    position += 1
                }
            }
            func dash() {
                buffer[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high >> 32, nibbles: 8)
            dash()
            put((high >> 16) & 0xFFFF, nibbles: 4)
            dash()
            put(high & 0xFFFF, nibbles: 4)
            dash()
            put(low >> 48, nibbles: 4)
            dash()
            put(low & 0xFFFF_FFFF_FFFF, nibbles: 12)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<36]), as: UTF8.self)
        }
    }

    /// True for the canonical lower-case UUID text form (any version).
    public static func isValid(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                if byte != UInt8(ascii: "-") { return false }
            } else if !((48...57).contains(byte) || (97...102).contains(byte)) {
                return false
            }
        }
        return true
    }
}

/// xoshiro256** seeded once from the system's generator: ids need uniqueness, not secrecy, and a `getrandom`
/// system call per id was a measurable share of a bulk import.
struct IdentifierRandom: RandomNumberGenerator {
    static let shared = Mutex(IdentifierRandom())
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var last: (millis: UInt64, random12: UInt64, random62: UInt64) = (0, 0, 0)

    /// The time and random fields of the next id: fresh random bits in a new millisecond, else the previous id's
    /// 74 random bits plus a random step of 1…2^32 (carrying into the 12 high bits, then into the time).
    mutating func nextID(millis now: UInt64) -> (UInt64, UInt64, UInt64) {
        if now > last.millis {
            last = (now, next() & 0x0FFF, next() & 0x3FFF_FFFF_FFFF_FFFF)
        } else if last.millis - now > 10_000 {
            // An explicit time well in the past (`make(at:)`), not a clock step: an id of its own.
            return (now, next() & 0x0FFF, next() & 0x3FFF_FFFF_FFFF_FFFF)
        } else {
            var random62 = last.random62 + 1 + (next() & 0xFFFF_FFFF)
            var random12 = last.random12
            var millis = last.millis
            if random62 > 0x3FFF_FFFF_FFFF_FFFF {
                random62 &= 0x3FFF_FFFF_FFFF_FFFF
                random12 += 1
                if random12 > 0x0FFF {
                    random12 = 0
                    millis += 1
                }
            }
            last = (millis, random12, random62)
        }
        return (last.millis, last.random12, last.random62)
    }

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next())
    }

    mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }
}

/// Opaque keyset cursors: base64url of the sort key parts joined by a unit separator.
public enum PageCursor {
    public static func encode(_ parts: [String]) -> String {
        Data(parts.joined(separator: "\u{1F}").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The parts of a cursor, or nil when it was not made by `encode` with `count` parts.
    public static func decode(_ cursor: String, count: Int) -> [String]? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
        return parts.count == count ? parts : nil
    }

    /// Clamps a requested page size: 0 means the default; outside 1...max is an error.
    public static func limit(_ requested: Int32, default defaultLimit: Int = 50, max: Int = 200) throws(ServiceFailure)
        -> Int
    {
        if requested == 0 { return defaultLimit }
        guard requested > 0, Int(requested) <= max else {
            throw .invalid("invalid_limit", "limit must be between 1 and \(max)", field: "limit")
        }
        return Int(requested)
    }
}
