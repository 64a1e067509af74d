import Foundation
import NIOCore
import Testing

@testable import EdgeService

@Suite("Import uploads: caps per key and org, the spool file")
struct ImportUploadsTests {
    @Test func aKeyAndAnOrgHoldAtMostTheirCapsAndReleasedSlotsComeBack() {
        let uploads = ImportUploads(perKey: 2, perOrg: 3)
        #expect(uploads.claim(keyID: "k1", orgID: "a") == nil)
        #expect(uploads.claim(keyID: "k1", orgID: "a") == nil)
        #expect(uploads.claim(keyID: "k1", orgID: "a") == .key)
        #expect(uploads.claim(keyID: "k2", orgID: "a") == nil)
        #expect(uploads.claim(keyID: "k3", orgID: "a") == .org)
        #expect(uploads.claim(keyID: "k4", orgID: "b") == nil)  // another org is not affected
        uploads.release(keyID: "k1", orgID: "a")
        #expect(uploads.claim(keyID: "k3", orgID: "a") == nil)
        #expect(uploads.claim(keyID: "k1", orgID: "a") == .org)
    }

    @Test func theSpoolGivesBackEveryByteInOrderAndLeavesNoFileBehind() async throws {
        let directory = NSTemporaryDirectory() + "spool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try SpooledUpload(directory: directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        let pieces = (0..<5).map { index in [UInt8](repeating: UInt8(index), count: 700_000) }
        for piece in pieces { try file.write(ByteBuffer(bytes: piece)) }
        var chunks: [[UInt8]] = []
        for try await chunk in file.chunks { chunks.append(chunk) }
        #expect(chunks.allSatisfy { $0.count <= 1 << 20 })
        #expect(chunks.flatMap { $0 } == pieces.flatMap { $0 })
    }
}
