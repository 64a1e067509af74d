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
    /// Extra response headers (`Retry-After`, `Allow`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil,
                details: [(String, JSONValue)] = []) {
        self.status = status
        self.code = code
        self.message = Echo.capped(message)
        self.details = details
        if let field { self.details.insert(("field", .string(Echo.short(field, limit: 200))), at: 0) }
    }

    static let unauthorized = APIError(
        .unauthorized, "unauthorized", "a valid API key is required: Authorization: Bearer <key>")

    /// What a 500 says: nothing of the internal failure (that goes to the log), only how to find it there.
    static func internalError(requestID: String) -> APIError {
        APIError(
            .internalServerError, "internal_error", "an internal error occurred; quote request id \(requestID)",
            details: [("requestId", .string(requestID))])
    }

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
        for field in headers { response.headers.append(field) }
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
    /// The methods each public path serves, for 405 and `Allow` (set once every route is registered).
    var methods: RouteMethods? = nil

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
                let error = APIError(failure)
                if error.status == .internalServerError {
                    logger.error("request failed", metadata: ["request-id": "\(requestID)", "error": "\(failure)"])
                    response = APIError.internalError(requestID: requestID).response(requestID: nil)
                } else {
                    response = error.response(requestID: nil)
                }
            } catch let error as any HTTPResponseError {
                response = translate(error.status, request).response(requestID: nil)
            } catch {
                logger.error("unexpected error", metadata: ["request-id": "\(requestID)", "error": "\(error)"])
                response = APIError.internalError(requestID: requestID).response(requestID: nil)
            }
            response.headers[.requestID] = requestID
            // API answers are per caller and often personal: no shared or browser cache keeps them (the console's
            // static files set their own validators).
            if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
            return response
        }
    }

    /// A path served with other methods answers 405 with `Allow` rather than 404.
    func translate(_ status: HTTPResponse.Status, _ request: Request) -> APIError {
        if status == .notFound, let allowed = methods?.allowed(path: request.uri.path), !allowed.isEmpty {
            var error = APIError(
                .methodNotAllowed, "method_not_allowed",
                "\(request.method.rawValue.prefix(16)) is not served here; allowed: \(allowed.joined(separator: ", "))")
            error.headers[.allow] = allowed.joined(separator: ", ")
            return error
        }
        return Self.translate(status)
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
