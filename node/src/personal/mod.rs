//! Personal data protection (crypto-shredding): each data subject's details are sealed with a key
//! of its own (XChaCha20-Poly1305, authenticated), and that key is stored wrapped by the node's
//! master key in a RocksDB database of its own, apart from the event log. Erasing a subject
//! deletes its key, flushes and compacts the key database, and leaves a tombstone: the sealed
//! details in the append-only event log can then never be opened again.
//!
//! Every erasure is also written to the [erasure log](erasures) beside the master key, which the
//! vault replays whenever it opens, so restoring a backup taken before an erasure does not bring
//! the person back. A backup holds no master key.
//!
//! This module never sees the event log and never decides what may be recorded.

pub mod erasures;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use renkei_proto::MunicipalityCode;
use rocksdb::{DB, Options, WriteOptions};

use crate::domain::consultation::{PersonalDetails, SealedPersonal};
use crate::domain::values::SubjectId;
use erasures::{Erasure, ErasureLog};

/// The length of the master key and of every subject key, in bytes.
pub const KEY_LEN: usize = 32;
/// The length of an XChaCha20-Poly1305 nonce, in bytes.
pub const NONCE_LEN: usize = 24;

/// Key prefixes of the key database (one keyspace, two kinds of record).
mod keys {
    use super::*;

    /// `K` + tenant (4 bytes, big-endian) + subject id: nonce + the wrapped subject key.
    pub const SUBJECT_KEY: u8 = b'K';
    /// `E` + tenant + subject id: a tombstone; the subject is erased.
    pub const ERASED: u8 = b'E';
    /// `C`: a known text sealed with the master key, by which the vault knows whether a master
    /// key is the one its keys are wrapped with.
    pub const CHECK: &[u8] = b"C";
    /// What the check record seals.
    pub const CHECK_TEXT: &[u8] = b"renkei personal-data key vault";

    pub fn of(kind: u8, tenant: MunicipalityCode, subject: &SubjectId) -> Vec<u8> {
        let mut k = Vec::with_capacity(5 + subject.as_str().len());
        k.push(kind);
        k.extend_from_slice(&tenant.get().to_be_bytes());
        k.extend_from_slice(subject.as_str().as_bytes());
        k
    }
}

/// What can go wrong with personal data.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The subject was erased: its details can no longer be sealed or opened.
    #[error("data subject {0} is erased")]
    Erased(SubjectId),
    /// The master key file is missing, unreadable or not 64 hex digits.
    #[error("master key {path}: {reason}")]
    MasterKey { path: String, reason: String },
    /// A sealed value or a wrapped key does not authenticate (tampered, or another master key).
    #[error("cannot open the sealed data of subject {0}: authentication failed")]
    Crypto(SubjectId),
    /// The key database failed.
    #[error("key storage: {0}")]
    Storage(String),
}

impl From<rocksdb::Error> for VaultError {
    fn from(e: rocksdb::Error) -> Self {
        VaultError::Storage(e.to_string())
    }
}

