//! What RocksDB leaves unsaid when it refuses to open a database.
//!
//! A record of the write-ahead log that fails its checksum stops the open (both tiers open their
//! databases with `TolerateCorruptedTailRecords`), but RocksDB's answer is only
//! `Corruption: checksum mismatch`: the damaged file is named in its own log (`LOG` in the
//! database's directory) alone. [`name_corruption`] adds it, so that the operator reading why a
//! process refused to start knows which file is damaged.

use std::path::Path;

/// Adds to `message` — RocksDB's answer when it refused to open the database in `dir` — the files
/// RocksDB's log names as corrupt during that open, e.g. `Corruption: checksum mismatch (in
/// /var/lib/renkei/node/000004.log)`. Any other message, or when the log names no file, is
/// returned as it is.
pub fn name_corruption(dir: &Path, message: &str) -> String {
    if !message.contains("Corruption") {
        return message.to_owned();
    }
    let log = match std::fs::read(dir.join("LOG")) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => return message.to_owned(),
    };
    let mut files: Vec<&str> = Vec::new();
    for line in log.lines() {
        // `<time> <thread> [WARN] [db/db_impl/db_impl_open.cc:1117] <file>: dropping <n> bytes;
        // Corruption: checksum mismatch`
        let Some((before, after)) = line.split_once(": dropping ") else {
            continue;
        };
        if !after.contains("Corruption") {
            continue;
        }
        let file = before
            .rsplit_once("] ")
            .map_or(before, |(_, file)| file)
            .trim();
        if !file.is_empty() && !files.contains(&file) {
            files.push(file);
        }
    }
    if files.is_empty() {
        return message.to_owned();
    }
    format!("{message} (in {})", files.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_write_ahead_log_rocksdb_found_damaged() {
        let dir = tempfile_dir();
        std::fs::write(
            dir.join("LOG"),
            "2026/01/05-10:00:00.000001 7f00 [INFO] [db/version_set.cc:6000] Recovered from \
             manifest file\n\
             2026/01/05-10:00:00.000002 7f00 [WARN] [db/db_impl/db_impl_open.cc:1117] \
             /srv/data/000004.log: dropping 3253 bytes; Corruption: checksum mismatch\n",
        )
        .unwrap();
        assert_eq!(
            name_corruption(&dir, "Corruption: checksum mismatch"),
            "Corruption: checksum mismatch (in /srv/data/000004.log)"
        );
        // Other errors, and a log naming nothing, leave the message alone.
        assert_eq!(name_corruption(&dir, "IO error: x"), "IO error: x");
        std::fs::write(dir.join("LOG"), "nothing\n").unwrap();
        assert_eq!(
            name_corruption(&dir, "Corruption: checksum mismatch"),
            "Corruption: checksum mismatch"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(name_corruption(&dir, "Corruption: x"), "Corruption: x");
    }

    /// A fresh directory under the system's temporary one (this crate has no tempfile).
    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "renkei-name-corruption-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
