//! The erasure log (消去記録): every data subject ever erased on this node, one JSON line each,
//! kept beside the master key file and never in a backup.
//!
//! Erasing destroys a subject's key in the key vault, but a backup taken before the erasure still
//! holds that key (wrapped by the master key). The log is what makes the erasure outlive such a
//! backup: the vault appends to it, durably, before it destroys the key, and replays it whenever
//! it is opened and whenever a backup is restored, so a restored vault forgets again every
//! subject erased since the backup was taken. A backup holds no master key (the restore must be
//! given it), so the key material a backup holds cannot be used on its own either.
//!
//! The log holds pseudonymous subject ids and municipality codes, no personal details.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use renkei_proto::MunicipalityCode;
use serde::{Deserialize, Serialize};

use super::VaultError;
use crate::domain::values::SubjectId;

/// The log's file name, in the directory of the master key file.
pub const FILE_NAME: &str = "erasures.log";

/// One erased subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub municipality: MunicipalityCode,
    pub subject: SubjectId,
}

/// The append-only log of erasures; cheap to clone.
#[derive(Clone, Debug)]
pub struct ErasureLog {
    path: PathBuf,
    /// Serialises appends (one line at a time, each synced before the next).
    append: Arc<Mutex<()>>,
}

impl ErasureLog {
    /// The log beside the master key file `master_key_file`.
    pub fn beside(master_key_file: &Path) -> Self {
        Self::at(master_key_file.with_file_name(FILE_NAME))
    }

    /// The log at `path` (created on the first erasure).
    pub fn at(path: PathBuf) -> Self {
        Self {
            path,
            append: Arc::new(Mutex::new(())),
        }
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, reason: impl std::fmt::Display) -> VaultError {
        VaultError::Storage(format!("erasure log {}: {reason}", self.path.display()))
    }

    /// Every erasure in the log, in the order recorded; none when the log does not exist. A last
    /// line cut short (a crash during an append, so an erasure never acknowledged) is ignored; any
    /// other unreadable line is refused, naming its line number.
    pub fn read(&self) -> Result<Vec<Erasure>, VaultError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        let complete = match bytes.iter().rposition(|b| *b == b'\n') {
            Some(end) => &bytes[..=end],
            None => &[][..],
        };
        complete
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(n, line)| {
                serde_json::from_slice(line).map_err(|e| self.error(format!("line {}: {e}", n + 1)))
            })
            .collect()
    }

    /// Appends an erasure and syncs it (and, when the log is new, its directory) before it
    /// returns. A line cut short by an earlier crash is cut off first.
    pub fn append(&self, erasure: &Erasure) -> Result<(), VaultError> {
        // Appends are whole lines written under the lock: a poisoned lock held nothing half-done
        // that the truncation below would not repair.
        let _guard = self
            .append
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = !self.path.exists();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&self.path).map_err(|e| self.error(e))?;
        let existing = std::fs::read(&self.path).map_err(|e| self.error(e))?;
        let whole = existing
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |end| end + 1);
        if whole != existing.len() {
            file.set_len(whole as u64).map_err(|e| self.error(e))?;
        }
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| self.error(e))?;
        // Two validated ids: serialisation cannot fail.
        let mut line = serde_json::to_vec(erasure).unwrap_or_default();
        line.push(b'\n');
        file.write_all(&line).map_err(|e| self.error(e))?;
        file.sync_all().map_err(|e| self.error(e))?;
        if new {
            let parent = self
                .path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erasure(subject: &str) -> Erasure {
        Erasure {
            municipality: "162019".parse().unwrap(),
            subject: SubjectId::parse("subject", subject).unwrap(),
        }
    }

    #[test]
    fn appends_read_back_in_order_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let log = ErasureLog::beside(&dir.path().join("master.key"));
        assert_eq!(log.path(), dir.path().join(FILE_NAME));
        assert!(log.read().unwrap().is_empty(), "no log yet: nothing erased");
        log.append(&erasure("s1")).unwrap();
        log.append(&erasure("s2")).unwrap();
        assert_eq!(log.read().unwrap(), vec![erasure("s1"), erasure("s2")]);
        // a crash in the middle of an append leaves a line without its end
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap();
        file.write_all(br#"{"municipality":"1620"#).unwrap();
        assert_eq!(log.read().unwrap(), vec![erasure("s1"), erasure("s2")]);
        log.append(&erasure("s3")).unwrap();
        assert_eq!(
            log.read().unwrap(),
            vec![erasure("s1"), erasure("s2"), erasure("s3")]
        );
        // a damaged line in the middle is refused, naming the line
        let text = std::fs::read_to_string(log.path()).unwrap();
        std::fs::write(log.path(), text.replacen("s2", "s 2", 1)).unwrap();
        let err = log.read().unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains(FILE_NAME), "{err}");
    }
}