/// The node's master key, which wraps every subject key; it knows the file it was read from,
/// beside which the [erasure log](erasures) lives.
#[derive(Clone)]
pub struct MasterKey {
    key: Key,
    file: Option<PathBuf>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Reads a key written as 64 hex digits (whitespace around it is ignored).
    pub fn from_file(path: &Path) -> Result<Self, VaultError> {
        let err = |reason: String| VaultError::MasterKey {
            path: path.display().to_string(),
            reason,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| err(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "is readable or writable by group or others (mode {:o}); the key that \
                     unlocks every person's details must be the service user's alone: \
                     chmod 600 {}",
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let key =
            Self::from_hex(text.trim()).ok_or_else(|| err("must hold 64 hex digits".into()))?;
        Ok(Self {
            file: Some(path.to_path_buf()),
            ..key
        })
    }

    /// Reads the key file, creating it with a fresh random key if it does not exist: created
    /// with mode 0600 from the start (never readable by others, not even for an instant), written
    /// to a temporary file, synced and renamed into place, so a crash leaves either no key file
    /// or a whole one.
    pub fn load_or_create(path: &Path) -> Result<Self, VaultError> {
        if path.exists() {
            return Self::from_file(path);
        }
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let err = |e: std::io::Error| VaultError::MasterKey {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(err)?;
        let temporary = path.with_extension("key-new");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        {
            use std::io::Write;
            let mut file = options.open(&temporary).map_err(err)?;
            file.write_all(format!("{hex}\n").as_bytes()).map_err(err)?;
            file.sync_all().map_err(err)?;
        }
        std::fs::rename(&temporary, path).map_err(err)?;
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        Ok(Self {
            key,
            file: Some(path.to_path_buf()),
        })
    }

    /// The erasure log beside the key file; none for a key not read from a file.
    pub fn erasure_log(&self) -> Option<ErasureLog> {
        self.file.as_deref().map(ErasureLog::beside)
    }

    /// Parses 64 hex digits (a key with no file, hence no erasure log: for tests).
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != KEY_LEN * 2 || !hex.is_ascii() {
            return None;
        }
        let mut key = [0u8; KEY_LEN];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self {
            key: key.into(),
            file: None,
        })
    }
}

/// The store of subject keys; cheap to clone.
#[derive(Clone)]
pub struct KeyVault {
    db: Arc<DB>,
    master: XChaCha20Poly1305,
    erasures: Option<ErasureLog>,
}

fn sync() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

fn seal(cipher: &XChaCha20Poly1305, aad: &[u8], plain: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ct = cipher.encrypt(&nonce, Payload { msg: plain, aad }).ok()?;
    Some((nonce.to_vec(), ct))
}

fn open(cipher: &XChaCha20Poly1305, aad: &[u8], nonce: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    if nonce.len() != NONCE_LEN {
        return None;
    }
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

impl KeyVault {
    /// Opens (creating if needed) the key database in `dir`, checks that `master` is the key its
    /// subject keys are wrapped with, and replays the erasure log beside the master key file:
    /// every subject erased there is erased here too (a vault restored from an older backup
    /// forgets them again).
    pub fn open(dir: &Path, master: MasterKey) -> Result<Self, VaultError> {
        Ok(Self::open_replaying(dir, master)?.0)
    }

    /// [`KeyVault::open`], also returning how many subjects the erasure log's replay erased
    /// (subjects the vault had not erased yet).
    pub fn open_replaying(dir: &Path, master: MasterKey) -> Result<(Self, usize), VaultError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        // Obsolete WAL files are deleted at once, so an erased key does not linger in them.
        opts.set_wal_ttl_seconds(0);
        opts.set_wal_size_limit_mb(0);
        opts.set_keep_log_file_num(2);
        // A corrupted record in the write-ahead log stops the open (named as corruption) instead of
        // ending the replay there and silently dropping every acknowledged write after it — RocksDB's
        // default. Only an incomplete last record (a write cut short, never acknowledged) is dropped.
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        let db = DB::open(&opts, dir).map_err(|e| {
            VaultError::Storage(renkei_proto::server::storage::name_corruption(
                dir,
                &e.into_string(),
            ))
        })?;
        let vault = Self {
            db: Arc::new(db),
            master: XChaCha20Poly1305::new(&master.key),
            erasures: master.erasure_log(),
        };
        vault.check_master_key(&master)?;
        let replayed = vault.replay_erasures()?;
        Ok((vault, replayed))
    }

    /// Refuses a master key that is not the one the vault's keys are wrapped with (a vault
    /// started with a fresh key after its own was lost would otherwise seal new details while no
    /// earlier ones open). Writes the check record on first use.
    fn check_master_key(&self, master: &MasterKey) -> Result<(), VaultError> {
        let wrong = || VaultError::MasterKey {
            path: master
                .file
                .as_deref()
                .map_or_else(|| "(given)".into(), |p| p.display().to_string()),
            reason: "is not the key this node's personal-data key vault was made with".into(),
        };
        if let Some(stored) = self.db.get(keys::CHECK)? {
            let (nonce, sealed) = stored.split_at(NONCE_LEN.min(stored.len()));
            return match open(&self.master, keys::CHECK, nonce, sealed) {
                Some(text) if text == keys::CHECK_TEXT => Ok(()),
                _ => Err(wrong()),
            };
        }
        // A vault from before check records: its first subject key tells.
        let mut iter = self.db.prefix_iterator([keys::SUBJECT_KEY]);
        if let Some(entry) = iter.next() {
            let (id, stored) = entry?;
            if id.first() == Some(&keys::SUBJECT_KEY) {
                let (nonce, wrapped) = stored.split_at(NONCE_LEN.min(stored.len()));
                if open(&self.master, &id, nonce, wrapped).is_none() {
                    return Err(wrong());
                }
            }
        }
        let (nonce, sealed) = seal(&self.master, keys::CHECK, keys::CHECK_TEXT)
            .ok_or_else(|| VaultError::Storage("cannot seal the check record".into()))?;
        let mut value = nonce;
        value.extend_from_slice(&sealed);
        self.db.put_opt(keys::CHECK, value, &sync())?;
        Ok(())
    }

    /// Erases every subject of the erasure log that the vault has not erased; returns how many.
    pub fn replay_erasures(&self) -> Result<usize, VaultError> {
        let Some(log) = &self.erasures else {
            return Ok(0);
        };
        let mut replayed = 0;
        for erasure in log.read()? {
            if !self.is_erased(erasure.municipality, &erasure.subject)? {
                self.destroy(erasure.municipality, &erasure.subject)?;
                replayed += 1;
            }
        }
        Ok(replayed)
    }

    /// Writes a consistent copy of the key database into `target`, a directory that must not
    /// exist yet, while the vault keeps serving (a RocksDB checkpoint).
    pub fn checkpoint(&self, target: &Path) -> Result<(), VaultError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(target)?;
        Ok(())
    }

