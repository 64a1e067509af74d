import Foundation
import Testing

@testable import MessagingService

/// The hand-written JSON reader must read exactly what `JSONDecoder` reads, and refuse what it refuses.
@Suite("Provider JSON reader")
struct ProviderJSONParserTests {
    static let fixtures: [URL] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/whatsapp")
        return ((try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }()

    @Test func readsEveryFixtureLikeJSONDecoder() throws {
        #expect(Self.fixtures.count >= 25)
        for url in Self.fixtures {
            let data = try Data(contentsOf: url)
            let expected = try JSONDecoder().decode(ProviderJSON.self, from: data)
            #expect(try ProviderJSONParser.parse(data) == expected, "\(url.lastPathComponent)")
        }
    }

    @Test(arguments: [
        (#"{"a":"\"\\\/\b\f\n\r\t","b":"\u00e9\u20ac","c":"\ud83d\ude00"}"#, "escapes and surrogates"),
        (#"[0, -1, 9223372036854775807, 1.5, -2.5e3, 1E2, true, false, null, "", {}, []]"#, "scalars"),
        ("  {\"nested\": {\"deep\": [[[{\"x\": \"ü\"}]]]}}  ", "whitespace and nesting"),
    ])
    func readsWhatJSONDecoderReads(text: String, _ what: String) throws {
        let data = Data(text.utf8)
        #expect(try ProviderJSONParser.parse(data) == (try JSONDecoder().decode(ProviderJSON.self, from: data)), "\(what)")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "\"\\x\"", "\"\\ud83d\"", "tru", "nul", "-", "1e999", "[1] 2",
        "\"a\u{01}b\"", "{\"a\":}", "[\"unterminated]",
    ])
    func refusesWhatIsNotJSON(text: String) {
        #expect(throws: (any Error).self) { try ProviderJSONParser.parse(Data(text.utf8)) }
    }

    @Test func refusesInvalidUTF8AndRunawayNesting() {
        #expect(throws: (any Error).self) { try ProviderJSONParser.parse(Data([0x22, 0xFF, 0xFE, 0x22])) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: (any Error).self) { try ProviderJSONParser.parse(Data(deep.utf8)) }
    }
}
