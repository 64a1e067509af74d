import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The agent console (issue 12): `index.html` for every path of the single-page app, its assets under
/// `/assets/…` with an ETag (`Cache-Control: no-cache`, so a browser revalidates and gets 304), and
/// `/favicon.ico`. These are pages, not API routes: they are not in the OpenAPI document, and every other
/// `/api/…` path keeps its JSON 404.
struct ConsoleRoutes {
    let files: ConsoleFiles
    let headers: ConsoleHeaders

    /// The paths that load the app (part 2 adds its screens under /contacts, /settings and /analytics).
    static let appPaths = [
        "/", "/signin", "/accept-invite", "/chat", "/chat/:id", "/contacts", "/contacts/**", "/settings",
        "/settings/**", "/analytics", "/analytics/**",
    ]

    func register(on router: Router<EdgeRequestContext>) {
        for path in Self.appPaths {
            router.get(RouterPath(stringLiteral: path), use: page)
            router.head(RouterPath(stringLiteral: path), use: page)
        }
        router.get("/assets/**", use: asset)
        router.head("/assets/**", use: asset)
        router.get("/favicon.ico", use: favicon)
        router.head("/favicon.ico", use: favicon)
        // A page or file is only read: any method that would change something is 405, not a 404 for a page
        // that is there.
        for path in Self.appPaths + ["/assets/**", "/favicon.ico"] {
            for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
                router.on(RouterPath(stringLiteral: path), method: method, use: Self.readOnly)
            }
        }
    }

    /// 405 `method_not_allowed` with `Allow: GET, HEAD` (the house error shape).
    @Sendable static func readOnly(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        var error = APIError(
            .methodNotAllowed, "method_not_allowed",
            "\(request.method.rawValue.prefix(16)) is not served here; allowed: GET, HEAD")
        error.headers[.allow] = "GET, HEAD"
        throw error
    }

    @Sendable func page(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        guard let file = files.file(["index.html"]) else { throw HTTPError(.notFound) }
        var response = Self.response(file.bytes, contentType: file.contentType, head: request.method == .head)
        headers.page(&response.headers)
        return response
    }

    @Sendable func asset(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        try serve(["assets"] + context.parameters.getCatchAll(), request)
    }

    @Sendable func favicon(_ request: Request, _ context: EdgeRequestContext) async throws -> Response {
        try serve(["favicon.ico"], request)
    }

    /// A static file with its ETag; 304 when the browser already holds it.
    func serve(_ segments: [Substring], _ request: Request) throws -> Response {
        guard let file = files.file(segments) else { throw HTTPError(.notFound) }
        var response: Response
        if Self.matches(request.headers[values: .ifNoneMatch], eTag: file.eTag) {
            response = Response(status: .notModified)
        } else {
            response = Self.response(file.bytes, contentType: file.contentType, head: request.method == .head)
        }
        response.headers[.eTag] = file.eTag
        headers.asset(&response.headers)
        return response
    }

    /// Whether any `If-None-Match` value (a list, possibly weak `W/"…"`, or `*`) names this ETag.
    static func matches(_ values: [String], eTag: String) -> Bool {
        values.flatMap { $0.split(separator: ",") }.contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == eTag || tag == "W/" + eTag
        }
    }

    static func response(_ bytes: [UInt8], contentType: String, head: Bool) -> Response {
        var response = Response(
            status: .ok, headers: [.contentType: contentType],
            body: head ? .init() : .init(byteBuffer: ByteBuffer(bytes: bytes)))
        response.headers[.contentLength] = String(bytes.count)
        return response
    }
}