    /// Returns the subject's key, creating and durably storing one on first use.
    fn subject_cipher(
        &self,
        tenant: MunicipalityCode,
        subject: &SubjectId,
        create: bool,
    ) -> Result<Option<XChaCha20Poly1305>, VaultError> {
        if self
            .db
            .get(keys::of(keys::ERASED, tenant, subject))?
            .is_some()
        {
            return Err(VaultError::Erased(subject.clone()));
        }
        let id = keys::of(keys::SUBJECT_KEY, tenant, subject);
        if let Some(stored) = self.db.get(&id)? {
            let (nonce, wrapped) = stored.split_at(NONCE_LEN.min(stored.len()));
            let key = open(&self.master, &id, nonce, wrapped)
                .filter(|k| k.len() == KEY_LEN)
                .ok_or_else(|| VaultError::Crypto(subject.clone()))?;
            return Ok(Some(XChaCha20Poly1305::new(Key::from_slice(&key))));
        }
        if !create {
            return Ok(None);
        }
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let (nonce, wrapped) =
            seal(&self.master, &id, &key).ok_or_else(|| VaultError::Crypto(subject.clone()))?;
        let mut value = nonce;
        value.extend_from_slice(&wrapped);
        self.db.put_opt(&id, value, &sync())?;
        Ok(Some(XChaCha20Poly1305::new(&key)))
    }

