import Foundation
import GRPCCore
import ServiceKit
import Testing

@Suite("Identifiers and cursors")
struct IdentifierTests {
    @Test func identifiersAreCanonicalTimeOrderedUUIDv7() throws {
        let earlier = Identifier.make(at: Date(timeIntervalSince1970: 1_700_000_000))
        let later = Identifier.make(at: Date(timeIntervalSince1970: 1_700_000_000.002))
        for id in [earlier, later, Identifier.make()] {
            #expect(Identifier.isValid(id))
            let characters = Array(id)
            #expect(characters[14] == "7")
            #expect("89ab".contains(characters[19]))
            #expect(UUID(uuidString: id) != nil)
        }
        #expect(earlier < later)
        #expect(earlier.hasPrefix("018bcfe5-6800"))
        #expect(Set((0..<1000).map { _ in Identifier.make() }).count == 1000)
    }

    /// Ids made one after another sort in the order they were made, even within one millisecond.
    @Test func identifiersMadeInTheSameMillisecondKeepTheirOrder() {
        let now = Date()
        let sameInstant = (0..<5000).map { _ in Identifier.make(at: now) }
        #expect(sameInstant == sameInstant.sorted())
        #expect(Set(sameInstant).count == 5000)
        let running = (0..<5000).map { _ in Identifier.make() }
        #expect(running == running.sorted())
    }

    @Test(arguments: ["", "not-a-uuid", "01A213E4-319C-7E03-A9DD-AC320A66FD54", "01a213e4-319c-7e03-a9dd-ac320a66fd5", "01a213e4x319c-7e03-a9dd-ac320a66fd54"])
    func invalidIdentifiersAreRefused(text: String) {
        #expect(!Identifier.isValid(text))
    }

    @Test func cursorsRoundTripAndRejectForgeries() throws {
        let cursor = PageCursor.encode(["42", "phone"])
        #expect(PageCursor.decode(cursor, count: 2) == ["42", "phone"])
        #expect(!cursor.contains("=") && !cursor.contains("/") && !cursor.contains("+"))
        #expect(PageCursor.decode(cursor, count: 1) == nil)
        #expect(PageCursor.decode("%%%", count: 1) == nil)
        #expect(throws: ServiceFailure.self) { try PageCursor.limit(201) }
        #expect(throws: ServiceFailure.self) { try PageCursor.limit(-1) }
        #expect(try PageCursor.limit(0) == 50)
        #expect(try PageCursor.limit(200) == 200)
    }

    @Test func secretsCompareWithoutShortcuts() {
        #expect(constantTimeEqual("token", "token"))
        #expect(!constantTimeEqual("token", "tokeN"))
        #expect(!constantTimeEqual("token", "token2"))
        #expect(!constantTimeEqual("", "x"))
    }
}

@Suite("Service failures over gRPC")
struct ServiceFailureTests {
    @Test func reasonFieldAndDetailsSurviveTheMetadataRoundTrip() throws {
        let failure = ServiceFailure(
            .alreadyExists, "contact_exists", "exists", field: "phone", details: ["contactId": "c1"])
        let error = RPCError(failure)
        #expect(error.code == .alreadyExists)
        #expect(error.metadata[stringValues: "switchboard-reason"].map { $0 } == ["contact_exists"])
        #expect(ServiceFailure(error) == failure)
        #expect(ServiceFailure(RPCError(code: .internalError, message: "boom")) == nil)
    }

    @Test func configurationReadsEnvironmentWithDefaults() throws {
        let config = ConfigReader(["SWITCHBOARD_CONTACTS_PORT": "9101", "SWITCHBOARD_INTERNAL_TOKEN": "t"])
        #expect(try ServiceName.contacts.port(config) == 9101)
        #expect(try ServiceName.messaging.port(config) == 7103)
        #expect(ServiceName.analytics.host(config) == "127.0.0.1")
        let common = try CommonConfig(config)
        #expect(common.dataDirectory == "./data" && common.internalToken == "t" && common.bindHost == "127.0.0.1")
        #expect(throws: ConfigError.self) { try ServiceName.contacts.port(ConfigReader(["SWITCHBOARD_CONTACTS_PORT": "http"])) }
        #expect(throws: ConfigError.self) { try ServiceName.contacts.port(ConfigReader(["SWITCHBOARD_CONTACTS_PORT": "70000"])) }
    }
}
