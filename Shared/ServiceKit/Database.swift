public import GRDB
import Foundation

/// Opens a service's SQLite database: WAL, a busy timeout, foreign keys, migrations applied.
public enum SQLiteDatabase {
    /// - Parameter durable: `synchronous=FULL` (survives power loss) instead of NORMAL (survives process crashes).
    public static func openPool(path: String, migrator: DatabaseMigrator, durable: Bool = false) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.maximumReaderCount = 4
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try migrator.migrate(pool)
        return pool
    }

    /// An in-memory database with the same migrations, for tests.
    public static func openInMemory(migrator: DatabaseMigrator) throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try migrator.migrate(queue)
        return queue
    }
}

/// Milliseconds since the Unix epoch, the one time representation stored in every database.
public typealias Millis = Int64

extension Millis {
    public static func now() -> Millis { clock_ms() }
}

@inline(__always) func clock_ms() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}

/// A `LIKE … ESCAPE '\\'` pattern matching `text` anywhere, with `%`, `_` and `\\` in it taken literally.
public func likePattern(containing text: String) -> String {
    var escaped = ""
    for character in text {
        if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
        escaped.append(character)
    }
    return "%\(escaped)%"
}
