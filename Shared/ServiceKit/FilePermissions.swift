import Foundation

/// Keeps what Switchboard writes private to its user: the data directory 0700, databases (with their -wal and
/// -shm files) and every other file in it 0600.
public enum FilePermissions {
    /// Sets the process umask to 077 so every file and directory created from now on is private. Call first
    /// thing in `main`.
    public static func restrictNewFiles() {
        umask(0o077)
    }

    /// Creates `directory` (0700) when missing, else tightens it to 0700.
    public static func secureDirectory(_ directory: String) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(directory, 0o700)
    }

    /// Tightens the database `path` and its -wal, -shm and -journal files, those that exist, to 0600.
    public static func secureDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { chmod(path + suffix, 0o600) }
    }
}
