import ContactsKit
import Foundation
import HTTPTypes
import NIOCore
public import ServiceKit
import Synchronization

/// CSV uploads in flight at edge: where their bodies are spooled and how many each key and org may have at once.
///
/// Edge reaches contacts over one HTTP/2 connection (about 100 concurrent streams), so an upload must not hold an
/// RPC stream while its HTTP client takes its time: the body goes to a spool file first, and only the finished file
/// is streamed to contacts, at disk speed. The caps (`SWITCHBOARD_IMPORT_UPLOADS_PER_KEY`, default 2, and
/// `SWITCHBOARD_IMPORT_UPLOADS_PER_ORG`, default 4) bound the spool's disk use and what one tenant can hold open.
public final class ImportUploads: Sendable {
    public let directory: String
    public let perKey: Int
    public let perOrg: Int
    private let inFlight = Mutex<(keys: [String: Int], orgs: [String: Int])>(([:], [:]))

    /// `directory` must exist; `make(config:dataDirectory:)` creates it.
    public init(directory: String = "/tmp", perKey: Int = 2, perOrg: Int = 4) {
        self.directory = directory
        self.perKey = perKey
        self.perOrg = perOrg
    }

    /// The uploads of a running edge: `<data dir>/uploads` (0700) and the caps from the environment.
    public static func make(config: ConfigReader, dataDirectory: String) throws -> ImportUploads {
        let directory = (dataDirectory as NSString).appendingPathComponent("uploads")
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = chmod(directory, 0o700)
        return ImportUploads(
            directory: directory,
            perKey: max(1, try config.int("SWITCHBOARD_IMPORT_UPLOADS_PER_KEY", default: 2)),
            perOrg: max(1, try config.int("SWITCHBOARD_IMPORT_UPLOADS_PER_ORG", default: 4)))
    }

    /// Which cap a refused upload hit.
    enum Refusal: String { case key, org }

    /// Takes a slot for one upload, or answers which cap is full; a taken slot is given back with `release`.
    func claim(keyID: String, orgID: String) -> Refusal? {
        inFlight.withLock { counts in
            if counts.keys[keyID, default: 0] >= perKey { return .key }
            if counts.orgs[orgID, default: 0] >= perOrg { return .org }
            counts.keys[keyID, default: 0] += 1
            counts.orgs[orgID, default: 0] += 1
            return nil
        }
    }

    func release(keyID: String, orgID: String) {
        inFlight.withLock { counts in
            counts.keys[keyID] = counts.keys[keyID].flatMap { $0 > 1 ? $0 - 1 : nil }
            counts.orgs[orgID] = counts.orgs[orgID].flatMap { $0 > 1 ? $0 - 1 : nil }
        }
    }
}

/// One upload's body on disk: a 0600 file in the spool directory, unlinked as soon as it is created, so it goes
/// away when the upload ends however it ends (answered, refused, cancelled, or edge killed).
final class SpooledUpload: Sendable {
    private let descriptor: Int32

    init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("\(Identifier.make()).csv")
        descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw APIError(.internalServerError, "storage_error", "cannot store the upload")
        }
        unlink(path)
    }

    deinit { close(descriptor) }

    /// Appends one piece of the body.
    func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else {
                    throw APIError(.internalServerError, "storage_error", "cannot store the upload")
                }
                offset += written
            }
        }
    }

    /// The stored bytes from the start, in chunks of up to 1 MiB.
    var chunks: Chunks { Chunks(upload: self) }

    struct Chunks: AsyncSequence, Sendable {
        let upload: SpooledUpload

        struct AsyncIterator: AsyncIteratorProtocol {
            let upload: SpooledUpload
            var offset: off_t = 0

            mutating func next() async throws -> [UInt8]? {
                let descriptor = upload.descriptor
                let start = offset
                var failed = false
                let bytes = [UInt8](unsafeUninitializedCapacity: 1 << 20) { buffer, count in
                    var read = -1
                    repeat { read = pread(descriptor, buffer.baseAddress, buffer.count, start) } while read < 0
                        && errno == EINTR
                    failed = read < 0
                    count = Swift.max(read, 0)
                }
                guard !failed else { throw APIError(.internalServerError, "storage_error", "cannot read the upload") }
                offset += off_t(bytes.count)
                return bytes.isEmpty ? nil : bytes
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(upload: upload) }
    }
}
