import Foundation

/// The launcher's side of keeping the data directory private: a umask of 077 for itself and the children it
/// starts, and on start the directory made 0700 and everything already in it tightened (folders 0700, files
/// 0600), so a data directory made by an older version or by hand is private too.
enum DataDirectory {
    static func restrictNewFiles() {
        umask(0o077)
    }

    static func prepare(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LauncherError("cannot create the data directory \(path): \(error)")
        }
        chmod(path, 0o700)
        guard let walker = FileManager.default.enumerator(atPath: path) else { return }
        while let relative = walker.nextObject() as? String {
            let full = path + "/" + relative
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: chmod(full, 0o700)
            case S_IFREG: chmod(full, 0o600)
            default: break  // symlinks and sockets are left alone
            }
        }
    }
}
