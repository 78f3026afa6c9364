//! The durable event store: append-only streams of events per tenant (municipality), on RocksDB.
//!
//! One RocksDB database holds every tenant the process hosts; each key starts with the tenant's
//! code ([`keys`]), so tenants never see each other's streams, positions or subscriptions, and
//! hosting all 1,741 municipalities costs no extra database or thread.
//!
//! Appends go through one writer thread ([`writer`]) that takes every request waiting in its queue,
//! checks each against the state so far (idempotency, then the expected version), writes all the
//! accepted ones in one `WriteBatch` with `sync = true`, and only then answers. Concurrent
//! appenders thus share one fsync (group commit); each request is all-or-nothing; an answered
//! append is on disk.
//!
//! A write that fails (the disk answers EIO, a failed fsync) stops the store for good: every
//! append from then on is refused, and [`EventStore::failed`] resolves, so that the node stops and
//! is restarted once its disk is healthy. After a failed fsync nothing says what the disk holds
//! (RocksDB itself goes read-only); a restart replays the write-ahead log and knows.
//!
//! Reads go straight to RocksDB from the caller's thread. Subscriptions read pages from a cursor
//! and wait on a per-tenant watch of the last committed position ([`subscription`]).
//!
//! The store knows nothing of the domain: payloads are opaque bytes.

mod codec;
mod error;
mod id_filter;
pub mod keys;
mod subscription;
mod types;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use renkei_proto::MunicipalityCode;
use rocksdb::{BlockBasedOptions, ColumnFamilyDescriptor, DB, IteratorMode, Options, ReadOptions};
use tokio::sync::{mpsc, oneshot, watch};

pub use error::StoreError;
pub use subscription::Subscription;
pub use types::{
    AppendOutcome, Direction, EventId, ExpectedVersion, GlobalPosition, MAX_NAME_LEN,
    MAX_STREAM_ID_LEN, NewEvent, RecordedEvent, StreamId,
};

use codec::StoredEvent;
use writer::{AppendJob, WriterMsg};

/// Tunables of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The largest payload accepted, in bytes.
    pub max_payload_bytes: usize,
    /// The most events one append may carry.
    pub max_batch_events: usize,
    /// How many append requests may wait for the writer before appenders are made to wait.
    pub queue_depth: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_payload_bytes: 1024 * 1024,
            max_batch_events: 10_000,
            queue_depth: 4096,
        }
    }
}

/// The tenants a store hosts, shared between the writer (which adds tenants and publishes
/// commits) and readers.
pub(crate) type TenantMap = Arc<RwLock<HashMap<MunicipalityCode, Arc<Tenant>>>>;

/// Per-tenant state shared between the writer and readers.
pub(crate) struct Tenant {
    /// The last committed global position (0 when the tenant has no event yet).
    pub(crate) committed: watch::Sender<u64>,
}

struct Inner {
    db: Arc<DB>,
    options: StoreOptions,
    tenants: TenantMap,
    queue: mpsc::Sender<WriterMsg>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The write failure that stopped the store, once the writer met one.
    failed: watch::Receiver<Option<StoreError>>,
}