    /// Seals a subject's details with the subject's key (made on first use).
    pub fn seal(
        &self,
        tenant: MunicipalityCode,
        subject: &SubjectId,
        details: &PersonalDetails,
    ) -> Result<SealedPersonal, VaultError> {
        let cipher = self
            .subject_cipher(tenant, subject, true)?
            .ok_or_else(|| VaultError::Crypto(subject.clone()))?;
        // Plain data of strings and dates: serialisation cannot fail.
        let plain = serde_json::to_vec(details).unwrap_or_default();
        let aad = keys::of(keys::SUBJECT_KEY, tenant, subject);
        let (nonce, ciphertext) =
            seal(&cipher, &aad, &plain).ok_or_else(|| VaultError::Crypto(subject.clone()))?;
        Ok(SealedPersonal {
            subject: subject.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Opens sealed details; `Ok(None)` when the subject is erased (or its key was never made
    /// here).
    pub fn unseal(
        &self,
        tenant: MunicipalityCode,
        sealed: &SealedPersonal,
    ) -> Result<Option<PersonalDetails>, VaultError> {
        let cipher = match self.subject_cipher(tenant, &sealed.subject, false) {
            Err(VaultError::Erased(_)) => return Ok(None),
            other => other?,
        };
        let Some(cipher) = cipher else {
            return Ok(None);
        };
        let aad = keys::of(keys::SUBJECT_KEY, tenant, &sealed.subject);
        let plain = open(&cipher, &aad, &sealed.nonce, &sealed.ciphertext)
            .ok_or_else(|| VaultError::Crypto(sealed.subject.clone()))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| VaultError::Crypto(sealed.subject.clone()))
    }

    /// Returns whether the subject is erased.
    pub fn is_erased(
        &self,
        tenant: MunicipalityCode,
        subject: &SubjectId,
    ) -> Result<bool, VaultError> {
        Ok(self
            .db
            .get(keys::of(keys::ERASED, tenant, subject))?
            .is_some())
    }

    /// Destroys the subject's key for good: the erasure is appended to the erasure log (synced),
    /// then a tombstone and the deletion are written durably, the memtable is flushed and the
    /// database compacted, so no live file holds the key. Erasing twice is harmless.
    pub fn erase(&self, tenant: MunicipalityCode, subject: &SubjectId) -> Result<(), VaultError> {
        if let Some(log) = &self.erasures
            && !self.is_erased(tenant, subject)?
        {
            log.append(&Erasure {
                municipality: tenant,
                subject: subject.clone(),
            })?;
        }
        self.destroy(tenant, subject)
    }

    /// The vault's half of an erasure: tombstone, deletion, flush and compaction.
    fn destroy(&self, tenant: MunicipalityCode, subject: &SubjectId) -> Result<(), VaultError> {
        let mut batch = rocksdb::WriteBatch::default();
        batch.delete(keys::of(keys::SUBJECT_KEY, tenant, subject));
        batch.put(keys::of(keys::ERASED, tenant, subject), b"");
        self.db.write_opt(batch, &sync())?;
        self.db.flush()?;
        // Rewrites every table file, down to the bottom level, so no live file keeps the key.
        let mut compact = rocksdb::CompactOptions::default();
        compact.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        compact.set_exclusive_manual_compaction(true);
        self.db
            .compact_range_opt::<&[u8], &[u8]>(None, None, &compact);
        self.db.flush_wal(true)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> PersonalDetails {
        PersonalDetails {
            name: "富山花子".into(),
            birth_date: None,
            address: Some("富山市".into()),
            phone: None,
            notes: Some("退院後の訪問診療先を探している".into()),
        }
    }

    #[test]
    fn seals_opens_and_erases() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
        let vault = KeyVault::open(&dir.path().join("keys"), master.clone()).unwrap();
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        let subject = SubjectId::parse("s", "s1").unwrap();
        let sealed = vault.seal(tenant, &subject, &details()).unwrap();
        assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("富山花子"));
        assert_eq!(vault.unseal(tenant, &sealed).unwrap(), Some(details()));
        // another tenant cannot open it (the tenant is authenticated data)
        let other: MunicipalityCode = "162027".parse().unwrap();
        assert_eq!(vault.unseal(other, &sealed).unwrap(), None);
        // a tampered ciphertext does not authenticate
        let mut bad = sealed.clone();
        bad.ciphertext[0] ^= 1;
        assert!(matches!(
            vault.unseal(tenant, &bad),
            Err(VaultError::Crypto(_))
        ));
        vault.erase(tenant, &subject).unwrap();
        assert_eq!(vault.unseal(tenant, &sealed).unwrap(), None);
        assert!(matches!(
            vault.seal(tenant, &subject, &details()),
            Err(VaultError::Erased(_))
        ));
        vault.erase(tenant, &subject).unwrap();
        // a wrong master key file is refused
        std::fs::write(dir.path().join("bad.key"), "xyz").unwrap();
        assert!(MasterKey::from_file(&dir.path().join("bad.key")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_master_key_is_the_service_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        // created 0600, whole, with no temporary file left behind
        let created = MasterKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        // the same key reads back
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(created.key, again.key);
        // a key readable by the group or by others is refused, naming the file and the mode
        for loose in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
            let err = MasterKey::load_or_create(&path).unwrap_err().to_string();
            assert!(
                err.contains(&format!("mode {loose:o}")) && err.contains("master.key"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_vault_copied_before_an_erasure_forgets_the_subject_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("secrets").join("master.key");
        let master = MasterKey::load_or_create(&key_file).unwrap();
        let vault = KeyVault::open(&dir.path().join("keys"), master.clone()).unwrap();
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        let (erased, kept) = (
            SubjectId::parse("s", "s1").unwrap(),
            SubjectId::parse("s", "s2").unwrap(),
        );
        let sealed = vault.seal(tenant, &erased, &details()).unwrap();
        let other = vault.seal(tenant, &kept, &details()).unwrap();
        vault.checkpoint(&dir.path().join("copy")).unwrap();
        vault.erase(tenant, &erased).unwrap();
        drop(vault);
        let log = std::fs::read_to_string(key_file.with_file_name(erasures::FILE_NAME)).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");

        // the copy taken before the erasure, opened with the node's master key
        let (copy, replayed) =
            KeyVault::open_replaying(&dir.path().join("copy"), master.clone()).unwrap();
        assert_eq!(replayed, 1);
        assert_eq!(copy.unseal(tenant, &sealed).unwrap(), None);
        assert!(copy.is_erased(tenant, &erased).unwrap());
        assert_eq!(copy.unseal(tenant, &other).unwrap(), Some(details()));
        drop(copy);
        let (_, replayed) = KeyVault::open_replaying(&dir.path().join("copy"), master).unwrap();
        assert_eq!(replayed, 0, "replaying twice erases nothing more");

        // another master key is refused, naming its file
        let stranger = MasterKey::load_or_create(&dir.path().join("other.key")).unwrap();
        let err = KeyVault::open(&dir.path().join("keys"), stranger)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("other.key") && err.contains("is not the key"),
            "{err}"
        );
    }

    #[test]
    fn no_file_holds_an_erased_wrapped_key() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
        let keys_dir = dir.path().join("keys");
        let vault = KeyVault::open(&keys_dir, master).unwrap();
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        let subject = SubjectId::parse("s", "s1").unwrap();
        vault.seal(tenant, &subject, &details()).unwrap();
        // the stored (wrapped) key, flushed to a table file first, as an old key would be
        let stored = vault
            .db
            .get(keys::of(keys::SUBJECT_KEY, tenant, &subject))
            .unwrap()
            .unwrap();
        vault.db.flush().unwrap();
        let holders = || {
            std::fs::read_dir(&keys_dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    std::fs::read(p)
                        .unwrap_or_default()
                        .windows(stored.len())
                        .any(|w| w == stored.as_slice())
                })
                .collect::<Vec<_>>()
        };
        assert!(!holders().is_empty(), "the key is on disk before erasure");
        vault.erase(tenant, &subject).unwrap();
        assert_eq!(holders(), Vec::<std::path::PathBuf>::new());
    }
}
