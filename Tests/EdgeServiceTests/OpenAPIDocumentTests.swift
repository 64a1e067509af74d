import Foundation
import HTTPTypes
import Testing

@testable import EdgeService

/// The generated OpenAPI document's parameter and body rules, and the JSON reading they describe.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    @Test func anIntegralNumberIsAnIntegerAndAFractionIsNot() throws {
        let whole = try JSONObject(body: Array(#"{"n": 24.0, "m": 7}"#.utf8), allowed: ["n", "m"])
        #expect(try whole.int("n") == 24 && whole.int("m") == 7)
        let fraction = try JSONObject(body: Array(#"{"n": 24.5}"#.utf8), allowed: ["n"])
        #expect(throws: APIError.self) { try fraction.int("n") }
    }

    @Test func sharedParameterNamesHaveOneTypeEverywhere() {
        #expect(text(OpenAPIParameters.query("limit", repeated: false)).contains(#""maximum":200"#))
        #expect(text(OpenAPIParameters.query("optedIn", repeated: false)).contains(#""type":"boolean""#))
        #expect(text(OpenAPIParameters.query("status", repeated: true)).contains(#""type":"array""#))
        #expect(text(OpenAPIParameters.path("tag")).contains(#""maxLength":64"#))
        #expect(text(OpenAPIParameters.query("q", repeated: false)) == #"{"type":"string"}"#)
        #expect(text(OpenAPIParameters.query("upsert", repeated: false)).contains(#"{"const":""}"#))
        #expect(!text(OpenAPIParameters.query("upsert", repeated: false, emptyIsAbsent: false)).contains("const"))
    }

    @Test func patternsAcceptWhatTheServerAcceptsAndRefuseTheRest() throws {
        func matches(_ pattern: String, _ value: String) throws -> Bool {
            try NSRegularExpression(pattern: pattern).firstMatch(
                in: value, range: NSRange(value.startIndex..., in: value)) != nil
        }
        #expect(try matches(OpenAPIFields.phonePattern, " +919876543210 ") && matches(OpenAPIFields.phonePattern, ""))
        #expect(try !matches(OpenAPIFields.phonePattern, "+0123") && !matches(OpenAPIFields.phonePattern, "12345"))
        #expect(try matches(OpenAPIFields.emailPattern, "john@example.com"))
        #expect(try !matches(OpenAPIFields.emailPattern, "a@b") && !matches(OpenAPIFields.emailPattern, "a@b.c1"))
        #expect(try matches(OpenAPIFields.tagPattern, "vip") && matches(OpenAPIFields.tagPattern, " two  words "))
        #expect(try !matches(OpenAPIFields.tagPattern, "a,b") && !matches(OpenAPIFields.tagPattern, "   "))
    }

    @Test func patchBodiesMayBeEmptyAndUpsertAlsoAnswers200() {
        let patch = RouteSpec(
            .patch, "/x/{id}", "updateX", "", tag: "X", body: .json("ContactPatch", required: false), response: "Contact")
        #expect(text(OpenAPIDocument.operation(patch)).contains(#""required":false"#))
        let create = RouteSpec(
            .post, "/x", "createX", "", tag: "X", body: .json("ContactInput"), status: 201, alsoStatus: [200],
            response: "Contact")
        let responses = text(OpenAPIDocument.operation(create))
        #expect(responses.contains(#""200":"#) && responses.contains(#""201":"#) && responses.contains(#""429":"#))
    }

    func text(_ value: JSONValue) -> String { value.serialized }
}