impl Drop for Inner {
    /// Stops the writer thread (it ends once its queue is closed, after writing what was queued)
    /// and waits for it, so that RocksDB is closed here and not by a thread still running while
    /// the process exits.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.queue, closed));
        let handle = self
            .writer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// A handle to the event store; cheap to clone, shared by every service of the node.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

impl EventStore {
    /// Opens (creating if needed) the store in `dir` and starts its writer thread. Every tenant
    /// registered before is hosted again.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let db = Arc::new(open_db(dir)?);
        let opened = started.elapsed();
        let mut tenants = HashMap::new();
        let mut positions = HashMap::new();
        let cf = cf(&db, keys::CF_TENANTS)?;
        for item in db.iterator_cf(cf, IteratorMode::Start) {
            let (key, _) = item?;
            let code = <[u8; 4]>::try_from(&*key)
                .ok()
                .and_then(|b| MunicipalityCode::from_number(u32::from_be_bytes(b)).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    key: format!("tenants/{key:02x?}"),
                    reason: "not a municipality code".into(),
                })?;
            let last = last_position(&db, code)?;
            positions.insert(code, last);
            tenants.insert(
                code,
                Arc::new(Tenant {
                    committed: watch::Sender::new(last),
                }),
            );
        }
        let (queue, rx) = mpsc::channel(options.queue_depth.max(1));
        let tenants: TenantMap = Arc::new(RwLock::new(tenants));
        let positioned = started.elapsed();
        let filter = load_id_filter(&db, positions.keys().copied())?;
        tracing::info!(
            rocksdb_ms = opened.as_millis() as u64,
            positions_ms = (positioned - opened).as_millis() as u64,
            id_filter_ms = (started.elapsed() - positioned).as_millis() as u64,
            tenants = positions.len(),
            "event store opened"
        );
        let (failure, failed) = watch::channel(None);
        let writer = writer::Writer::new(db.clone(), filter, positions, tenants.clone(), failure);
        let handle = std::thread::Builder::new()
            .name("renkei-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Storage(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                options,
                tenants,
                queue,
                writer: Mutex::new(Some(handle)),
                failed,
            }),
        })
    }

    /// The write failure that stopped the store, if a write has failed: from then on every
    /// append is refused. Only a restart, which replays the write-ahead log, knows what the
    /// database holds after a failed write.
    pub fn failure(&self) -> Option<StoreError> {
        self.inner.failed.borrow().clone()
    }

    /// Resolves with the error once a write to the database has failed (at once if one has
    /// already); never resolves otherwise.
    pub fn failed(&self) -> impl std::future::Future<Output = StoreError> + Send + 'static {
        let mut failed = self.inner.failed.clone();
        async move {
            // The writer's end closes when the store does: no failure then, ever.
            let error = failed
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|failure| Option::clone(&failure));
            match error {
                Some(error) => error,
                None => std::future::pending().await,
            }
        }
    }

    /// Hosts a tenant from now on (a no-op if it is hosted already). The registration is durable.
    pub async fn add_tenant(&self, code: MunicipalityCode) -> Result<(), StoreError> {
        self.add_tenants(&[code]).await
    }

    /// Hosts several tenants from now on, registering them with one durable write.
    pub async fn add_tenants(&self, codes: &[MunicipalityCode]) -> Result<(), StoreError> {
        let new: Vec<_> = codes
            .iter()
            .copied()
            .filter(|c| self.tenant(*c).is_err())
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.send(WriterMsg::AddTenants { codes: new, reply })
            .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Returns the tenants this store hosts, in code order.
    pub fn tenants(&self) -> Vec<MunicipalityCode> {
        let tenants = self.inner.tenants.read().unwrap_or_else(|e| e.into_inner());
        let mut codes: Vec<_> = tenants.keys().copied().collect();
        codes.sort();
        codes
    }

    /// Returns the store's limits.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// Appends `events` to `stream` of `tenant` if the stream is at `expected`, atomically, and
    /// returns once the batch is fsynced. A batch whose event ids were all appended before, with
    /// the same content and in the same stream, is a retry: its original positions are returned
    /// and nothing is written (whatever `expected` says, since the original append passed it).
    #[tracing::instrument(
        name = "append",
        skip_all,
        fields(municipality = %tenant, stream = %stream, events = events.len())
    )]
    pub async fn append(
        &self,
        tenant: MunicipalityCode,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        self.submit(tenant, stream, expected, events)
            .await?
            .outcome()
            .await
    }

    /// Queues an append and returns once it is queued, before it is written: appends are
    /// written in the order they were queued, so a caller that orders its appends (e.g. under a
    /// lock) can queue the next one, with the next expected version, while this one is being
    /// written. [`PendingAppend::outcome`] answers as [`EventStore::append`] does.
    pub async fn submit(
        &self,
        tenant: MunicipalityCode,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<PendingAppend, StoreError> {
        let started = std::time::Instant::now();
        self.tenant(tenant)?;
        self.check_batch(&events)?;
        let (reply, rx) = oneshot::channel();
        let job = AppendJob {
            tenant,
            stream,
            expected,
            events,
            reply,
        };
        self.send(WriterMsg::Append(job)).await?;
        Ok(PendingAppend { rx, started })
    }

    fn check_batch(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        let opts = &self.inner.options;
        if events.is_empty() {
            return Err(StoreError::invalid(
                "events",
                "[]",
                "must hold at least one event",
            ));
        }
        if events.len() > opts.max_batch_events {
            return Err(StoreError::invalid(
                "events",
                format!("{} events", events.len()),
                format!("a batch holds at most {} events", opts.max_batch_events),
            ));
        }
        // Ids made in order (UUIDv7s of one client) are distinct when they strictly increase,
        // which saves hashing them all.
        if events.windows(2).all(|w| w[0].event_id < w[1].event_id) {
            for (i, event) in events.iter().enumerate() {
                event.validate(i, opts.max_payload_bytes)?;
            }
            return Ok(());
        }
        let mut seen = rustc_hash::FxHashSet::default();
        seen.reserve(events.len());
        for (i, event) in events.iter().enumerate() {
            event.validate(i, opts.max_payload_bytes)?;
            if !seen.insert(event.event_id) {
                return Err(StoreError::invalid(
                    format!("events[{i}].event_id"),
                    event.event_id,
                    "appears twice in the batch",
                ));
            }
        }
        Ok(())
    }

    /// Reads up to `max_count` events of a stream starting at `from_version` (inclusive), forwards
    /// or backwards. Backwards, `from_version` 0 means from the last event. Returns the events and
    /// the stream's current version.
    pub fn read_stream(
        &self,
        tenant: MunicipalityCode,
        stream: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<(Vec<RecordedEvent>, u64), StoreError> {
        self.read_stream_bounded(
            tenant,
            stream,
            from_version,
            direction,
            max_count,
            usize::MAX,
        )
    }

    /// [`EventStore::read_stream`], loading no more than about `max_bytes` of stored events: it
    /// stops before the event that would take the total past `max_bytes` (but returns at least
    /// one), so a reader's page is bounded in memory before it is loaded, whatever the events'
    /// sizes.
    pub fn read_stream_bounded(
        &self,
        tenant: MunicipalityCode,
        stream: &StreamId,
        from_version: u64,
        direction: Direction,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(Vec<RecordedEvent>, u64), StoreError> {
        self.tenant(tenant)?;
        let db = &self.inner.db;
        // One snapshot, so the head and the events agree.
        let snapshot = db.snapshot();
        let heads = cf(db, keys::CF_HEADS)?;
        let head = snapshot
            .get_cf(heads, keys::head(tenant, stream))?
            .and_then(|v| keys::decode_u64(&v))
            .unwrap_or(0);
        let positions = stream_positions(
            db,
            &snapshot,
            tenant,
            stream,
            from_version,
            direction,
            max_count,
        )?;
        let events_cf = cf(db, keys::CF_EVENTS)?;
        let mut events = Vec::new();
        let mut loaded = 0usize;
        // In chunks, so a byte bound stops the loading, not just the answer.
        for chunk in positions.chunks(READ_CHUNK) {
            let keys: Vec<_> = chunk.iter().map(|p| keys::event(tenant, *p)).collect();
            for ((key, value), position) in snapshot
                .multi_get_cf(keys.iter().map(|k| (events_cf, k.as_slice())))
                .into_iter()
                .zip(&keys)
                .map(|(v, k)| (k, v))
                .zip(chunk)
            {
                let bytes = value?.ok_or_else(|| StoreError::Corrupt {
                    key: format!("events/{key:02x?}"),
                    reason: "indexed event is missing".into(),
                })?;
                loaded = loaded.saturating_add(bytes.len());
                if loaded > max_bytes && !events.is_empty() {
                    return Ok((events, head));
                }
                events.push(StoredEvent::decode_at(key, &bytes)?.into_recorded(tenant, *position));
            }
        }
        Ok((events, head))
    }

    /// Reads up to `max_count` of a tenant's events in global order from `from` (inclusive).
    pub fn read_all(
        &self,
        tenant: MunicipalityCode,
        from: GlobalPosition,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_all_bounded(tenant, from, max_count, usize::MAX)
    }

    /// [`EventStore::read_all`], loading no more than about `max_bytes` of stored events (at
    /// least one event), as [`EventStore::read_stream_bounded`].
    pub fn read_all_bounded(
        &self,
        tenant: MunicipalityCode,
        from: GlobalPosition,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.tenant(tenant)?;
        let db = &self.inner.db;
        let events_cf = cf(db, keys::CF_EVENTS)?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::tenant_end(tenant).to_vec());
        let start = keys::event(tenant, from);
        let mode = IteratorMode::From(&start, rocksdb::Direction::Forward);
        let mut events = Vec::new();
        let mut loaded = 0usize;
        for item in db.iterator_cf_opt(events_cf, opts, mode).take(max_count) {
            let (key, value) = item?;
            loaded = loaded.saturating_add(value.len());
            if loaded > max_bytes && !events.is_empty() {
                break;
            }
            let position =
                keys::position_of_event_key(&key).ok_or_else(|| StoreError::Corrupt {
                    key: format!("events/{key:02x?}"),
                    reason: "key is not tenant + position".into(),
                })?;
            events.push(StoredEvent::decode_at(&key, &value)?.into_recorded(tenant, position));
        }
        Ok(events)
    }

    /// Returns the tenant's last committed global position (0 before its first event).
    pub fn last_position(&self, tenant: MunicipalityCode) -> Result<GlobalPosition, StoreError> {
        Ok(GlobalPosition(*self.tenant(tenant)?.committed.borrow()))
    }

    /// Subscribes to a tenant's events from `from` (inclusive): the stored ones first, then each
    /// new one as it commits, in order, with no gap and no duplicate. Events are read only as the
    /// subscriber asks for them, so a slow subscriber holds back nothing but itself.
    pub fn subscribe(
        &self,
        tenant: MunicipalityCode,
        from: GlobalPosition,
    ) -> Result<Subscription, StoreError> {
        let committed = self.tenant(tenant)?.committed.subscribe();
        Ok(Subscription::new(self.clone(), tenant, from, committed))
    }

    /// Writes a consistent copy of the whole store (every tenant, up to some committed group) into
    /// `target`, a directory that must not exist yet, while the store keeps serving. SST files
    /// are hard-linked when `target` is on the same file system, so a checkpoint is cheap; the
    /// copy is itself a store that [`EventStore::restore`] puts in place.
    pub fn checkpoint(&self, target: &Path) -> Result<(), StoreError> {
        if target.exists() {
            return Err(StoreError::invalid(
                "target",
                target.display(),
                "already exists; a checkpoint goes into a new directory",
            ));
        }
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.inner.db)?;
        checkpoint.create_checkpoint(target)?;
        Ok(())
    }

    /// Restores a checkpoint made by [`EventStore::checkpoint`] into `data_dir`, which must be
    /// absent or empty (a restore never overwrites a store). The node then opens `data_dir`.
    pub fn restore(checkpoint: &Path, data_dir: &Path) -> Result<(), StoreError> {
        if !checkpoint.join("CURRENT").is_file() {
            return Err(StoreError::invalid(
                "checkpoint",
                checkpoint.display(),
                "is not a store checkpoint (no CURRENT file)",
            ));
        }
        // Copies and syncs every file: the copies are on disk before anyone relies on them.
        crate::backup::copy_tree_into_empty(checkpoint, data_dir, "data_dir").map_err(|e| match e {
            crate::backup::BackupError::Invalid {
                field,
                value,
                reason,
            } => StoreError::invalid(field, value, reason),
            crate::backup::BackupError::Io { .. } => StoreError::Storage(e.to_string()),
        })
    }

    /// Stops the writer after every append already queued is written, and flushes the database.
    /// Appends made afterwards fail with [`StoreError::Closed`].
    pub async fn close(&self) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        if self
            .inner
            .queue
            .send(WriterMsg::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Storage(format!("writer thread: {e}")))?
                .map_err(|_| StoreError::Storage("the writer thread panicked".into()))?;
        }
        // After a failed write nothing is flushed: what the database holds is for the next open
        // to find out, from the write-ahead log.
        if let Some(error) = self.failure() {
            return Err(error);
        }
        self.inner.db.flush_wal(true)?;
        // Flushing the memtables spares the next open from replaying the log into memory
        // (seconds and hundreds of MiB after a day of heavy writing). The flush runs off the
        // async threads.
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let families = keys::ALL_CFS
                .iter()
                .map(|name| cf(&db, name))
                .collect::<Result<Vec<_>, _>>()?;
            db.flush_cfs_opt(&families, &rocksdb::FlushOptions::default())?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Storage(format!("flush at close: {e}")))??;
        Ok(())
    }

    fn tenant(&self, code: MunicipalityCode) -> Result<Arc<Tenant>, StoreError> {
        let tenants = self.inner.tenants.read().unwrap_or_else(|e| e.into_inner());
        tenants
            .get(&code)
            .cloned()
            .ok_or(StoreError::UnknownTenant(code))
    }

    async fn send(&self, msg: WriterMsg) -> Result<(), StoreError> {
        self.inner
            .queue
            .send(msg)
            .await
            .map_err(|_| StoreError::Closed)
    }
}

