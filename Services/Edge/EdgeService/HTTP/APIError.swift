import Foundation
import GRPCCore
public import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import ServiceKit

/// An error answered as `{"error": {"code", "message", "details"}}` with an HTTP status.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: [(String, JSONValue)]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil,
                details: [(String, JSONValue)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        if let field { self.details.insert(("field", .string(field)), at: 0) }
    }

    static let unauthorized = APIError(
        .unauthorized, "unauthorized", "a valid API key is required: Authorization: Bearer <key>")

    static func notFound(_ what: String) -> APIError {
        APIError(.notFound, "\(what)_not_found", "no such \(what.replacingOccurrences(of: "_", with: " "))")
    }

    /// Refusals of a well-formed request that cannot be processed as asked (422 rather than 409).
    static let unprocessable: Set<String> = [
        "template_not_found", "template_not_approved", "template_parameter_mismatch", "idempotency_key_reused",
    ]

    /// The HTTP translation of a service's gRPC failure (DESIGN.md §6).
    init(_ failure: ServiceFailure) {
        let status: HTTPResponse.Status =
            switch failure.code {
            case .invalidArgument: failure.reason == "payload_too_large" ? .contentTooLarge : .badRequest
            case .unauthenticated: .unauthorized
            case .permissionDenied: .forbidden
            case .notFound: .notFound
            case .alreadyExists, .aborted, .failedPrecondition:
                Self.unprocessable.contains(failure.reason) ? .unprocessableContent : .conflict
            case .resourceExhausted: failure.reason == "payload_too_large" ? .contentTooLarge : .tooManyRequests
            case .unavailable: .serviceUnavailable
            case .deadlineExceeded: .gatewayTimeout
            default: .internalServerError
            }
        var details = failure.details.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }
        if let field = failure.field { details.insert(("field", .string(field)), at: 0) }
        self.init(status, failure.reason, failure.message, details: details)
    }

    var body: JSONValue {
        .object([
            ("error", .object([("code", .string(code)), ("message", .string(message)), ("details", .object(details))]))
        ])
    }

    func response(requestID: String?) -> Response {
        var response = Response.json(body, status: status)
        if let requestID { response.headers[.requestID] = requestID }
        return response
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
}

extension Response {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(value.serialized)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
    }

    static func noContent() -> Response { Response(status: .noContent) }
}

/// Assigns the request id, binds it for the RPCs this request makes, and renders every error as JSON.
struct ErrorAndRequestIDMiddleware<Context: Hummingbird.RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let incoming = request.headers[.requestID].flatMap { $0.count <= 128 && !$0.isEmpty ? $0 : nil }
        let requestID = incoming ?? Identifier.make()
        return await ServiceKit.RequestContext.$requestID.withValue(requestID) {
            var response: Response
            do {
                response = try await next(request, context)
            } catch let error as APIError {
                response = error.response(requestID: nil)
            } catch let failure as ServiceFailure {
                if failure.code == .unknown || failure.code == .internalError {
                    logger.error("request failed", metadata: ["request-id": "\(requestID)", "error": "\(failure)"])
                }
                response = APIError(failure).response(requestID: nil)
            } catch let error as any HTTPResponseError {
                response = Self.translate(error.status).response(requestID: nil)
            } catch {
                logger.error("unexpected error", metadata: ["request-id": "\(requestID)", "error": "\(error)"])
                response = APIError(.internalServerError, "internal_error", "unexpected error").response(requestID: nil)
            }
            response.headers[.requestID] = requestID
            return response
        }
    }

    static func translate(_ status: HTTPResponse.Status) -> APIError {
        switch status {
        case .notFound: APIError(.notFound, "route_not_found", "no such route")
        case .methodNotAllowed: APIError(.methodNotAllowed, "method_not_allowed", "this route does not accept that method")
        case .contentTooLarge: APIError(.contentTooLarge, "payload_too_large", "the request body is too large")
        default: APIError(status, "http_\(status.code)", status.reasonPhrase)
        }
    }
}
