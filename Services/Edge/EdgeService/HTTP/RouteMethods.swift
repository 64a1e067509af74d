import HTTPTypes
import Synchronization

/// The methods each registered path template serves, so that a known path asked with another method (TRACE,
/// say) answers 405 with `Allow` instead of 404.
final class RouteMethods: Sendable {
    private let table = Mutex<[(segments: [Substring], method: String)]>([])

    /// Takes the registered routes (once, after every route is added).
    func set(_ specs: [RouteSpec]) {
        let rows = specs.map { (segments: $0.path.split(separator: "/"), method: $0.method.rawValue) }
        table.withLock { $0 = rows }
    }

    /// The methods some route serves on `path`, sorted; empty when no route has that path.
    func allowed(path: String) -> [String] {
        let segments = path.split(separator: "/")
        let methods = table.withLock { rows in
            rows.filter { Self.matches($0.segments, segments) }.map(\.method)
        }
        return Set(methods).sorted()
    }

    /// A template segment `{name}` matches any segment; others match themselves.
    static func matches(_ template: [Substring], _ segments: [Substring]) -> Bool {
        guard template.count == segments.count else { return false }
        return zip(template, segments).allSatisfy { pattern, segment in
            (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
        }
    }
}
