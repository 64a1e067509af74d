import Crypto
import Foundation
public import ServiceKit
import Synchronization

/// The console's static files: the `static/` folder shipped as a resource of EdgeService, or the folder
/// `SWITCHBOARD_CONSOLE_DIR` names (edit the JavaScript without rebuilding). Files are read once and kept with
/// their ETag; from a configured folder a file is read again when its size or modification time changes.
public final class ConsoleFiles: Sendable {
    /// A file as served: its bytes, its strong ETag (a content hash) and its media type.
    struct File: Sendable {
        let bytes: [UInt8]
        let eTag: String
        let contentType: String
        let stamp: Stamp
    }

    struct Stamp: Equatable, Sendable {
        let size: Int
        let modified: Double
    }

    let root: URL
    /// Whether a file may change while edge runs (a configured folder) and so is checked on each request.
    let watched: Bool
    private let cache = Mutex<[String: File]>([:])

    init(root: URL, watched: Bool) {
        self.root = root.standardizedFileURL
        self.watched = watched
    }

    /// The configured folder, else the files built into edge.
    public static func make(config: ConfigReader) throws(ConfigError) -> ConsoleFiles {
        if let folder = config.optionalString("SWITCHBOARD_CONSOLE_DIR") {
            var isDirectory: ObjCBool = false
            let index = URL(fileURLWithPath: folder).appendingPathComponent("index.html").path
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
                FileManager.default.isReadableFile(atPath: index)
            else {
                throw ConfigError(
                    key: "SWITCHBOARD_CONSOLE_DIR", value: folder, expected: "a readable folder holding index.html")
            }
            return ConsoleFiles(root: URL(fileURLWithPath: folder), watched: true)
        }
        return bundled
    }

    /// The `static/` folder of edge's resource bundle.
    public static let bundled: ConsoleFiles = {
        let folder = Bundle.module.url(forResource: "static", withExtension: nil)
            ?? Bundle.module.bundleURL.appendingPathComponent("static")
        return ConsoleFiles(root: folder, watched: false)
    }()

    /// The file at a relative path made of `segments`, or nil when there is none (or the path is refused).
    func file(_ segments: [Substring]) -> File? {
        guard Self.isSafe(segments) else { return nil }
        let relative = segments.joined(separator: "/")
        let url = root.appendingPathComponent(relative).standardizedFileURL
        // Belt and braces: whatever the segments were, the file must lie inside the root.
        guard url.path.hasPrefix(root.path + "/") else { return nil }
        if !watched, let cached = cache.withLock({ $0[relative] }) { return cached }
        guard let stamp = Self.stamp(url.path) else { return nil }
        if let cached = cache.withLock({ $0[relative] }), cached.stamp == stamp { return cached }
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let bytes = [UInt8](data)
        let digest = SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined()
        let file = File(
            bytes: bytes, eTag: "\"\(digest)\"", contentType: Self.contentType(of: relative), stamp: stamp)
        cache.withLock { $0[relative] = file }
        return file
    }

    /// Plain names only: letters, digits, `-`, `_` and inner dots; no `..`, no hidden files, no encoded bytes.
    static func isSafe(_ segments: [Substring]) -> Bool {
        guard !segments.isEmpty, segments.count <= 8 else { return false }
        return segments.allSatisfy { segment in
            guard let first = segment.unicodeScalars.first, first != ".", segment.count <= 128 else { return false }
            return segment.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".": true
                default: false
                }
            }
        }
    }

    /// A regular file's size and modification time; nil for anything else.
    static func stamp(_ path: String) -> Stamp? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            attributes[.type] as? FileAttributeType == .typeRegular
        else { return nil }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return Stamp(size: size, modified: modified)
    }

    static func contentType(of path: String) -> String {
        switch path.split(separator: ".").last.map({ $0.lowercased() }) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json": "application/json; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "woff2": "font/woff2"
        case "txt": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
    }
}
