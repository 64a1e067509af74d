import Foundation

/// The provider sample bodies under `Tests/Fixtures`, found from this file's place in the repository.
enum WebhookFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    static func data(_ path: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(path))
    }

    static func names(in folder: String, ending suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)
            .filter { $0.hasSuffix(suffix) }
            .sorted()
    }

    /// A fixture JSON file as plain Foundation values.
    static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: data(path))
    }

    /// A `contentJSON` string as a dictionary, so tests compare values rather than spelling.
    static func object(_ contentJSON: String) -> NSDictionary? {
        (try? JSONSerialization.jsonObject(with: Data(contentJSON.utf8))) as? NSDictionary
    }
}