/// Returns a column family handle; every family is created at open, so absence is corruption.
fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(name).ok_or_else(|| StoreError::Corrupt {
        key: name.into(),
        reason: "column family missing".into(),
    })
}

fn open_db(dir: &Path) -> Result<DB, StoreError> {
    // Never start an empty store over files that are not a store (a wrong path, a half-restored
    // copy): RocksDB would create a new database among them.
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
        && !dir.join("CURRENT").is_file()
    {
        return Err(StoreError::Corrupt {
            key: dir.display().to_string(),
            reason: "the directory holds files but no event store (CURRENT is missing); \
                     refusing to create an empty store over them"
                .into(),
        });
    }
    let mut db_opts = Options::default();
    db_opts.create_if_missing(true);
    db_opts.create_missing_column_families(true);
    // Writes are serialised by the writer thread already (measured: pipelined writes gain nothing).
    db_opts.set_max_background_jobs(2);
    db_opts.set_keep_log_file_num(10);
    // A corrupted record in the write-ahead log stops the open (named as corruption) instead of
    // ending the replay there and silently dropping every acknowledged write after it — RocksDB's
    // default. Only an incomplete last record (a write cut short, never acknowledged) is dropped.
    db_opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
    let cfs = keys::ALL_CFS.iter().map(|name| {
        let mut o = Options::default();
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        o.set_block_based_table_factory(&table);
        // Fresh data is flushed uncompressed, which keeps flushes off the appenders' CPU; what
        // settles in the bottom level is compressed with zstd.
        o.set_compression_type(rocksdb::DBCompressionType::None);
        o.set_bottommost_compression_type(rocksdb::DBCompressionType::Zstd);
        ColumnFamilyDescriptor::new(*name, o)
    });
    // A damaged write-ahead log record is answered as `Corruption: checksum mismatch` alone: the
    // damaged file is named from RocksDB's own log.
    DB::open_cf_descriptors(&db_opts, dir, cfs).map_err(|e| {
        StoreError::Storage(renkei_proto::server::storage::name_corruption(
            dir,
            &e.into_string(),
        ))
    })
}

