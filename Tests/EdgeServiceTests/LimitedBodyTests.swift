import Hummingbird
import NIOCore
import Testing

@testable import EdgeService

@Suite("Upload size limit")
struct LimitedBodyTests {
    @Test func bytesPassUntilTheLimitThenTheStreamFailsAndSaysSo() async throws {
        let small = LimitedBody(body: RequestBody(buffer: ByteBuffer(string: "0123456789")), limit: 10)
        var total: [UInt8] = []
        for try await chunk in small { total += chunk }
        #expect(total.count == 10 && !small.exceeded.isSet)

        let big = LimitedBody(body: RequestBody(buffer: ByteBuffer(string: "0123456789A")), limit: 10)
        await #expect(throws: APIError.self) { for try await _ in big {} }
        #expect(big.exceeded.isSet)
    }
}
