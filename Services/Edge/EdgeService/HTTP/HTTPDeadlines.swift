public import Hummingbird
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTPTypes
public import ServiceKit

/// How long a client may take over each part of an HTTP/1.1 exchange before edge closes the connection (README,
/// configuration; 0 turns one off):
///
/// - `SWITCHBOARD_HTTP_IDLE_TIMEOUT_S` (60): a kept-alive connection with no request in progress.
/// - `SWITCHBOARD_HTTP_HEADER_TIMEOUT_S` (10): from the first byte of a request to the end of its headers.
/// - `SWITCHBOARD_HTTP_BODY_TIMEOUT_S` (30): the longest a request body may stall — from the end of the headers, or
///   from the last body bytes, to the next ones. A stall, not a total, so a big upload from a slow link still
///   finishes while a half-sent body is closed.
///
/// None applies while a response is being written, so a long-lived response (the event stream) is never cut.
public struct HTTPDeadlines: Sendable {
    public var idle: TimeAmount?
    public var header: TimeAmount?
    public var body: TimeAmount?

    public init(config: ConfigReader) throws(ConfigError) {
        func seconds(_ key: String, _ fallback: Int) throws(ConfigError) -> TimeAmount? {
            let value = try config.int(key, default: fallback)
            guard value >= 0 else { throw ConfigError(key: key, value: String(value), expected: "seconds (0: off)") }
            return value == 0 ? nil : .seconds(Int64(value))
        }
        idle = try seconds("SWITCHBOARD_HTTP_IDLE_TIMEOUT_S", 60)
        header = try seconds("SWITCHBOARD_HTTP_HEADER_TIMEOUT_S", 10)
        body = try seconds("SWITCHBOARD_HTTP_BODY_TIMEOUT_S", 30)
    }

    /// Hummingbird's HTTP/1.1 server (with its idle timeout) plus the header and body deadlines.
    public var server: HTTPServerBuilder {
        let deadlines = self
        return HTTPServerBuilder { responder in DeadlinedHTTP1Channel(responder: responder, deadlines: deadlines) }
    }
}

/// `HTTP1Channel` with a watch on the raw bytes (first in the pipeline: a request has begun) and one on the decoded
/// parts (its head and its end have arrived), sharing one timer per connection.
struct DeadlinedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let responder: HTTPChannelHandler.Responder
    let deadlines: HTTPDeadlines

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let progress = RequestProgress(channel: channel)
        let deadlines = self.deadlines
        let inner = HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: [RequestPartsWatch(progress: progress, body: deadlines.body)],
                idleTimeout: deadlines.idle))
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                RequestBytesWatch(progress: progress, header: deadlines.header), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await HTTP1Channel(responder: responder).handle(value: value, logger: logger)
    }
}

/// Where the connection's current request stands, and the deadline running for it. Touched only on the
/// connection's event loop (both handlers run there).
final class RequestProgress: @unchecked Sendable {
    let channel: any Channel
    /// Between a request's head and its end.
    var readingBody = false
    private var timer: Scheduled<Void>?

    init(channel: any Channel) { self.channel = channel }

    var armed: Bool { timer != nil }

    func arm(_ amount: TimeAmount) {
        cancel()
        let channel = self.channel
        timer = channel.eventLoop.scheduleTask(in: amount) { channel.close(promise: nil) }
    }

    func cancel() {
        timer?.cancel()
        timer = nil
    }
}

/// Starts the header deadline when bytes of a new request arrive.
final class RequestBytesWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let progress: RequestProgress
    let header: TimeAmount?

    init(progress: RequestProgress, header: TimeAmount?) {
        self.progress = progress
        self.header = header
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let header, !progress.readingBody, !progress.armed { progress.arm(header) }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        progress.cancel()
        context.fireChannelInactive()
    }
}

/// Ends the header deadline at a request's head, runs the body's stall deadline (re-armed by every part) until its end.
final class RequestPartsWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let progress: RequestProgress
    let body: TimeAmount?

    init(progress: RequestProgress, body: TimeAmount?) {
        self.progress = progress
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            progress.readingBody = true
            if let body { progress.arm(body) } else { progress.cancel() }
        case .body:
            if let body { progress.arm(body) }
        case .end:
            progress.readingBody = false
            progress.cancel()
        }
        context.fireChannelRead(data)
    }
}