/// How many events a bounded stream read loads at a time.
/// Whether writes are fsynced before they are acknowledged: always, except in a test-only build
/// with the `unsynced-acks` feature, which exists to show that the fault suite's power cuts catch
/// an acknowledgement given before fsync. Never enable it in a deployment.
pub(crate) const SYNC_ACKS: bool = !cfg!(feature = "unsynced-acks");

const READ_CHUNK: usize = 64;

/// Collects the global positions of up to `max_count` events of a stream from `from_version`, from
/// the stream's runs (one index entry per appended batch: its first version, first position and
/// length; a batch's events are contiguous in both).
fn stream_positions(
    db: &DB,
    snapshot: &rocksdb::Snapshot<'_>,
    tenant: MunicipalityCode,
    stream: &StreamId,
    from_version: u64,
    direction: Direction,
    max_count: usize,
) -> Result<Vec<GlobalPosition>, StoreError> {
    let streams = cf(db, keys::CF_STREAMS)?;
    let mut opts = ReadOptions::default();
    opts.set_snapshot(snapshot);
    let prefix = keys::stream_prefix(tenant, stream);
    let mut upper = prefix.clone();
    upper.extend_from_slice(&[0xff; 9]);
    opts.set_iterate_lower_bound(prefix);
    opts.set_iterate_upper_bound(upper);
    let mut it = db.raw_iterator_cf_opt(streams, opts);
    let start = match direction {
        Direction::Forward => from_version.max(1),
        Direction::Backward if from_version == 0 => u64::MAX,
        Direction::Backward => from_version,
    };
    // The run holding `start` is the last one starting at or before it.
    it.seek_for_prev(keys::stream_run(tenant, stream, start));
    if !it.valid() && direction == Direction::Forward {
        it.seek_to_first();
    }
    let mut positions = Vec::new();
    while it.valid() && positions.len() < max_count {
        let (Some(key), Some(value)) = (it.key(), it.value()) else {
            break;
        };
        let run = keys::decode_run(key, value).ok_or_else(|| StoreError::Corrupt {
            key: format!("streams/{key:02x?}"),
            reason: "not a stream run".into(),
        })?;
        let last_version = run.first_version + u64::from(run.len) - 1;
        let versions: Box<dyn Iterator<Item = u64>> = match direction {
            Direction::Forward => Box::new(run.first_version.max(start)..=last_version),
            Direction::Backward => Box::new((run.first_version..=last_version.min(start)).rev()),
        };
        for v in versions.take(max_count - positions.len()) {
            positions.push(GlobalPosition(run.first_position + (v - run.first_version)));
        }
        match direction {
            Direction::Forward => it.next(),
            Direction::Backward => it.prev(),
        }
    }
    it.status()?;
    Ok(positions)
}

