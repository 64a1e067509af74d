/// Descriptions of the values that hold the internal token, with the token left out: ServiceLifecycle and
/// Hummingbird log services by `"\(service)"` at debug level, and a struct's default description prints every
/// stored property, nested ones included.
public protocol RedactedDescription: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// What may be shown.
    var redactedFields: KeyValuePairs<String, Any> { get }
}

extension RedactedDescription {
    public var description: String {
        let fields = redactedFields.map { "\($0.key): \($0.value)" } + ["token: <redacted>"]
        return "\(type(of: self))(\(fields.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: redactedFields, displayStyle: .struct) }
}

extension GRPCServerService: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { ["name": name, "host": host, "port": port] }
}

extension InternalTokenInterceptor: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { [:] }
}

extension CommonConfig: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        ["dataDirectory": dataDirectory, "bindHost": bindHost, "logLevel": logLevel]
    }
}
