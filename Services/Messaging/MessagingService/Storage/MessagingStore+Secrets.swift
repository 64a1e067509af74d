import Foundation
import GRDB

extension MessagingStore {
    /// The upgrade step run on every open: seals the plaintext secrets of rows written before secrets were
    /// encrypted, and checks that every sealed row opens with this key, failing the start when one does not
    /// (a wrong or lost key is never read as "no secrets"). With `secure_delete` on and the WAL truncated
    /// afterwards, the plaintext does not linger in freed pages or old WAL frames.
    func sealSecrets(key: SecretsKey) throws {
        try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        let sealed = try writer.write { db -> Int in
            var sealed = 0
            var unreadable = 0
            let rows = try Row.fetchAll(db, sql: "SELECT id, secrets FROM channel")
            for row in rows {
                let id: String = row[0]
                let text: String = row[1]
                if SecretsBox.isSealed(text) {
                    if (try? box.open(text, channelID: id)) == nil { unreadable += 1 }
                    continue
                }
                let sealedText = try box.seal(text, channelID: id)
                try db.execute(sql: "UPDATE channel SET secrets = ? WHERE id = ?", arguments: [sealedText, id])
                sealed += 1
            }
            // Nothing is sealed when the key is wrong: the rows stay as they were for the right key.
            if unreadable > 0 { throw SecretsError.wrongKey(source: key.source, channels: unreadable) }
            return sealed
        }
        if sealed > 0 {
            try writer.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                _ = try? db.checkpoint(.truncate)
            }
        }
    }
}