/// Builds the in-memory id filter from the keys of the id index.
/// Returns the id filter of an opened store: each tenant's newest id at once (one seek per
/// tenant), and the filter of every stored id from a helper thread reading the id index.
fn load_id_filter(
    db: &Arc<DB>,
    tenants: impl Iterator<Item = MunicipalityCode>,
) -> Result<id_filter::IdFilter, StoreError> {
    let ids_cf = cf(db, keys::CF_EVENT_IDS)?;
    let mut newest = rustc_hash::FxHashMap::default();
    for tenant in tenants {
        if let Some(key) = last_key_of(db, ids_cf, tenant)? {
            let id = keys::event_id_of(&key).ok_or_else(|| StoreError::Corrupt {
                key: format!("event_ids/{key:02x?}"),
                reason: "not tenant + event id".into(),
            })?;
            newest.insert(tenant, id.as_uuid().as_u128());
        }
    }
    let earlier = Arc::new(std::sync::OnceLock::new());
    let (db, cell) = (db.clone(), earlier.clone());
    let spawned = std::thread::Builder::new()
        .name("renkei-id-filter".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            match read_id_filter(&db) {
                Ok(filter) => {
                    let _ = cell.set(filter);
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        "id filter of the stored events built"
                    );
                }
                // Without it every id at or below its tenant's newest is looked up: slower
                // appends of such ids, never a wrong answer.
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the id filter; ids are looked up")
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the id filter thread; ids are looked up");
    }
    Ok(id_filter::IdFilter::opened(newest, earlier))
}

