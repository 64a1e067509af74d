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

    /// The methods served on `path`, sorted; empty when no route has that path. Like the router, a literal segment
    /// wins over a `{parameter}` at the same place: `/auto-tag-rules/evaluate` answers its own methods, not those of
    /// `/auto-tag-rules/{id}`.
    func allowed(path: String) -> [String] {
        let segments = path.split(separator: "/")
        let matching = table.withLock { rows in rows.filter { Self.matches($0.segments, segments) } }
        guard let best = matching.map({ Self.specificity($0.segments) }).max(by: { $0.lexicographicallyPrecedes($1) })
        else { return [] }
        return Set(matching.filter { Self.specificity($0.segments) == best }.map(\.method)).sorted()
    }

    /// 1 for each literal segment, 0 for each parameter, in path order (compared lexicographically).
    static func specificity(_ template: [Substring]) -> [Int] {
        template.map { $0.hasPrefix("{") && $0.hasSuffix("}") ? 0 : 1 }
    }

    /// A template segment `{name}` matches any segment; others match themselves.
    static func matches(_ template: [Substring], _ segments: [Substring]) -> Bool {
        guard template.count == segments.count else { return false }
        return zip(template, segments).allSatisfy { pattern, segment in
            (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
        }
    }
}