/// Reads every stored event id into a filter.
fn read_id_filter(db: &DB) -> Result<id_filter::IdFilter, StoreError> {
    let mut filter = id_filter::IdFilter::new();
    let mut it = db.raw_iterator_cf(cf(db, keys::CF_EVENT_IDS)?);
    it.seek_to_first();
    while let Some(key) = it.key() {
        let (Some(tenant), Some(id)) = (keys::tenant_of(key), keys::event_id_of(key)) else {
            return Err(StoreError::Corrupt {
                key: format!("event_ids/{key:02x?}"),
                reason: "not tenant + event id".into(),
            });
        };
        filter.insert(tenant, id);
        it.next();
    }
    it.status()?;
    Ok(filter)
}

/// Finds a tenant's last global position by seeking to the end of its key range.
fn last_position(db: &DB, tenant: MunicipalityCode) -> Result<u64, StoreError> {
    Ok(last_key_of(db, cf(db, keys::CF_EVENTS)?, tenant)?
        .as_deref()
        .and_then(keys::position_of_event_key)
        .map_or(0, GlobalPosition::get))
}

/// Returns the last key of a tenant's range in a column family (keys begin with the tenant).
fn last_key_of(
    db: &DB,
    family: &rocksdb::ColumnFamily,
    tenant: MunicipalityCode,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(keys::tenant(tenant).to_vec());
    opts.set_iterate_upper_bound(keys::tenant_end(tenant).to_vec());
    let mut it = db.raw_iterator_cf_opt(family, opts);
    it.seek_to_last();
    it.status()?;
    Ok(it.key().map(<[u8]>::to_vec))
}

/// An append queued by [`EventStore::submit`], not yet answered.
#[must_use = "an append is acknowledged only once its outcome is awaited"]
pub struct PendingAppend {
    rx: oneshot::Receiver<Result<AppendOutcome, StoreError>>,
    started: std::time::Instant,
}

impl PendingAppend {
    /// Waits until the append is written (synced) or refused.
    pub async fn outcome(self) -> Result<AppendOutcome, StoreError> {
        let outcome = self.rx.await.map_err(|_| StoreError::Closed)??;
        metrics::histogram!("renkei_store_append_seconds")
            .record(self.started.elapsed().as_secs_f64());
        Ok(outcome)
    }
}
